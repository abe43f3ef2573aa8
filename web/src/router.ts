/**
 * Client-side navigation over the History API. The app has three routes (`/`, `/d/:docId` and
 * everything else), which does not justify a routing library in the initial bundle.
 */
import { useSyncExternalStore, type MouseEvent } from 'react';

const listeners = new Set<() => void>();
const notify = () => listeners.forEach((l) => l());
if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (path === location.pathname + location.search) return;
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  notify();
}

export function usePathname(): string {
  return useSyncExternalStore(subscribe, () => location.pathname);
}

export type Route = { name: 'home' } | { name: 'document'; docId: string } | { name: 'not-found' };

export function matchRoute(pathname: string): Route {
  if (pathname === '/' || pathname === '') return { name: 'home' };
  const m = /^\/d\/([^/]+)\/?$/.exec(pathname);
  if (m) return { name: 'document', docId: decodeURIComponent(m[1]) };
  return { name: 'not-found' };
}

/** An ordinary link that navigates in-app unless the user asked for a new tab or window. */
export function onLinkClick(e: MouseEvent<HTMLAnchorElement>, to: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(to);
}
