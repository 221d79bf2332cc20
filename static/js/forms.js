// Small behaviours for forms and pages: copy buttons, confirming a grave action, colouring a field
// after htmx swapped in its server-side check (chain/views/field_checks.py).
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const value = source.textContent.trim();
    const done = function () {
      const label = button.textContent;
      button.textContent = gettext("Copied");
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(done);
    } else {
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
      done();
    }
  });

  // A form with data-confirm (a validator's deactivation) asks before it is sent.
  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // A 429 from a form (chain.services.rate_limits) carries the form with the reason in
  // words; htmx leaves error statuses unswapped unless told.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const slot = event.detail.target;
    if (!slot || !slot.id || !slot.id.startsWith("err-")) return;
    const fresh = document.getElementById(slot.id);
    const input = document.querySelector('[aria-describedby="' + slot.id + '"]');
    if (!fresh || !input) return;
    const valid = fresh.dataset.valid;
    if (valid === "") input.removeAttribute("aria-invalid");
    else input.setAttribute("aria-invalid", valid === "true" ? "false" : "true");
  });
})();
