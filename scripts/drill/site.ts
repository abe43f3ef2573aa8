/**
 * The deployed site as a signed-in user sees it (docs/api.md): cookies on every request, a new
 * document for the drill, and a token refresh when the socket asks to re-authenticate.
 */
import { DrillError } from './aws';

export interface SiteCredentials {
  accessToken: string;
  refreshToken?: string;
}

/** Query parameter naming the document on the socket URL. */
export const SOCKET_DOC_PARAM = 'doc';

export function socketUrl(siteUrl: string, docId: string): string {
  const url = new URL('/ws', siteUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set(SOCKET_DOC_PARAM, docId);
  return url.toString();
}

/** Value of a cookie among Set-Cookie headers, or null. */
export function cookieFromSetCookie(setCookies: readonly string[], name: string): string | null {
  for (const header of setCookies) {
    const [pair] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return null;
}

export function createSiteSession(siteUrl: string, credentials: SiteCredentials, fetchImpl: typeof fetch = fetch) {
  const origin = new URL(siteUrl).origin;
  const cookieHeader = () => [`concord_at=${credentials.accessToken}`, credentials.refreshToken ? `concord_rt=${credentials.refreshToken}` : ''].filter(Boolean).join('; ');
  return {
    socketHeaders: () => ({ Cookie: `concord_at=${credentials.accessToken}`, Origin: origin }),
    async createDocument(title: string): Promise<string> {
      const res = await fetchImpl(new URL('/api/docs', siteUrl), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: cookieHeader(), Origin: origin },
        body: JSON.stringify({ title }),
      });
      if (res.status === 401) throw new DrillError('editor_failed', 'The site refused the access token (401): sign in again and export a fresh CONCORD_DRILL_ACCESS_TOKEN.');
      if (res.status !== 201) throw new DrillError('editor_failed', `Creating the drill document failed with HTTP ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { docId: string }).docId;
    },
    /** POST /api/auth/refresh with the refresh cookie; keeps the new access token. */
    async refresh(): Promise<void> {
      if (!credentials.refreshToken) throw new DrillError('editor_failed', 'The access token expired mid-drill and no CONCORD_DRILL_REFRESH_TOKEN was given; export it to run drills longer than the token lifetime.');
      const res = await fetchImpl(new URL('/api/auth/refresh', siteUrl), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: `concord_rt=${credentials.refreshToken}`, Origin: origin },
      });
      if (res.status !== 204 && res.status !== 200) throw new DrillError('editor_failed', `Refreshing the access token failed with HTTP ${res.status}; sign in again.`);
      const token = cookieFromSetCookie(res.headers.getSetCookie(), 'concord_at');
      if (!token) throw new DrillError('editor_failed', 'The refresh response set no concord_at cookie.');
      credentials.accessToken = token;
    },
  };
}
