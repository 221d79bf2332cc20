{% load static %}// GridTokenX's service worker: the site opens with its shell when the network is gone.
// Pages always come from the network (balances and the book must never be stale); only when
// that fails does a navigation get the cached offline page. Static files are cached as fetched.
const SHELL = "gtx-shell-{{ shell_version }}";
const OFFLINE_URL = "{% url 'app-offline' %}";
const PRECACHE = [
  OFFLINE_URL,
  "{% static 'vendor/pico/pico.jade.min.css' %}",
  "{% static 'css/site.css' %}",
  "{% static 'icons/gridtokenx.svg' %}",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== SHELL).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  if (new URL(request.url).pathname.startsWith("{% get_static_prefix %}")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(SHELL).then((cache) => cache.put(request, copy));
        }
        return response;
      })),
    );
  }
});
