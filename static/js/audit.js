// The audit pages (audit/templates/audit/): the section tabs, the reports' charts and an account's balances.
// Figures arrive as integers (Wh, g, units of 10^-6 token) in json_script blocks and are
// only divided for display here.
(function () {
  "use strict";
  const TOKEN = 1000000;
  const COLORS = { green: "#13806c", amber: "rgba(245, 165, 36, .75)", blue: "rgba(52, 110, 200, .7)", ink: "#3b3b3b" };

  function data(id) {
    const el = document.getElementById(id);
    if (!el) return null;
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function label(ms) {
    return window.GTX.time(ms, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  const common = {
    responsive: true, maintainAspectRatio: false, animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { labels: { boxWidth: 12, font: { size: 11 } } } },
  };

  function reports() {
    const report = data("report-data");
    if (!report || !window.Chart) return;
    const periods = report.report;
    const labels = periods.map(function (r) { return label(r.period_ms); });
    const flow = document.getElementById("flow-chart");
    if (flow) {
      new window.Chart(flow, {
        type: "bar",
        data: {
          labels: labels,
          datasets: [
            { label: gettext("Within zones (kWh)"), data: periods.map(function (r) { return r.within_zone_wh / 1000; }), backgroundColor: COLORS.green, stack: "e" },
            { label: gettext("Between zones (kWh)"), data: periods.map(function (r) { return r.between_zones_wh / 1000; }), backgroundColor: COLORS.amber, stack: "e" },
          ],
        },
        options: Object.assign({}, common, { scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true } } }),
      });
    }
    const green = document.getElementById("green-chart");
    if (green) {
      new window.Chart(green, {
        data: {
          labels: labels,
          datasets: [
            { type: "line", label: gettext("Renewable share (%)"), data: periods.map(function (r) { return r.renewable_permille / 10; }), borderColor: COLORS.green, yAxisID: "share", pointRadius: 3, clip: 8 },
            { type: "bar", label: gettext("Carbon credits (kg CO₂)"), data: periods.map(function (r) { return r.carbon_credits_g / 1000; }), backgroundColor: COLORS.blue, yAxisID: "carbon", stack: "c" },
            { type: "bar", label: gettext("Awaiting settlement (kg CO₂)"), data: periods.map(function (r) { return r.pending_carbon_g / 1000; }), backgroundColor: "rgba(52, 110, 200, .25)", yAxisID: "carbon", stack: "c" },
          ],
        },
        options: Object.assign({}, common, {
          scales: {
            x: { stacked: true, grid: { display: false } },
            share: { position: "left", min: 0, max: 100 },
            carbon: { position: "right", beginAtZero: true, stacked: true, grid: { display: false } },
          },
        }),
      });
    }
  }

  function balances() {
    const points = data("balance-points");
    const canvas = document.getElementById("balance-chart");
    if (!points || !canvas || !window.Chart) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: points.map(function (p) { return "#" + p.height; }),
        datasets: [
          { label: gettext("Balance (GTX)"), data: points.map(function (p) { return p.balance / TOKEN; }), borderColor: COLORS.green, stepped: "before", yAxisID: "tokens", pointRadius: 2 },
          { label: gettext("Escrowed (GTX)"), data: points.map(function (p) { return p.escrow_tokens / TOKEN; }), borderColor: COLORS.ink, borderDash: [4, 3], stepped: "before", yAxisID: "tokens", pointRadius: 0 },
          { label: gettext("Energy (kWh)"), data: points.map(function (p) { return p.energy_wh / 1000; }), borderColor: COLORS.amber, stepped: "before", yAxisID: "energy", pointRadius: 2 },
        ],
      },
      options: Object.assign({}, common, {
        scales: {
          x: { ticks: { maxTicksLimit: 8 }, grid: { display: false } },
          tokens: { position: "left" },
          energy: { position: "right", beginAtZero: true, grid: { display: false } },
        },
      }),
    });
  }

  // On a narrow screen the section tabs scroll sideways: keep the current one in view.
  function currentTabInView() {
    const nav = document.querySelector(".audit-nav");
    const current = nav && nav.querySelector('[aria-current="page"]');
    if (current) nav.scrollLeft = current.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }

  document.addEventListener("DOMContentLoaded", function () {
    currentTabInView();
    reports();
    balances();
  });
})();
