// The app shell: the phone header's menu button, and the service worker named by
// <body data-service-worker> (the installable web app).
(function () {
  "use strict";
  const toggle = document.querySelector(".nav-toggle");
  const menu = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
  if (menu) {
    toggle.addEventListener("click", function () {
      const open = menu.classList.toggle("open");
      toggle.setAttribute("aria-expanded", String(open));
    });
  }
  const url = document.body && document.body.dataset.serviceWorker;
  if (!url || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(url, { scope: "/" }).catch(function (error) {
    console.warn("GridTokenX: no offline shell:", error);
  });
})();
