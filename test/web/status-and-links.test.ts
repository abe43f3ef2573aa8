import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as Y from 'yjs';
import { describeStatus, type SyncSnapshot } from '../../web/src/sync/status';
import { fullJitterDelay, plannedReconnectDelay, API_GATEWAY_MAX_CONNECTION_MS } from '../../web/src/sync/backoff';
import { isSafeHref, normalizeHref } from '../../web/src/editor/safe-url';
import { loadLatestSnapshot } from '../../web/src/sync/snapshot';

const base: SyncSnapshot = { connection: 'open', synced: true, saved: true, pending: 0, lastError: null };

describe('status indicator wording', () => {
  it('says "Saved" only when the provider reports every change acknowledged', () => {
    expect(describeStatus(base).label).toBe('Saved');
    expect(describeStatus({ ...base, saved: false, pending: 2 }).label).toBe('Saving…');
    expect(describeStatus({ ...base, saved: false, pending: 0 }).label).toBe('Saving…');
    expect(describeStatus({ ...base, synced: false, saved: false }).label).toBe('Syncing…');
  });

  it('counts pending changes when offline or reconnecting', () => {
    expect(describeStatus({ ...base, connection: 'offline', saved: false, pending: 1 }).label).toBe('Offline — 1 change pending');
    expect(describeStatus({ ...base, connection: 'offline', saved: false, pending: 12 }).label).toBe('Offline — 12 changes pending');
    expect(describeStatus({ ...base, connection: 'offline', saved: false, pending: 0 }).label).toBe('Offline');
    expect(describeStatus({ ...base, connection: 'reconnecting', saved: false, pending: 0 }).label).toBe('Reconnecting…');
    expect(describeStatus({ ...base, connection: 'reconnecting', saved: false, pending: 3 }).label).toBe('Reconnecting… 3 changes pending');
    expect(describeStatus({ ...base, connection: 'reauthenticating', saved: false, pending: 0 }).label).toBe('Reconnecting…');
  });

  it('never says "Saved" unless the socket is open and saved', () => {
    const states = ['loading', 'connecting', 'open', 'reconnecting', 'offline', 'reauthenticating', 'signed-out', 'no-access', 'closed'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...states), fc.boolean(), fc.boolean(), fc.nat(1000), (connection, synced, saved, pending) => {
        const label = describeStatus({ connection, synced, saved, pending, lastError: null }).label;
        if (label === 'Saved') expect(connection === 'open' && saved).toBe(true);
      }),
    );
  });
});

describe('reconnect timing', () => {
  it('full jitter stays inside [0, min(cap, base·2^attempt))', () => {
    fc.assert(
      fc.property(fc.nat(40), fc.double({ min: 0, max: 0.9999999, noNaN: true }), (attempt, r) => {
        const d = fullJitterDelay(attempt, { baseMs: 250, capMs: 20_000 }, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(Math.min(20_000, 250 * 2 ** attempt));
      }),
    );
  });

  it('the planned reconnect falls between 85 % and 95 % of API Gateway’s 2 h limit', () => {
    expect(plannedReconnectDelay(API_GATEWAY_MAX_CONNECTION_MS, () => 0)).toBe(0.85 * API_GATEWAY_MAX_CONNECTION_MS);
    expect(plannedReconnectDelay(API_GATEWAY_MAX_CONNECTION_MS, () => 0.9999)).toBeLessThan(0.95 * API_GATEWAY_MAX_CONNECTION_MS);
  });
});

describe('FM-3.6: link targets', () => {
  it.each(['javascript:alert(1)', 'JaVaScRiPt:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'java\nscript:alert(1)', '\u0000javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:msgbox(1)', 'file:///etc/passwd', ''])(
    'refuses %j',
    (href) => expect(isSafeHref(href)).toBe(false),
  );

  it.each(['https://example.com/a?b=c', 'http://example.com', 'mailto:a@example.com', 'tel:+33123456789', '/d/abc', '#section', 'relative/path'])('accepts %j', (href) =>
    expect(isSafeHref(href)).toBe(true),
  );

  it('normalizes what users type into the link box, refusing unsafe schemes', () => {
    expect(normalizeHref('example.com')).toBe('https://example.com');
    expect(normalizeHref('ada@example.com')).toBe('mailto:ada@example.com');
    expect(normalizeHref('javascript:alert(1)')).toBeNull();
    expect(normalizeHref('   ')).toBeNull();
  });
});

describe('FM-6.3: first load of a large document over HTTPS', () => {
  it('applies the latest snapshot from its versioned URL before any socket opens', async () => {
    const source = new Y.Doc();
    source.getText('t').insert(0, 'x'.repeat(200_000));
    const state = Y.encodeStateAsUpdate(source);
    const calls: string[] = [];
    const fetchImpl = (async (input: RequestInfo | URL) => {
      const url = String(input);
      calls.push(url);
      if (url === '/api/docs/d1/snapshots/latest') return Response.json({ version: 42, bytes: state.length, url: '/api/docs/d1/snapshots/42' });
      if (url === '/api/docs/d1/snapshots/42') return new Response(state.slice().buffer as ArrayBuffer, { headers: { 'content-type': 'application/octet-stream' } });
      return new Response(null, { status: 404 });
    }) as typeof fetch;
    const doc = new Y.Doc();
    const result = await loadLatestSnapshot('d1', doc, fetchImpl);
    expect(result).toMatchObject({ version: 42, bytes: state.length });
    expect(doc.getText('t').toString()).toBe('x'.repeat(200_000));
    expect(calls).toEqual(['/api/docs/d1/snapshots/latest', '/api/docs/d1/snapshots/42']);
  });

  it('fetches nothing more when there is no snapshot yet', async () => {
    const calls: string[] = [];
    const fetchImpl = (async (input: RequestInfo | URL) => {
      calls.push(String(input));
      return Response.json({ version: 0 });
    }) as typeof fetch;
    const doc = new Y.Doc();
    expect(await loadLatestSnapshot('d1', doc, fetchImpl)).toEqual({ version: 0 });
    expect(calls).toEqual(['/api/docs/d1/snapshots/latest']);
    expect(Y.encodeStateVector(doc)).toEqual(Y.encodeStateVector(new Y.Doc()));
  });
});
