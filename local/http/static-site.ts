/**
 * The built web client (web/dist) as CloudFront serves it: SPA fallback to index.html for paths
 * without a file extension (the viewer-request function), hashed assets cached forever, index.html
 * revalidated every time (FM-4.6), and the security headers of the response headers policy
 * (FM-3.6). SECURITY_HEADERS mirror the CDK app's ResponseHeadersPolicy (lib/edge.ts, not imported
 * here because it loads aws-cdk-lib) except `upgrade-insecure-requests`, which would send a
 * plain-http local page's requests to https.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The headers CloudFront adds to every response (the local stack adds them to every response too). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'strict-origin-when-cross-origin',
  // What CloudFront sends on HTTPS; harmless (ignored by browsers) on http://127.0.0.1.
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
};

/** Vite names built assets `name-<hash>.ext` under assets/: those never change. */
const HASHED = /[-.][A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export function createStaticSite(distDir: string) {
  const root = normalize(distDir + sep);
  const fileAt = (path: string): string | null => {
    const full = normalize(join(root, path));
    if (!full.startsWith(root)) return null; // path traversal
    try {
      return statSync(full).isFile() ? full : null;
    } catch {
      return null;
    }
  };
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('Method Not Allowed');
      return;
    }
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://local').pathname);
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('Bad Request');
      return;
    }
    let file = pathname === '/' ? null : fileAt(pathname);
    const isIndex = !file;
    if (!file) {
      // SPA fallback only for extensionless paths; a missing asset is a real 404.
      if (extname(pathname) && pathname !== '/') {
        res.writeHead(404, { 'content-type': 'text/plain', 'cache-control': 'no-cache' });
        res.end('Not Found');
        return;
      }
      file = fileAt('index.html');
      if (!file) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end('The web client is not built: run `npm run build:web` (npm start builds it when web/ exists).');
        return;
      }
    }
    const size = statSync(file).size;
    const cacheControl = isIndex || file.endsWith('index.html') ? 'no-cache' : HASHED.test(file) && file.includes(`${sep}assets${sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, {
      'content-type': TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': String(size),
      'cache-control': cacheControl,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  };
}
