/**
 * The HTTP API (docs/api.md). Cookies carry the tokens (httpOnly, never visible here); a 401 on an
 * ordinary call triggers one refresh from the refresh cookie and one retry.
 */
export type Role = 'owner' | 'editor' | 'viewer';

export interface Me {
  readonly userId: string;
  readonly name: string;
  readonly expiresAt: number;
}

export interface DocumentSummary {
  readonly docId: string;
  readonly title: string;
  readonly role: Role;
  readonly ownerId: string;
  readonly createdAt: number | string;
}

export interface Member {
  readonly userId: string;
  readonly role: Role;
}

export interface DocumentDetail extends DocumentSummary {
  readonly members: readonly Member[];
}

export interface UserSuggestion {
  readonly userId: string;
  readonly name: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const FALLBACK_MESSAGES: Record<number, string> = {
  0: 'Cannot reach Concord. Check your connection and try again.',
  401: 'Sign in to continue.',
  403: 'You do not have permission to do that.',
  404: 'Not found. It may have been deleted.',
  409: 'That conflicts with the current state; reload and try again.',
  413: 'That is too large.',
  429: 'Too many requests; wait a moment and try again.',
  503: 'Concord is temporarily unavailable; try again in a moment.',
};

let refreshing: Promise<boolean> | null = null;

/** One refresh at a time, shared by every caller that got a 401. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= fetch('/api/auth/refresh', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: '{}',
  })
    .then((r) => r.ok)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

async function request<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
  const init: RequestInit = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json', ...(method === 'GET' ? {} : { 'Content-Type': 'application/json' }) },
  };
  if (method !== 'GET') init.body = JSON.stringify(body ?? {});
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'network', FALLBACK_MESSAGES[0]);
  }
  if (res.status === 401 && !retried && !path.startsWith('/api/auth/')) {
    if (await refreshSession()) return request<T>(method, path, body, true);
  }
  if (!res.ok) {
    const payload = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
    throw new ApiError(res.status, payload?.error?.code ?? `http_${res.status}`, payload?.error?.message ?? FALLBACK_MESSAGES[res.status] ?? `Request failed (HTTP ${res.status}).`);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  me: () => request<Me>('GET', '/api/me'),
  logout: () => request<void>('POST', '/api/auth/logout'),
  listDocuments: () => request<{ documents: DocumentSummary[] }>('GET', '/api/docs').then((r) => r.documents),
  createDocument: (title?: string) => request<DocumentSummary>('POST', '/api/docs', title ? { title } : {}),
  getDocument: (docId: string) => request<DocumentDetail>('GET', `/api/docs/${enc(docId)}`),
  renameDocument: (docId: string, title: string) => request<DocumentSummary>('PATCH', `/api/docs/${enc(docId)}`, { title }),
  setMember: (docId: string, userId: string, role: Role) => request<Member>('PUT', `/api/docs/${enc(docId)}/members/${enc(userId)}`, { role }),
  removeMember: (docId: string, userId: string) => request<void>('DELETE', `/api/docs/${enc(docId)}/members/${enc(userId)}`),
  suggestUsers: (prefix: string) => request<{ users: UserSuggestion[] }>('GET', `/api/users?prefix=${enc(prefix)}`).then((r) => r.users),
};

/** Where the sign-in button goes: the API starts the OAuth flow and brings the user back here. */
export const signInUrl = (returnTo: string) => `/api/auth/login?return=${enc(returnTo)}`;
