// The header's activity tray (#activity-tray, chain/activity/_tray.html) and its notifications.
//
// The tray re-fetches itself when live.js fires "wallet-changed" (a block touched the
// account, or a transaction of the person's was dropped) and when a form that signs
// (<form data-signs>, sent with htmx) has been answered, so "pending" shows at once. After each swap this
// compares the tray's hidden list with the one before: a transaction whose state changed
// (pending, included, failed, dropped) or a feed event not seen yet becomes a notification
// (#toasts), in the page, with no reload and no polling.
(function () {
  "use strict";

  const tray = document.getElementById("activity-tray");
  const toasts = document.getElementById("toasts");
  if (!tray || !toasts) return;
  const SHOW_MS = 12000;
  const MAX_SHOWN = 4;

  function snapshot() {
    const states = {};
    let lastEvent = 0;
    tray.querySelectorAll("[data-tx]").forEach(function (el) { states[el.dataset.tx] = el.dataset.txState; });
    tray.querySelectorAll("[data-event-id]").forEach(function (el) {
      lastEvent = Math.max(lastEvent, parseInt(el.dataset.eventId, 10) || 0);
    });
    return { states: states, lastEvent: lastEvent };
  }

  let known = snapshot();

  function toast(source) {
    const box = document.createElement("div");
    box.className = "toast toast-" + (source.dataset.tone || "info");
    if (source.dataset.tx) {
      // One notification per transaction: its newest state replaces the one before.
      toasts.querySelectorAll(".toast").forEach(function (old) {
        if (old.dataset.tx === source.dataset.tx) old.remove();
      });
      box.dataset.tx = source.dataset.tx;
      box.dataset.txState = source.dataset.txState;
    }
    if (source.dataset.eventId) box.dataset.eventId = source.dataset.eventId;
    const text = source.dataset.href ? document.createElement("a") : document.createElement("span");
    if (source.dataset.href) text.href = source.dataset.href;
    text.textContent = source.textContent.trim();
    box.appendChild(text);
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { box.remove(); });
    box.appendChild(close);
    toasts.prepend(box);
    while (toasts.children.length > MAX_SHOWN) toasts.lastElementChild.remove();
    setTimeout(function () { box.remove(); }, SHOW_MS);
  }

  tray.addEventListener("htmx:afterSwap", function (event) {
    if (event.target !== tray) return;
    const now = snapshot();
    // Oldest first, so the newest notification ends on top.
    Array.prototype.slice.call(tray.querySelectorAll("[data-tx]")).reverse().forEach(function (el) {
      if (known.states[el.dataset.tx] !== el.dataset.txState) toast(el);
    });
    Array.prototype.slice.call(tray.querySelectorAll("[data-event-id]")).reverse().forEach(function (el) {
      if ((parseInt(el.dataset.eventId, 10) || 0) > known.lastEvent) toast(el);
    });
    Object.assign(known.states, now.states);
    known.lastEvent = Math.max(known.lastEvent, now.lastEvent);
  });

  // A form that signs was answered: show its transaction as pending now, without waiting
  // for the block that includes it. (beforeSwap: the form may be swapped out, and events of
  // a detached element never reach <body>.) A refused form changes nothing in the tray.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    const form = (event.detail.requestConfig && event.detail.requestConfig.elt) || event.detail.elt;
    if (form && form.matches && form.matches("form[data-signs]")) {
      setTimeout(function () { window.htmx.trigger(tray, "tray-refresh"); }, 0);
    }
  });
})();
