// The grid pages (grid/views.py): live figures and charts from ws/grid/ (grid/consumers.py).
//
// Each grid_report updates the regions' figures in place, the national stats,
// the path flows, and pushes a point to the frequency chart (kept to the last
// two minutes). A limit, an alarm or a cross-zone trade fires the htmx event
// named by data-grid-event on <body> (at most once a second): the paths part
// re-fetches itself. The socket reconnects with backoff; each open refreshes once.
(function () {
  "use strict";

  const root = document.querySelector("[data-grid-ws]");
  if (!root) return;
  const onlyRegion = root.dataset.gridRegion || null;
  const eventName = root.dataset.gridEvent || "grid-paths-changed";
  const bandLow = parseInt(root.dataset.bandLow, 10) || 49500;
  const bandHigh = parseInt(root.dataset.bandHigh, 10) || 50500;
  const MAX_POINTS = 120;
  const COLORS = ["#13806c", "#f5a524", "#3b6fd6", "#c2410c", "#7c3aed", "#0891b2", "#be185d"];

  function hz(mhz) { return (mhz / 1000).toFixed(3); }
  function mw(kw) { return Math.round(kw / 1000).toLocaleString("en-US"); }
  function pct(ppm) { return (ppm / 10000).toFixed(1); }
  function clock(ms) { return window.GTX.time(ms); }
  function readJSON(id) {
    const el = document.getElementById(id);
    try { return el ? JSON.parse(el.textContent) : null; } catch (e) { return null; }
  }

  const FORMAT = {
    frequency_mhz: hz, voltage_permille: function (v) { return (v / 10).toFixed(1); },
    load_kw: mw, generation_kw: mw, balance_kw: mw, renewable_ppm: pct,
    carbon_g_per_kwh: function (v) { return String(v); },
  };

  // --- charts --------------------------------------------------------------------
  let freqChart = null, mixChart = null, historyChart = null;
  const latest = {};  // region id -> its latest figures

  function bandDataset(value, label, n) {
    return { label: label, data: new Array(n).fill(value / 1000), borderColor: "rgba(192, 57, 43, .55)",
             borderDash: [6, 4], borderWidth: 1, pointRadius: 0, fill: false };
  }

  function lineOptions(yTitle) {
    return {
      responsive: true, maintainAspectRatio: false, animation: false, normalized: true,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 },
        filter: function (item) { return !/band/.test(item.text); } } } },
      scales: {
        x: { ticks: { maxTicksLimit: 6, font: { size: 10 } }, grid: { display: false } },
        y: { title: { display: !!yTitle, text: yTitle }, ticks: { font: { size: 10 } } },
      },
    };
  }

  function initFrequencyChart() {
    const canvas = document.getElementById("frequency-chart") || document.getElementById("region-frequency-chart");
    if (!canvas || !window.Chart) return;
    const labels = [], datasets = [];
    if (canvas.id === "frequency-chart") {
      const series = readJSON("frequency-series") || { times: [], regions: {} };
      series.times.forEach(function (t) { labels.push(clock(t)); });
      Object.keys(series.regions).sort().forEach(function (region, i) {
        datasets.push({ label: region, data: series.regions[region].map(function (v) { return v === null ? null : v / 1000; }),
                        borderColor: COLORS[i % COLORS.length], borderWidth: 1.5, pointRadius: 0, spanGaps: true });
      });
    } else {
      const points = readJSON("region-seconds") || [];
      points.forEach(function (p) { labels.push(clock(p.bucket_ms)); });
      datasets.push({ label: onlyRegion, data: points.map(function (p) { return p.frequency_mhz / 1000; }),
                      borderColor: COLORS[0], borderWidth: 2, pointRadius: 0 });
    }
    datasets.push(bandDataset(bandLow, "band low", labels.length), bandDataset(bandHigh, "band high", labels.length));
    const options = lineOptions("Hz");
    options.scales.y.suggestedMin = 49.9;
    options.scales.y.suggestedMax = 50.1;
    freqChart = new window.Chart(canvas, { type: "line", data: { labels: labels, datasets: datasets }, options: options });
    showBandWhenNear();
    freqChart.update("none");
  }

  // The band's lines (49.5 and 50.5 Hz) would flatten a calm trace: they show when the
  // frequency comes within a quarter of the way to them, or beyond.
  function showBandWhenNear() {
    let lo = Infinity, hi = -Infinity;
    freqChart.data.datasets.forEach(function (ds) {
      if (/^band /.test(ds.label)) return;
      ds.data.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    });
    const near = lo < (bandLow + 0.75 * (50000 - bandLow)) / 1000 || hi > (bandHigh - 0.75 * (bandHigh - 50000)) / 1000;
    freqChart.data.datasets.forEach(function (ds) { if (/^band /.test(ds.label)) ds.hidden = !near; });
  }

  function pushFrequency(msg) {
    if (!freqChart) return;
    const data = freqChart.data;
    data.labels.push(clock(msg.time_ms));
    const byRegion = {};
    msg.regions.forEach(function (r) { byRegion[r.region] = r.frequency_mhz / 1000; });
    let known = {};
    data.datasets.forEach(function (ds) {
      if (/^band /.test(ds.label)) {
        ds.data.push(ds.data.length ? ds.data[0] : (ds.label === "band low" ? bandLow : bandHigh) / 1000);
      } else {
        known[ds.label] = true;
        ds.data.push(byRegion[ds.label] === undefined ? null : byRegion[ds.label]);
      }
    });
    Object.keys(byRegion).forEach(function (region) {
      if (known[region] || (onlyRegion && region !== onlyRegion)) return;
      const filler = new Array(data.labels.length - 1).fill(null);
      filler.push(byRegion[region]);
      data.datasets.splice(data.datasets.length - 2, 0, { label: region, data: filler, spanGaps: true,
        borderColor: COLORS[(data.datasets.length - 2) % COLORS.length], borderWidth: 1.5, pointRadius: 0 });
    });
    while (data.labels.length > MAX_POINTS) {
      data.labels.shift();
      data.datasets.forEach(function (ds) { ds.data.shift(); });
    }
    showBandWhenNear();
    freqChart.update("none");
  }

  function initMixChart() {
    const canvas = document.getElementById("mix-chart");
    if (!canvas || !window.Chart) return;
    mixChart = new window.Chart(canvas, {
      data: { labels: [], datasets: [
        { type: "bar", label: gettext("Renewable share (%)"), data: [], yAxisID: "share",
          backgroundColor: "rgba(19, 128, 108, .55)", borderRadius: 3, maxBarThickness: 38 },
        { type: "line", label: gettext("Carbon intensity (g CO₂/kWh)"), data: [], yAxisID: "carbon",
          borderColor: "#c2410c", backgroundColor: "#c2410c", pointRadius: 4, borderWidth: 2, showLine: false },
      ] },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } } },
        scales: {
          x: { ticks: { font: { size: 10 } }, grid: { display: false } },
          share: { position: "left", beginAtZero: true, suggestedMax: 50, ticks: { font: { size: 10 } } },
          carbon: { position: "right", beginAtZero: true, suggestedMax: 600, grid: { display: false }, ticks: { font: { size: 10 } } },
        },
      },
    });
    drawMix();
  }

  function drawMix() {
    if (!mixChart) return;
    const regions = Object.keys(latest).sort();
    mixChart.data.labels = regions;
    mixChart.data.datasets[0].data = regions.map(function (r) { return latest[r].renewable_ppm / 10000; });
    mixChart.data.datasets[1].data = regions.map(function (r) { return latest[r].carbon_g_per_kwh; });
    mixChart.update("none");
  }

  function initHistoryChart() {
    const canvas = document.getElementById("region-history-chart");
    if (!canvas || !window.Chart) return;
    const points = readJSON("region-minutes") || [];
    const radius = points.length < 3 ? 3 : 0;  // a lone minute still shows
    const options = lineOptions("MW");
    options.scales.share = { position: "right", beginAtZero: true, suggestedMax: 100, grid: { display: false },
                             title: { display: true, text: "%" }, ticks: { font: { size: 10 } } };
    historyChart = new window.Chart(canvas, {
      type: "line",
      data: {
        labels: points.map(function (p) { return window.GTX.time(p.bucket_ms, { hour: "2-digit", minute: "2-digit" }); }),
        datasets: [
          { label: gettext("Load"), data: points.map(function (p) { return p.load_kw / 1000; }), borderColor: "#3b6fd6", borderWidth: 2, pointRadius: radius },
          { label: gettext("Generation"), data: points.map(function (p) { return p.generation_kw / 1000; }), borderColor: "#13806c", borderWidth: 2, pointRadius: radius },
          { label: gettext("Renewable %"), data: points.map(function (p) { return p.renewable_ppm / 10000; }), yAxisID: "share",
            borderColor: "#f5a524", backgroundColor: "rgba(245, 165, 36, .15)", fill: true, borderWidth: 1.5, pointRadius: radius },
        ],
      },
      options: options,
    });
  }

  // The region page's per-minute chart: a report of a new minute adds a point, one of
  // the same minute moves the last point (the minute's sample keeps its last report).
  let lastMinute = null;
  function pushMinute(msg) {
    if (!historyChart || !onlyRegion) return;
    const r = msg.regions.find(function (x) { return x.region === onlyRegion; });
    if (!r) return;
    const minute = Math.floor(msg.time_ms / 60000);
    const data = historyChart.data;
    const values = [r.load_kw / 1000, r.generation_kw / 1000, r.renewable_ppm / 10000];
    if (lastMinute === null) {
      const points = readJSON("region-minutes") || [];
      lastMinute = points.length ? Math.floor(points[points.length - 1].bucket_ms / 60000) : -1;
    }
    if (minute !== lastMinute) {
      data.labels.push(window.GTX.time(minute * 60000, { hour: "2-digit", minute: "2-digit" }));
      data.datasets.forEach(function (ds, i) { ds.data.push(values[i]); });
      lastMinute = minute;
    } else {
      data.datasets.forEach(function (ds, i) { ds.data[ds.data.length - 1] = values[i]; });
    }
    historyChart.update("none");
  }

  // --- figures ---------------------------------------------------------------------
  function setFigures(scope, figures) {
    scope.querySelectorAll("[data-figure]").forEach(function (el) {
      const name = el.dataset.figure;
      if (figures[name] === undefined) return;
      el.textContent = FORMAT[name] ? FORMAT[name](figures[name]) : String(figures[name]);
      if (name === "frequency_mhz") {
        el.classList.toggle("off-band", figures[name] < bandLow || figures[name] > bandHigh);
      }
    });
  }

  function setStats(timeMs) {
    const regions = Object.keys(latest);
    if (!regions.length) return;
    let load = 0, gen = 0, renewable = 0, carbon = 0, freq = 0;
    regions.forEach(function (r) {
      const f = latest[r];
      load += f.load_kw; gen += f.generation_kw; freq += f.frequency_mhz;
      renewable += f.generation_kw * f.renewable_ppm / 1e6;
      carbon += f.load_kw * f.carbon_g_per_kwh;
    });
    const set = function (name, text) {
      document.querySelectorAll('[data-grid-stat="' + name + '"]').forEach(function (el) { el.textContent = text; });
    };
    set("frequency", hz(Math.round(freq / regions.length)));
    set("load", mw(load));
    set("generation", mw(gen));
    set("renewable", gen ? (100 * renewable / gen).toFixed(1) : "—");
    set("carbon", load ? String(Math.round(carbon / load)) : "—");
    if (timeMs) set("time", clock(timeMs));
  }

  function onReport(msg) {
    msg.regions.forEach(function (r) {
      if (onlyRegion && r.region !== onlyRegion) return;
      const figures = Object.assign({}, r, { balance_kw: r.generation_kw - r.load_kw });
      latest[r.region] = figures;
      document.querySelectorAll('[data-region="' + r.region + '"]').forEach(function (scope) { setFigures(scope, figures); });
    });
    (msg.paths || []).forEach(function (p) {
      const row = document.querySelector('tr[data-path="' + p.path_id + '"]');
      if (!row) return;
      // Reported from the path's first zone (sorted); the table shows it from its "from" zone.
      const flow = row.dataset.from === p.path_id.split(":")[0] ? p.flow_kw : -p.flow_kw;
      const cell = row.querySelector("[data-path-flow]");
      if (cell) cell.textContent = mw(flow);
      const bar = row.querySelector("[data-path-bar]");
      const nominal = parseInt(row.dataset.nominalMw, 10);
      if (bar && nominal) {
        const share = Math.min(100, Math.abs(flow) / (nominal * 10));
        bar.style.width = share + "%";
        bar.classList.toggle("bar-hot", share > 90);
      }
    });
    (msg.paths || []).forEach(function (p) {
      const line = document.querySelector('line[data-map-path="' + p.path_id + '"]');
      const nominal = line && parseInt(line.dataset.nominalMw, 10);
      if (!nominal || line.classList.contains("map-line-blocked")) return;
      const share = Math.min(1, Math.abs(p.flow_kw) / (nominal * 1000));
      line.setAttribute("stroke-width", (2 + 6 * share).toFixed(1));
      line.classList.toggle("map-line-hot", share > 0.9);
      line.classList.toggle("map-line-warm", share > 0.7 && share <= 0.9);
    });
    pushMinute(msg);
    setStats(msg.time_ms);
    pushFrequency(msg);
    drawMix();
  }

  // --- stream ----------------------------------------------------------------------
  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      if (window.htmx) window.htmx.trigger(document.body, eventName, {});
    }, 1000);
  }

  function connect() {
    const badge = document.getElementById("grid-live");
    function setLive(on) {
      root.dataset.gridLive = on ? "on" : "off";
      if (!badge) return;
      badge.classList.toggle("on", on);
      badge.title = on ? gettext("Live grid stream: connected") : gettext("Live grid stream: reconnecting");
      badge.setAttribute("aria-label", badge.title);
    }
    setLive(false);
    window.GTX.live.connect(root.dataset.gridWs, {
      onOpen: function () {
        setLive(true);
        // Also on the first open: a block committed between the page's render and now
        // (a limit just sent from this page) is not missed.
        refreshSoon();
      },
      onMessage: function (msg) {
        if (msg.type === "grid_report") onReport(msg);
        else if (msg.type === "grid_path_limit" || msg.type === "grid_alarm" || msg.type === "paths_changed") refreshSoon();
      },
      onClose: function () { setLive(false); },
    });
  }

  // The map's lines take the blocked state (congested, paused) of the paths part it shows.
  function syncMapBlocked() {
    document.querySelectorAll("tr[data-path][data-blocked]").forEach(function (row) {
      const line = document.querySelector('line[data-map-path="' + row.dataset.path + '"]');
      if (line) line.classList.toggle("map-line-blocked", row.dataset.blocked === "1");
    });
  }

  function start() {
    // htmx:load fires on the swapped-in part (an outerHTML swap replaces the old target).
    document.body.addEventListener("htmx:load", syncMapBlocked);
    let newest = null;
    (readJSON("region-figures") || []).forEach(function (f) {
      latest[f.region] = f;
      newest = Math.max(newest || 0, f.time_ms);
    });
    setStats(newest);
    initFrequencyChart();
    initMixChart();
    initHistoryChart();
    connect();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
