/**
 * Registers the service worker that keeps the app shell available offline, and hands it the
 * assets this page already loaded (on a first visit they were fetched before it took control).
 */
export function registerOfflineShell(): void {
  if (!__CONCORD_OFFLINE_SHELL__ || !('serviceWorker' in navigator)) return;
  const register = () =>
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .then(() => cacheLoadedAssets())
      .catch((e: unknown) => console.warn('Concord: the offline shell is unavailable:', e));
  // After the page's own loading, so the worker's first fetches never compete with it.
  if (document.readyState === 'complete') void register();
  else window.addEventListener('load', () => void register(), { once: true });
}

/** Asks the worker to keep every hashed asset loaded so far (call again after lazy chunks load). */
export function cacheLoadedAssets(): void {
  if (!__CONCORD_OFFLINE_SHELL__ || !('serviceWorker' in navigator)) return;
  void navigator.serviceWorker.ready.then((registration) => {
    const urls = performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((u) => new URL(u).origin === location.origin && new URL(u).pathname.startsWith('/assets/'));
    registration.active?.postMessage({ type: 'cache-assets', urls });
  });
}
