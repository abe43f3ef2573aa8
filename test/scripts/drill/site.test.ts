import { describe, expect, it } from 'vitest';
import { cookieFromSetCookie, createSiteSession, socketUrl } from '../../../scripts/drill/site';

describe('drill: the deployed site as a signed-in user sees it', () => {
  it('FM-6.4 the synthetic client reaches the WebSocket API through the site origin\'s /ws (CloudFront), never a regional execute-api host', () => {
    const url = new URL(socketUrl('https://d111abcdef8.cloudfront.net', 'doc 1/2'));
    expect(url.protocol).toBe('wss:');
    expect(url.host).toBe('d111abcdef8.cloudfront.net');
    expect(url.pathname).toBe('/ws');
    expect(url.searchParams.get('doc')).toBe('doc 1/2');
    expect(url.host).not.toMatch(/execute-api/);
  });

  it('FM-4.4 reads tokens from Set-Cookie headers and sends them back only as cookies', async () => {
    expect(cookieFromSetCookie(['concord_pkce=; Path=/api/auth; Max-Age=0', 'concord_at=abc.def; Path=/; HttpOnly; Secure; SameSite=Strict'], 'concord_at')).toBe('abc.def');
    expect(cookieFromSetCookie(['other=1'], 'concord_at')).toBeNull();
    const calls: { url: string; init: RequestInit }[] = [];
    const fakeFetch = (async (url: URL | string, init: RequestInit) => {
      calls.push({ url: String(url), init });
      return new Response(null, { status: 204, headers: [['set-cookie', 'concord_at=new.token; Path=/; HttpOnly; Secure; SameSite=Strict']] });
    }) as typeof fetch;
    const site = createSiteSession('https://site.example', { accessToken: 'old.token', refreshToken: 'rt' }, fakeFetch);
    await site.refresh();
    expect(calls[0].url).toBe('https://site.example/api/auth/refresh');
    expect((calls[0].init.headers as Record<string, string>).Cookie).toBe('concord_rt=rt');
    expect(site.socketHeaders()).toEqual({ Cookie: 'concord_at=new.token', Origin: 'https://site.example' });
  });

  it('explains what to do when the access token is refused or cannot be refreshed', async () => {
    const refused = createSiteSession('https://site.example', { accessToken: 'x' }, (async () => new Response('{}', { status: 401 })) as typeof fetch);
    await expect(refused.createDocument('t')).rejects.toMatchObject({ code: 'editor_failed', message: expect.stringContaining('sign in again') });
    await expect(refused.refresh()).rejects.toMatchObject({ message: expect.stringContaining('CONCORD_DRILL_REFRESH_TOKEN') });
  });
});
