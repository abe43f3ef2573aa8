/**
 * The version-history endpoints (docs/api.md, docs/history.md). Same conventions as ../api.ts:
 * cookies carry the tokens, a 401 triggers one refresh and one retry, errors become ApiError with
 * the server's sentence.
 */
import { ApiError, refreshSession } from '../api';

export interface VersionInfo {
  readonly version: number;
  readonly createdAt: number;
  readonly authors: readonly string[];
  readonly name: string | null;
  readonly bytes: number;
}

export interface RestoreResult {
  /** The op-log entry the restore was stored as; null when the document already equalled the version. */
  readonly seq: number | null;
  readonly changed: boolean;
}

const enc = encodeURIComponent;

async function call(method: string, path: string, body?: unknown, retried = false): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      // A version's state never changes (immutable, private): the browser may keep it.
      cache: path.includes('/snapshots/') ? 'default' : 'no-store',
      headers: method === 'GET' ? { Accept: 'application/json, application/octet-stream' } : { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: method === 'GET' ? undefined : JSON.stringify(body ?? {}),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach Concord. Check your connection and try again.');
  }
  if (res.status === 401 && !retried && (await refreshSession())) return call(method, path, body, true);
  if (!res.ok) {
    const payload = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ApiError(res.status, payload?.error?.code ?? `http_${res.status}`, payload?.error?.message ?? `Request failed (HTTP ${res.status}).`);
  }
  return res;
}

export const historyApi = {
  list: async (docId: string) => ((await (await call('GET', `/api/docs/${enc(docId)}/versions`)).json()) as { versions: VersionInfo[] }).versions,
  name: async (docId: string, name: string) => (await (await call('POST', `/api/docs/${enc(docId)}/versions`, { name })).json()) as VersionInfo,
  restore: async (docId: string, version: number) => (await (await call('POST', `/api/docs/${enc(docId)}/versions/${version}/restore`, {})).json()) as RestoreResult,
  /** The version's Yjs state (immutable, so the browser may cache it). */
  state: async (docId: string, version: number) => new Uint8Array(await (await call('GET', `/api/docs/${enc(docId)}/snapshots/${version}`)).arrayBuffer()),
};
