// Live updates from the chain's WebSocket (chain/consumers.py).
//
// "block"  -> htmx event "chain-block" on <body>, new rows in the explorer's
//             latest-blocks table, and the height / transaction counters.
// "wallet" -> htmx event "wallet-changed": the wallet page's partials re-fetch
//             themselves (hx-trigger="wallet-changed from:body").
// The socket reconnects with exponential backoff (1 s .. 30 s) after a drop,
// then fires both events once: blocks may have committed while it was away.
(function () {
  "use strict";

  const path = document.body.dataset.wsPath;
  if (!path || !("WebSocket" in window)) return;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  const dot = document.getElementById("live-dot");
  let delay = 1000;
  let pingTimer = null;
  let connectedBefore = false;

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

  function connect() {
    const socket = new WebSocket(url);
    socket.addEventListener("open", function () {
      delay = 1000;
      setState("on", "Live updates: connected");
      if (connectedBefore) {
        fire("chain-block", { resync: true });
        fire("wallet-changed", { resync: true });
      }
      connectedBefore = true;
      // Keeps idle proxies from closing the socket.
      pingTimer = setInterval(function () { socket.send(JSON.stringify({ type: "ping" })); }, 25000);
    });
    socket.addEventListener("message", function (event) {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      if (msg.type === "block") onBlock(msg);
      else if (msg.type === "wallet") fire("wallet-changed", { height: msg.height });
    });
    socket.addEventListener("close", function () {
      clearInterval(pingTimer);
      setState("off", "Live updates: reconnecting");
      setTimeout(connect, delay + Math.random() * 250);
      delay = Math.min(delay * 2, 30000);
    });
  }

  connect();
})();
