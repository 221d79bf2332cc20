// Governance pages: refresh a proposal's tally and votes when a block carries its events.
//
// live.js fires "chain-block" on <body> for every block, with the block's ledger
// events in detail.events (none after a reconnect: then refresh anyway). Elements
// with data-proposal-id listen for "governance-changed" (hx-trigger) and get it
// when an event names their proposal; data-proposal-id="*" means any proposal.
(function () {
  "use strict";

  document.body.addEventListener("chain-block", function (event) {
    const events = event.detail && event.detail.events;
    document.querySelectorAll("[data-proposal-id]").forEach(function (el) {
      const id = el.dataset.proposalId;
      const hit = !events || events.some(function (e) {
        return typeof e.type === "string" && e.type.indexOf("governance_") === 0 && (id === "*" || e.proposal_id === id);
      });
      if (hit && window.htmx) window.htmx.trigger(el, "governance-changed");
    });
  });

  // The create form shows only the fields of the chosen action.
  function showActionFields(form) {
    const select = form.querySelector("[data-action-select]");
    if (!select) return;
    form.querySelectorAll("[data-action-fields]").forEach(function (group) {
      group.hidden = group.dataset.actionFields.split(" ").indexOf(select.value) < 0;
    });
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-action-select]")) showActionFields(event.target.form);
  });
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("form[data-proposal-form]").forEach(showActionFields);
  });
  document.querySelectorAll("form[data-proposal-form]").forEach(showActionFields);
})();
