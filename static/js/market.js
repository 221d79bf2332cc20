// The market pages (trading/views.py): live refresh, the price chart, the order ticket.
//
// Live: the element with data-market-ws subscribes to the market stream
// (trading/consumers.py, e.g. /ws/market/?slot=..&zone=..). For each block with
// an order placed, a trade or a cancel in that filter it fires the htmx event
// named by data-market-event once on <body>; the page's parts re-fetch themselves
// (hx-trigger="market-changed from:body"). After a reconnect it fires once too,
// so nothing missed while the socket was down stays stale.
// Chart: #price-chart draws the JSON in #price-points, and redraws when htmx
// swaps a fresh #price-points in. Ticket: shows the source field of the chosen side.
(function () {
  "use strict";

  const MARKET_EVENTS = { order_placed: true, order_cancelled: true, trade: true, call_cleared: true };
  const TOKEN = 1000000;

  function marketStream(root) {
    const eventName = root.dataset.marketEvent || "market-changed";
    const badge = document.getElementById("market-live");
    let lastHeight = null;

    function setLive(on) {
      root.dataset.marketLive = on ? "on" : "off";
      if (badge) {
        badge.classList.toggle("on", on);
        badge.title = on ? gettext("Live market stream: connected") : gettext("Live market stream: reconnecting");
        badge.setAttribute("aria-label", badge.title);
      }
    }

    function refresh(height) {
      if (window.htmx) window.htmx.trigger(document.body, eventName, { height: height });
    }

    setLive(false);
    window.GTX.live.connect(root.dataset.marketWs, {
      onOpen: function (reconnected) {
        setLive(true);
        if (reconnected) refresh(null);
      },
      onMessage: function (msg) {
        if (!MARKET_EVENTS[msg.type] || msg.height === lastHeight) return;
        // Every event of a block arrives together after its commit: one refresh per block.
        lastHeight = msg.height;
        refresh(msg.height);
      },
      onClose: function () { setLive(false); },
    });
  }

  // --- price chart ------------------------------------------------------------------
  let chart = null;

  function pricePoints() {
    const el = document.getElementById("price-points");
    if (!el) return [];
    try { return JSON.parse(el.textContent); } catch (e) { return []; }
  }

  function timeLabel(ms) {
    return window.GTX.time(ms);
  }

  function drawChart() {
    const canvas = document.getElementById("price-chart");
    if (!canvas || !window.Chart) return;
    const points = pricePoints();
    canvas.parentElement.classList.toggle("is-empty", points.length === 0);
    const labels = points.map(function (p) { return timeLabel(p.t); });
    // Display only: the figures themselves stay integers on the server.
    const prices = points.map(function (p) { return p.price / TOKEN; });
    const kwh = points.map(function (p) { return p.wh / 1000; });
    if (chart) {
      chart.data.labels = labels;
      chart.data.datasets[0].data = prices;
      chart.data.datasets[1].data = kwh;
      chart.update("none");
      return;
    }
    chart = new window.Chart(canvas, {
      data: {
        labels: labels,
        datasets: [
          {
            type: "line", label: gettext("Price (GTX/kWh)"), data: prices, yAxisID: "price",
            borderColor: "#13806c", backgroundColor: "rgba(19, 128, 108, .12)", fill: true,
            stepped: "before", pointRadius: 3, pointBackgroundColor: "#13806c", borderWidth: 2,
          },
          {
            type: "bar", label: gettext("Energy (kWh)"), data: kwh, yAxisID: "energy",
            backgroundColor: "rgba(245, 165, 36, .45)", borderRadius: 3, maxBarThickness: 18,
          },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { labels: { boxWidth: 12, font: { size: 11 } } } },
        scales: {
          x: { ticks: { maxTicksLimit: 6, font: { size: 10 } }, grid: { display: false } },
          price: { position: "left", ticks: { font: { size: 10 } }, grace: "10%" },
          energy: { position: "right", beginAtZero: true, grid: { display: false }, ticks: { font: { size: 10 } } },
        },
      },
    });
  }

  // --- depth chart: kWh bid at or above, and offered at or below, each price -----------
  let depthChart = null;

  function bookDepth() {
    const el = document.getElementById("book-depth");
    if (!el) return { bids: [], asks: [] };
    try { return JSON.parse(el.textContent); } catch (e) { return { bids: [], asks: [] }; }
  }

  function drawDepth() {
    const canvas = document.getElementById("depth-chart");
    if (!canvas || !window.Chart) return;
    const depth = bookDepth();
    canvas.parentElement.classList.toggle("is-empty", depth.bids.length + depth.asks.length === 0);
    const points = function (side) {
      return side.map(function (p) { return { x: p[0] / TOKEN, y: p[1] / 1000 }; });
    };
    // Bids step down to the left of the best bid, asks up to the right of the best ask.
    const bids = points(depth.bids).reverse();
    const asks = points(depth.asks);
    if (depthChart) {
      depthChart.data.datasets[0].data = bids;
      depthChart.data.datasets[1].data = asks;
      depthChart.update("none");
      return;
    }
    depthChart = new window.Chart(canvas, {
      type: "line",
      data: {
        datasets: [
          { label: gettext("Bids (kWh)"), data: bids, stepped: "after", fill: true, borderColor: "#13806c",
            backgroundColor: "rgba(19, 128, 108, .15)", pointRadius: 2, borderWidth: 2 },
          { label: gettext("Asks (kWh)"), data: asks, stepped: "before", fill: true, borderColor: "#c2410c",
            backgroundColor: "rgba(194, 65, 12, .12)", pointRadius: 2, borderWidth: 2 },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false, parsing: false,
        plugins: { legend: { labels: { boxWidth: 12, font: { size: 11 } } } },
        scales: {
          x: { type: "linear", title: { display: true, text: "GTX/kWh", font: { size: 10 } }, ticks: { font: { size: 10 } } },
          y: { beginAtZero: true, ticks: { font: { size: 10 } } },
        },
      },
    });
  }

  // --- order ticket ----------------------------------------------------------------
  function showSide(form) {
    const checked = form.querySelector('input[name="order-side"]:checked') ||
      form.querySelector('input[name="order-side"][type="hidden"]');
    const side = checked ? checked.value : "";
    form.querySelectorAll("[data-side-only]").forEach(function (el) {
      el.hidden = side !== "" && el.dataset.sideOnly !== side;
    });
    form.querySelectorAll(".side-option").forEach(function (label) {
      label.classList.toggle("on", label.querySelector("input").checked);
    });
    const button = form.querySelector("button[type=submit]");
    if (button && button.dataset["label" + side.charAt(0).toUpperCase() + side.slice(1)]) {
      button.textContent = button.dataset["label" + side.charAt(0).toUpperCase() + side.slice(1)];
      button.classList.toggle("sell", side === "sell");
    }
  }

  document.addEventListener("change", function (event) {
    if (event.target.name === "order-side") showSide(event.target.form);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (target && target.id === "market-chart") drawChart();
    if (target && target.id === "market-book") drawDepth();
  });

  function setUp(content) {
    const form = content.id === "order-ticket" ? content : content.querySelector && content.querySelector("#order-ticket");
    if (form) showSide(form);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = document.querySelector("[data-market-ws]");
    if (root && window.GTX.live.supported) marketStream(root);
    setUp(document);
    drawChart();
    drawDepth();
    if (window.htmx) window.htmx.onLoad(setUp);
  });
})();
