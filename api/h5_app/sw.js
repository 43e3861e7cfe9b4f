// 掌办's service worker: the app shell (every built file) is cached at install, so the app opens and
// reloads with no network. Pages are network-first (a new release shows when online), built files
// cache-first (their names carry their hash). The API (/v1/...) is never cached here: the SDK keeps
// its own offline copy in IndexedDB.
const VERSION = "bcb5374f1e1cb763";
const FILES = ["./","assets/index-CQlqVpQk.css","assets/index-Q7z9e84k.js","assets/jsQR-bcf0Kz4e.js","icon-192.png","icon-512.png","icon.svg","manifest.webmanifest"];
const CACHE = `zhangban-app-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("zhangban-app-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || !url.pathname.startsWith("/app/")) return;
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() => caches.open(CACHE).then((cache) => cache.match("./"))),
    );
    return;
  }
  event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
});
