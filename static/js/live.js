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

  // Times in the site's zone (TIME_ZONE, on <body data-time-zone>), as the server renders
  // them, whatever the browser's own zone: one rule for every time on a page.
  function time(ms, options) {
    const zone = document.body.dataset.timeZone || undefined;
    const shown = options || { hour: "2-digit", minute: "2-digit", second: "2-digit" };
    return new Date(ms).toLocaleString("en-GB", Object.assign({ timeZone: zone }, shown));
  }

  window.GTX = window.GTX || {};
  window.GTX.live = { connect: connect, supported: "WebSocket" in window };
  window.GTX.time = time;
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
      el.textContent = window.GTX.time(msg.timestamp_ms);
    });
    const body = document.querySelector("tbody[data-live-blocks]");
    if (body) {
      const newest = newestShown(body);
      addBlockRow(body, msg);
      // A block committed while the socket was not yet (or no longer) open never came as a
      // message: a jump in height is filled from the API, so the list has no hole.
      if (msg.height > newest + 1) fillGaps(body);
    }
    fire("chain-block", { height: msg.height, events: msg.events });
  }

  function newestShown(body) {
    let newest = 0;
    body.querySelectorAll("tr[data-height]").forEach(function (row) {
      newest = Math.max(newest, parseInt(row.dataset.height, 10) || 0);
    });
    return newest;
  }

  // Insert a block's row where its height belongs (newest first), once, and keep max rows.
  function addBlockRow(body, block) {
    if (body.querySelector('[data-height="' + block.height + '"]')) return;
    body.querySelectorAll("tr.empty-row").forEach(function (row) { row.remove(); });
    const older = Array.prototype.find.call(body.querySelectorAll("tr[data-height]"), function (row) {
      return parseInt(row.dataset.height, 10) < block.height;
    });
    const max = parseInt(body.dataset.maxRows, 10) || 25;
    if (!older && body.rows.length >= max) return; // older than everything a full list shows
    body.insertBefore(blockRow(body, block), older || null);
    while (body.rows.length > max) body.deleteRow(-1);
  }

  // The newest blocks from the REST API, merged in by height: what the page missed.
  function fillGaps(body) {
    const max = parseInt(body.dataset.maxRows, 10) || 25;
    fetch("/api/v1/blocks/?limit=" + max, { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (page) { (page.results || []).forEach(function (block) { addBlockRow(body, block); }); })
      .catch(function () { /* the next block's message tries again */ });
  }

  function blockRow(body, msg) {
    const href = body.dataset.blockUrl.replace(/\/0\/$/, "/" + msg.height + "/");
    const row = document.createElement("tr");
    row.className = "new-row";
    row.dataset.height = msg.height;
    const cells = [
      link(href, "#" + msg.height),
      timeCell(msg.timestamp_ms),
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

  function timeCell(ms) {
    const span = document.createElement("span");
    span.appendChild(text(window.GTX.time(ms), "time"));
    const day = text(" " + window.GTX.time(ms, { day: "numeric", month: "short" }), "small");
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
      setState("on", gettext("Live updates: connected"));
      // Blocks committed between the page's render (or the last socket) and now.
      const body = document.querySelector("tbody[data-live-blocks]");
      if (body) fillGaps(body);
      if (reconnected) {
        fire("chain-block", { resync: true });
        fire("wallet-changed", { resync: true });
      }
    },
    onMessage: function (msg) {
      if (msg.type === "block") onBlock(msg);
      else if (msg.type === "wallet") fire("wallet-changed", { height: msg.height });
    },
    onClose: function () { setState("off", gettext("Live updates: reconnecting")); },
  });
})();
