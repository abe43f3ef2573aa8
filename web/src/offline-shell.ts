/**
 * Registers the service worker that keeps the app shell available offline, and hands it the
 * assets this page already loaded (on a first visit they were fetched before it took control).
 */
export function registerOfflineShell(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  window.addEventListener('load', () => {
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .then(() => cacheLoadedAssets())
      .catch(() => undefined);
  });
}

/** Asks the worker to keep every hashed asset loaded so far (call again after lazy chunks load). */
export function cacheLoadedAssets(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  void navigator.serviceWorker.ready.then((registration) => {
    const urls = performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((u) => new URL(u).origin === location.origin && new URL(u).pathname.startsWith('/assets/'));
    registration.active?.postMessage({ type: 'cache-assets', urls });
  });
}
