// Conclave's service worker. It caches the app shell (the built HTML, JS,
// CSS, manifest and icons) so the client opens offline and installs as a
// PWA. It never caches API responses, files or the WebSocket: those always
// go to the network. The build fills in the file list and cache version.

const SHELL_FILES = __SHELL_FILES__;
const CACHE_NAME = `conclave-shell-${__CACHE_VERSION__}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE_NAME)
      .then((cache) => cache.addAll(SHELL_FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith('conclave-shell-') && name !== CACHE_NAME).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

function isApi(url) {
  return url.pathname.startsWith('/api/') || url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname.startsWith('/scim/') || url.pathname.startsWith('/hooks/') || url.pathname.startsWith('/connectors/');
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || isApi(url)) return;

  if (request.mode === 'navigate') {
    // Pages: the network first so a new deployment shows at once; the cached
    // shell when offline. Every client route is the same index.html.
    event.respondWith(fetch(request).catch(() => caches.match('/', { cacheName: CACHE_NAME }).then((cached) => cached || Response.error())));
    return;
  }
  if (SHELL_FILES.includes(url.pathname)) {
    event.respondWith(caches.match(request, { cacheName: CACHE_NAME }).then((cached) => cached || fetch(request)));
  }
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: 'window' }).then((windows) => {
      const open = windows[0];
      return open ? open.focus() : self.clients.openWindow('/');
    }),
  );
});
