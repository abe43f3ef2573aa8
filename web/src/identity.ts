/**
 * Who is signed in. The tokens stay in httpOnly cookies; this only knows the public identity from
 * /api/me. The last identity is kept in sessionStorage (name only, no token) so a tab reloaded
 * offline can still open the documents kept on this device.
 */
import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, type Me } from './api';

const KEY = 'concord:identity';

export type Identity =
  | { readonly status: 'loading' }
  | { readonly status: 'signed-out' }
  | { readonly status: 'signed-in'; readonly me: Pick<Me, 'userId' | 'name'>; readonly offline: boolean }
  | { readonly status: 'error'; readonly message: string };

function remembered(): Pick<Me, 'userId' | 'name'> | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as { userId?: unknown; name?: unknown } | null;
    return v && typeof v.userId === 'string' && typeof v.name === 'string' ? { userId: v.userId, name: v.name } : null;
  } catch {
    return null;
  }
}

export function forgetIdentity(): void {
  sessionStorage.removeItem(KEY);
}

export function useIdentity(): { identity: Identity; reload: () => void } {
  const [identity, setIdentity] = useState<Identity>({ status: 'loading' });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    api
      .me()
      .then((me) => {
        sessionStorage.setItem(KEY, JSON.stringify({ userId: me.userId, name: me.name }));
        if (live) setIdentity({ status: 'signed-in', me: { userId: me.userId, name: me.name }, offline: false });
      })
      .catch((e: unknown) => {
        if (!live) return;
        if (e instanceof ApiError && e.status === 401) {
          forgetIdentity();
          setIdentity({ status: 'signed-out' });
          return;
        }
        const last = remembered();
        if (e instanceof ApiError && e.status === 0 && last) setIdentity({ status: 'signed-in', me: last, offline: true });
        else setIdentity({ status: 'error', message: e instanceof Error ? e.message : String(e) });
      });
    return () => {
      live = false;
    };
  }, [nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { identity, reload };
}
