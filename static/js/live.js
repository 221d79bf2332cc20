// Live updates from the chain's WebSocket (chain/consumers.py).
//
// "block"  -> htmx event "chain-block" on <body>, new rows in the explorer's
//             latest-blocks table, and the height / transaction counters.
// "wallet" -> htmx event "wallet-changed": the wallet page's partials re-fetch
//             themselves (hx-trigger="wallet-changed from:body").
// After a reconnect it fires both events once: blocks may have committed while it was away.
//
// GTX.live.connect(path, {onOpen, onMessage, onClose}) is the one WebSocket client loop
// of the front end (this stream, market.js and grid.js): it pings every 25 s, so idle
// proxies keep the socket open, and reconnects with exponential backoff (1 s .. 30 s,
// with jitter) after a drop. onOpen(reconnected) is told whether an earlier socket
// had opened; onMessage gets each frame parsed as JSON (frames that are not are skipped).
(function () {
  "use strict";

  const PING_MS = 25000;
  const FIRST_DELAY_MS = 1000;
  const MAX_DELAY_MS = 30000;

  function connect(path, handlers) {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    let delay = FIRST_DELAY_MS;
    let pingTimer = null;
    let openedBefore = false;

    function open() {
      const socket = new WebSocket(url);
      socket.addEventListener("open", function () {
        delay = FIRST_DELAY_MS;
        if (handlers.onOpen) handlers.onOpen(openedBefore);
        openedBefore = true;
        pingTimer = setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, PING_MS);
      });
      socket.addEventListener("message", function (event) {
        let msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (handlers.onMessage) handlers.onMessage(msg);
      });
      socket.addEventListener("close", function () {
        clearInterval(pingTimer);
        if (handlers.onClose) handlers.onClose();
        setTimeout(open, delay + Math.random() * 250);
        delay = Math.min(delay * 2, MAX_DELAY_MS);
      });
    }

    open();
  }

  window.GTX = window.GTX || {};
  window.GTX.live = { connect: connect, supported: "WebSocket" in window };
})();

(function () {
  "use strict";

  const path = document.body.dataset.wsPath;
  if (!path || !window.GTX.live.supported) return;
  const dot = document.getElementById("live-dot");

  function setState(state, title) {
    if (!dot) return;
    dot.classList.toggle("on", state === "on");
    dot.classList.toggle("off", state === "off");
    dot.title = title;
    dot.setAttribute("aria-label", title);
  }

  function fire(name, detail) {
    if (window.htmx) window.htmx.trigger(document.body, name, detail);
  }

  function addCount(el, by) {
    const now = parseInt(el.textContent.replace(/[^0-9]/g, ""), 10) || 0;
    el.textContent = (now + by).toLocaleString("en-US");
  }

  function onBlock(msg) {
    document.querySelectorAll('[data-stat="height"]').forEach(function (el) {
      el.textContent = msg.height.toLocaleString("en-US");
    });
    document.querySelectorAll('[data-stat="tx-count"]').forEach(function (el) { addCount(el, msg.tx_count); });
    document.querySelectorAll('[data-stat="last-block"]').forEach(function (el) {
      el.textContent = new Date(msg.timestamp_ms).toLocaleTimeString("en-GB");
    });
    const body = document.querySelector("tbody[data-live-blocks]");
    if (body && !body.querySelector('[data-height="' + msg.height + '"]')) {
      body.querySelectorAll("tr.empty-row").forEach(function (row) { row.remove(); });
      body.prepend(blockRow(body, msg));
      const max = parseInt(body.dataset.maxRows, 10) || 25;
      while (body.rows.length > max) body.deleteRow(-1);
    }
    fire("chain-block", { height: msg.height, events: msg.events });
  }

  function blockRow(body, msg) {
    const href = body.dataset.blockUrl.replace(/\/0\/$/, "/" + msg.height + "/");
    const when = new Date(msg.timestamp_ms);
    const row = document.createElement("tr");
    row.className = "new-row";
    row.dataset.height = msg.height;
    const cells = [
      link(href, "#" + msg.height),
      timeCell(when),
      text(String(msg.tx_count)),
      link(href, msg.hash.slice(0, 12) + "…", "mono", msg.hash),
    ];
    cells.forEach(function (content, i) {
      const td = document.createElement("td");
      if (i === 2) td.className = "num";
      td.appendChild(content);
      row.appendChild(td);
    });
    return row;
  }

  function link(href, label, cls, title) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (cls) a.className = cls;
    if (title) a.title = title;
    return a;
  }

  function timeCell(when) {
    const span = document.createElement("span");
    span.appendChild(text(when.toLocaleTimeString("en-GB"), "time"));
    const day = text(" " + when.toLocaleDateString("en-GB", { day: "numeric", month: "short" }), "small");
    day.className = "muted";
    span.appendChild(day);
    return span;
  }

  function text(value, tag) {
    const el = document.createElement(tag || "span");
    el.textContent = value;
    return el;
  }

  window.GTX.live.connect(path, {
    onOpen: function (reconnected) {
      setState("on", "Live updates: connected");
      if (reconnected) {
        fire("chain-block", { resync: true });
        fire("wallet-changed", { resync: true });
      }
    },
    onMessage: function (msg) {
      if (msg.type === "block") onBlock(msg);
      else if (msg.type === "wallet") fire("wallet-changed", { height: msg.height });
    },
    onClose: function () { setState("off", "Live updates: reconnecting"); },
  });
})();
