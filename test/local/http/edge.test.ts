/**
 * What sits where CloudFront and API Gateway HTTP API sit: the static site's cache and security
 * headers and SPA fallback (FM-3.6, FM-4.6), and the payload format 2.0 event/result mapping the
 * `api` handler sees.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpApi } from '../../../local/http/http-api';
import { SECURITY_HEADERS, createStaticSite } from '../../../local/http/static-site';

let server: Server;
let base: string;
let dist: string;
let lastEvent: APIGatewayProxyEventV2 | null = null;
let nextResult: unknown = { statusCode: 200, body: '{}' };

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'concord-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Concord</title>');
  writeFileSync(join(dist, 'assets', 'index-B2x9Qa7c.js'), 'console.log(1)');
  writeFileSync(join(dist, 'sw.js'), 'self.x=1');
  writeFileSync(join(tmpdir(), 'concord-secret.txt'), 'secret');
  const site = createStaticSite(dist);
  const api = createHttpApi({
    domainName: 'local.test',
    invoke: async (event) => {
      lastEvent = event;
      return nextResult;
    },
  });
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    if ((req.url ?? '').startsWith('/api/')) void api(req, res);
    else site(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dist, { recursive: true, force: true });
});

describe('static site (CloudFront behaviour)', () => {
  it('FM-4.6: caches hashed assets forever and revalidates index.html and the service worker', async () => {
    const asset = await fetch(`${base}/assets/index-B2x9Qa7c.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(asset.headers.get('content-type')).toContain('javascript');
    const index = await fetch(`${base}/`);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(`${base}/sw.js`)).headers.get('cache-control')).toBe('no-cache');
  });

  it('falls back to index.html for app routes, but a missing file with an extension is a 404', async () => {
    const route = await fetch(`${base}/d/abc123`);
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('<title>Concord</title>');
    expect((await fetch(`${base}/assets/missing-12345678.js`)).status).toBe(404);
  });

  it('FM-3.6: sends the security headers (CSP connect-src self, nosniff, frame denial, referrer policy)', async () => {
    const res = await fetch(`${base}/`);
    expect(res.headers.get('content-security-policy')).toMatch(/connect-src 'self'/);
    expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
  });

  it('never serves files outside web/dist', async () => {
    // A raw request line, so no client normalises the dot segments away first.
    for (const path of ['/../concord-secret.txt', '/%2e%2e/concord-secret.txt', '/assets/..%2f..%2fconcord-secret.txt']) {
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${base}/`, { path }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).not.toContain('secret');
      expect([200, 404]).toContain(status); // 200 is the SPA index for an extensionless miss
    }
  });
});

describe('HTTP API payload format 2.0', () => {
  it('builds the v2 event: cookies array, lowercase headers without cookie, raw path and query, JSON body as text', async () => {
    await fetch(`${base}/api/docs/abc?x=1&x=2&y=%20z`, {
      method: 'POST',
      headers: { Cookie: 'concord_at=tok; other=1', 'Content-Type': 'application/json', 'X-Custom': 'v' },
      body: JSON.stringify({ title: 't' }),
    });
    const e = lastEvent!;
    expect(e.version).toBe('2.0');
    expect(e.routeKey).toBe('ANY /api/{proxy+}');
    expect(e.pathParameters).toEqual({ proxy: 'docs/abc' });
    expect(e.rawPath).toBe('/api/docs/abc');
    expect(e.rawQueryString).toBe('x=1&x=2&y=%20z');
    expect(e.queryStringParameters).toEqual({ x: '1,2', y: ' z' });
    expect(e.cookies).toEqual(['concord_at=tok', 'other=1']);
    expect(e.headers.cookie).toBeUndefined();
    expect(e.headers['x-custom']).toBe('v');
    expect(e.requestContext.http).toMatchObject({ method: 'POST', path: '/api/docs/abc', sourceIp: '127.0.0.1' });
    expect(e.requestContext.domainName).toBe('local.test');
    expect(e.isBase64Encoded).toBe(false);
    expect(JSON.parse(e.body!)).toEqual({ title: 't' });
  });

  it('base64-encodes a binary body', async () => {
    await fetch(`${base}/api/upload`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array([0, 255, 1]) });
    expect(lastEvent!.isBase64Encoded).toBe(true);
    expect(Buffer.from(lastEvent!.body!, 'base64')).toEqual(Buffer.from([0, 255, 1]));
  });

  it('writes the v2 result: cookies as separate Set-Cookie headers, headers, base64 bodies', async () => {
    nextResult = { statusCode: 201, headers: { 'Content-Type': 'application/octet-stream', 'Cache-Control': 'no-store' }, cookies: ['a=1; Path=/', 'b=2; Path=/api/auth'], body: Buffer.from([9, 8, 7]).toString('base64'), isBase64Encoded: true };
    const res = await fetch(`${base}/api/x`);
    expect(res.status).toBe(201);
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; Path=/api/auth']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([9, 8, 7]));
  });

  it('answers 404 itself for a path no route matches (/api/ with nothing after it)', async () => {
    lastEvent = null;
    const res = await fetch(`${base}/api/`);
    expect(res.status).toBe(404);
    expect(lastEvent).toBeNull();
  });

  it('infers a 200 JSON response from a result without statusCode, as API Gateway does', async () => {
    nextResult = { hello: 'world' };
    const res = await fetch(`${base}/api/x`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toEqual({ hello: 'world' });
  });
});
