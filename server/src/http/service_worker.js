// Palaver's service worker, served at /sw.js with this build's id in place of the marker
// below (`server/src/http/service_worker.rs`). A new build is a new script, so the browser
// installs it at the next visit.
//
// It never serves a stale app: pages and the site's files come from the network first; the
// cache is only the fallback when the network fails (offline, the last page seen and its
// files open, and the page reconnects once the network is back). Nothing else is touched:
// Socket.IO, /auth/, /api/, uploads, downloads and every other path go straight to the
// network, as if there were no worker.
const BUILD = "__PALAVER_BUILD__";
const CACHE = `palaver-${BUILD}`;
// The app's pages (navigations only), and the site's own files.
const PAGES = __PALAVER_PAGES__;
const PAGE_PREFIXES = ["/r/", "/dm/"];
const FILES = /^\/(pkg|b|icons)\/|^\/manifest\.webmanifest$/;

self.addEventListener("install", () => {
  // A new build takes over at once: the old one must not go on serving its cache.
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

// Which build this worker is, for whoever asks (the tests: the script's URL is the same for
// every build).
self.addEventListener("message", (event) => {
  if (event.data === "build" && event.ports[0]) event.ports[0].postMessage(BUILD);
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  const page =
    request.mode === "navigate" &&
    (PAGES.includes(path) || PAGE_PREFIXES.some((p) => path.startsWith(p)));
  if (!page && !FILES.test(path)) return;
  event.respondWith(networkFirst(request, page ? url.origin + path : request));
});

// The network's answer, kept for when there is none; the cache's only without one.
async function networkFirst(request, key) {
  try {
    // Revalidated with the server even when the HTTP cache holds a copy.
    const response = await fetch(request, request.mode === "navigate" ? {} : { cache: "no-cache" });
    if (response.ok && response.type === "basic") {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(key, copy)).catch(() => {});
    }
    return response;
  } catch (error) {
    const cached = await caches.match(key, { cacheName: CACHE });
    if (cached) return cached;
    throw error;
  }
}
