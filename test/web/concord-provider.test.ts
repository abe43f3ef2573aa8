import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import { LIMITS } from '../../lambdas/core/limits';
import { ConcordProvider, type ConcordProviderOptions } from '../../web/src/sync/concord-provider';
import { describeStatus } from '../../web/src/sync/status';
import { FakeGateway, FakeNetwork, RecordingScheduler, fakeFetch, xmlText, type Identity } from './support/fake-gateway';

const alice: Identity = { userId: 'alice', role: 'editor' };
const bob: Identity = { userId: 'bob', role: 'editor' };

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function appendParagraph(doc: Y.Doc, text: string): void {
  const p = new Y.XmlElement('paragraph');
  p.insert(0, [new Y.XmlText(text)]);
  doc.getXmlFragment('body').push([p]);
}

const textOf = (doc: Y.Doc) => xmlText(doc.getXmlFragment('body'));

function client(gateway: FakeGateway, identity: Identity, extra: Partial<ConcordProviderOptions> = {}) {
  const doc = new Y.Doc();
  const awareness = new Awareness(doc);
  awareness.setLocalStateField('user', { name: identity.userId, color: '#2563eb' });
  const network = (extra.network as FakeNetwork | undefined) ?? new FakeNetwork();
  const http = fakeFetch({});
  const provider = new ConcordProvider({
    docId: gateway.docId,
    doc,
    awareness,
    url: `ws://test/ws?doc=${gateway.docId}`,
    createWebSocket: gateway.factory(identity),
    fetch: http.fetch,
    network,
    // Reconnect at once unless a test records the schedule.
    random: () => 0,
    ...extra,
  });
  cleanups.push(() => {
    provider.destroy();
    awareness.destroy();
    doc.destroy();
  });
  return { doc, awareness, provider, network, http };
}

const waitFor = (assertion: () => void | Promise<void>) => vi.waitFor(assertion, { timeout: 10_000, interval: 5 });

describe('ConcordProvider status (ClientSession acknowledgements)', () => {
  it('says "Saved" only once the server has acknowledged every local update', async () => {
    const gateway = new FakeGateway();
    const a = client(gateway, alice);
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    expect(describeStatus(a.provider.getSnapshot()).label).toBe('Saved');

    const socket = gateway.openSockets()[0];
    gateway.holdAcksFor(socket);
    appendParagraph(a.doc, 'unacknowledged');
    // Within the batch window the change has not even left: pending, not saved.
    expect(a.provider.getSnapshot()).toMatchObject({ saved: false, pending: 1 });
    // Stored by the server, but the ack has not reached the client: still not "Saved".
    await waitFor(async () => expect(await gateway.storedText()).toBe('unacknowledged'));
    await gateway.settled();
    expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: false, pending: 1 });
    expect(describeStatus(a.provider.getSnapshot()).label).toBe('Saving…');

    gateway.releaseAcksFor(socket);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ saved: true, pending: 0 }));
    expect(describeStatus(a.provider.getSnapshot()).label).toBe('Saved');
  });

  it('counts changes restored from a previous page load as pending until the server has them all', async () => {
    const gateway = new FakeGateway();
    const network = new FakeNetwork();
    network.online = false;
    const a = client(gateway, alice, { network, carriedOverPending: 3 });
    expect(a.provider.getSnapshot()).toMatchObject({ connection: 'offline', pending: 3, saved: false });
    expect(describeStatus(a.provider.getSnapshot()).label).toBe('Offline — 3 changes pending');
    network.set(true);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true, pending: 0 }));
  });
});

describe('ConcordProvider reconnects (FM-1.1, FM-1.6)', () => {
  it('FM-1.1: edits made while the socket is down reach the server after the reconnect, and missed remote edits arrive', async () => {
    const gateway = new FakeGateway();
    const scheduler = new RecordingScheduler();
    const a = client(gateway, alice, { scheduler });
    const b = client(gateway, bob);
    await waitFor(() => expect(a.provider.getSnapshot().saved && b.provider.getSnapshot().saved).toBe(true));
    appendParagraph(a.doc, 'before.');
    await waitFor(() => expect(textOf(b.doc)).toBe('before.'));

    // Alice's socket dies; her reconnect waits (the recording scheduler) while both sides edit apart.
    gateway.sockets[0].kill(1006);
    expect(a.provider.getSnapshot().connection).toBe('reconnecting');
    appendParagraph(a.doc, 'offline-a.');
    appendParagraph(b.doc, 'online-b.');
    expect(a.provider.getSnapshot().pending).toBeGreaterThan(0);
    expect(describeStatus(a.provider.getSnapshot()).label).toMatch(/^Reconnecting… \d+ changes? pending$/);
    await gateway.settled();
    expect(textOf(a.doc)).not.toContain('online-b.');

    const retry = scheduler.active().filter((t) => t.ms < 60_000);
    expect(retry).toHaveLength(1);
    scheduler.fire(retry[0]);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true, pending: 0 }));
    await waitFor(() => expect(textOf(b.doc)).toBe(textOf(a.doc)));
    const stored = await gateway.storedText();
    expect(stored).toContain('before.');
    expect(stored).toContain('offline-a.');
    expect(stored).toContain('online-b.');
    expect(textOf(a.doc)).toBe(stored);
  });

  it('FM-1.6: retries with exponential backoff and full jitter, and resets the backoff once a connection has synced', async () => {
    const gateway = new FakeGateway();
    gateway.refuseHandshakes = true;
    const scheduler = new RecordingScheduler();
    const policy = { baseMs: 100, capMs: 1_000 };
    const a = client(gateway, alice, { scheduler, random: () => 0.999, backoff: policy });
    const retries = () => scheduler.timers.filter((t) => t.ms < 60_000);
    for (let attempt = 0; attempt < 6; attempt++) {
      await waitFor(() => expect(retries().length).toBe(attempt + 1));
      // Every refusal is followed by one access probe over HTTP (the handshake hides the status).
      expect(a.http.calls.filter((c) => c.url === `/api/docs/${gateway.docId}`)).toHaveLength(attempt + 1);
      scheduler.fire(retries()[attempt]);
    }
    await waitFor(() => expect(retries().length).toBe(7));
    // random() = 0.999 draws the top of each window: 100, 200, 400, 800 ms, then the 1 s cap.
    expect(retries().map((t) => t.ms)).toEqual([99, 199, 399, 799, 999, 999, 999]);
    expect(a.provider.getSnapshot().connection).toBe('connecting');

    gateway.refuseHandshakes = false;
    scheduler.fire(retries()[6]);
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    gateway.openSockets()[0].kill(1006);
    await waitFor(() => expect(retries().length).toBe(8));
    expect(retries()[7].ms).toBe(99);
    expect(a.provider.getSnapshot().connection).toBe('reconnecting');
  });

  it('full jitter spreads the delay over the whole window (random() = 0 retries at once)', async () => {
    const gateway = new FakeGateway();
    gateway.refuseHandshakes = true;
    const scheduler = new RecordingScheduler();
    client(gateway, alice, { scheduler, random: () => 0, backoff: { baseMs: 100, capMs: 1_000 } });
    await waitFor(() => expect(scheduler.timers.filter((t) => t.ms < 10_000).length).toBe(1));
    expect(scheduler.timers[0].ms).toBe(0);
  });

  it('the offline event closes the socket and stops retrying; online reconnects at once and syncs the edits', async () => {
    const gateway = new FakeGateway();
    const b = client(gateway, bob);
    const a = client(gateway, alice);
    await waitFor(() => expect(a.provider.getSnapshot().saved && b.provider.getSnapshot().saved).toBe(true));
    const socketsBefore = gateway.sockets.length;

    a.network.set(false);
    expect(a.provider.getSnapshot().connection).toBe('offline');
    expect(gateway.sockets.at(-1)!.closedByClient).not.toBeNull();
    appendParagraph(a.doc, 'typed offline');
    appendParagraph(a.doc, ' twice');
    expect(describeStatus(a.provider.getSnapshot()).label).toBe('Offline — 2 changes pending');
    await new Promise((r) => setTimeout(r, 30));
    expect(gateway.sockets.length).toBe(socketsBefore);
    expect(textOf(b.doc)).toBe('');

    a.network.set(true);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true, pending: 0 }));
    await waitFor(() => expect(textOf(b.doc)).toBe('typed offline twice'));
  });

  it('makes a planned reconnect before the gateway’s maximum connection age, keeping unacknowledged edits', async () => {
    const gateway = new FakeGateway();
    const scheduler = new RecordingScheduler();
    const maxConnectionAgeMs = 2 * 60 * 60 * 1000;
    const a = client(gateway, alice, { scheduler, random: () => 0.5, maxConnectionAgeMs });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    const planned = scheduler.active().filter((t) => t.ms >= 0.85 * maxConnectionAgeMs && t.ms <= 0.95 * maxConnectionAgeMs);
    expect(planned).toHaveLength(1);
    expect(planned[0].ms).toBeLessThan(maxConnectionAgeMs);

    const first = gateway.openSockets()[0];
    gateway.holdAcksFor(first);
    appendParagraph(a.doc, 'in flight at the planned reconnect');
    await waitFor(async () => expect(await gateway.storedText()).toBe('in flight at the planned reconnect'));
    expect(a.provider.getSnapshot().pending).toBe(1);
    scheduler.fire(planned[0]);
    expect(first.closedByClient).not.toBeNull();
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true, pending: 0 }));
    expect(gateway.sockets).toHaveLength(2);
    expect(await gateway.storedText()).toBe('in flight at the planned reconnect');
    // The new connection plans its own reconnect.
    expect(scheduler.active().filter((t) => t.ms >= 0.85 * maxConnectionAgeMs)).toHaveLength(1);
  });
});

describe('ConcordProvider authentication (FM-5.1, FM-5.2)', () => {
  it('FM-5.1: on REAUTH it refreshes the session and reconnects without losing the edit that hit the expired token', async () => {
    const gateway = new FakeGateway();
    const b = client(gateway, bob);
    const a = client(gateway, alice);
    await waitFor(() => expect(a.provider.getSnapshot().saved && b.provider.getSnapshot().saved).toBe(true));
    // Alice's token expires while her socket is open.
    gateway.server.clock.t += gateway.tokenLifetimeMs + 1;
    gateway.tokenLifetimeMs = 60 * 60_000;
    appendParagraph(a.doc, 'written as the token expired');
    await waitFor(() => expect(a.http.calls).toContainEqual({ method: 'POST', url: '/api/auth/refresh' }));
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true, pending: 0 }));
    expect(await gateway.storedText()).toBe('written as the token expired');
    await waitFor(() => expect(textOf(b.doc)).toBe('written as the token expired'));
  });

  it('when the refresh token is gone too, it stops in "signed-out" and keeps the edits pending', async () => {
    const gateway = new FakeGateway();
    const http = fakeFetch({ refresh: () => 401, document: () => 401 });
    const a = client(gateway, alice, { fetch: http.fetch });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    gateway.server.clock.t += gateway.tokenLifetimeMs + 1;
    appendParagraph(a.doc, 'kept');
    await waitFor(() => expect(a.provider.getSnapshot().connection).toBe('signed-out'));
    const sockets = gateway.sockets.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(gateway.sockets.length).toBe(sockets);
    expect(a.provider.getSnapshot().pending).toBeGreaterThan(0);
    expect(describeStatus(a.provider.getSnapshot()).label).toMatch(/^Signed out — \d+ changes? pending$/);
  });

  it('FM-5.2: a refused handshake with a 403 from the API ends in "no-access" with the server’s reason, without retrying', async () => {
    const gateway = new FakeGateway();
    gateway.refuseHandshakes = true;
    const http = fakeFetch({ document: () => 403 });
    const scheduler = new RecordingScheduler();
    const a = client(gateway, alice, { fetch: http.fetch, scheduler });
    await waitFor(() => expect(a.provider.getSnapshot().connection).toBe('no-access'));
    expect(a.provider.getSnapshot().lastError).toMatchObject({ code: 'forbidden' });
    expect(scheduler.active()).toHaveLength(0);
    expect(gateway.sockets).toHaveLength(1);
  });

  it('a refused handshake with a 401 refreshes the session first, then connects', async () => {
    const gateway = new FakeGateway();
    gateway.refuseHandshakes = true;
    let refreshed = false;
    const http = fakeFetch({
      document: () => (refreshed ? 200 : 401),
      refresh: () => {
        refreshed = true;
        gateway.refuseHandshakes = false;
        return 204;
      },
    });
    const a = client(gateway, alice, { fetch: http.fetch });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    expect(http.calls.map((c) => `${c.method} ${c.url}`).filter((c) => c !== 'GET /api/me')).toEqual([`GET /api/docs/${gateway.docId}`, 'POST /api/auth/refresh']);
  });

  it('FM-5.1: refreshes the session shortly before the access token expires, so an idle reader keeps receiving edits', async () => {
    const gateway = new FakeGateway();
    const scheduler = new RecordingScheduler();
    const http = fakeFetch({ me: () => ({ status: 200, expiresInMs: 15 * 60_000 }) });
    const a = client(gateway, alice, { fetch: http.fetch, scheduler, random: () => 0.5 });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    // 15 min left by the server's clock: the refresh is planned 60-120 s before expiry.
    const refresh = () => scheduler.active().filter((t) => t.ms >= 13 * 60_000 && t.ms <= 14 * 60_000);
    await waitFor(() => expect(refresh()).toHaveLength(1));
    expect(refresh()[0].ms).toBe(15 * 60_000 - 90_000);
    const sockets = gateway.sockets.length;
    scheduler.fire(refresh()[0]);
    await waitFor(() => expect(http.calls).toContainEqual({ method: 'POST', url: '/api/auth/refresh' }));
    await waitFor(() => expect(gateway.sockets.length).toBe(sockets + 1));
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ connection: 'open', saved: true }));
  });

  it('plans no session refresh when the API gives no expiry or no server date', async () => {
    const gateway = new FakeGateway();
    const scheduler = new RecordingScheduler();
    const a = client(gateway, alice, { scheduler });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    await waitFor(() => expect(a.http.calls).toContainEqual({ method: 'GET', url: '/api/me' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(scheduler.active().filter((t) => t.ms < 0.85 * 2 * 60 * 60_000 && t.ms > 60_000)).toHaveLength(0);
  });
});

describe('ConcordProvider batching (FM-1.8)', () => {
  it('FM-1.8: a burst of keystrokes and caret moves goes out as a few messages, and arrives whole', async () => {
    const gateway = new FakeGateway();
    const a = client(gateway, alice, { batchMs: 50 });
    const b = client(gateway, bob);
    await waitFor(() => expect(a.provider.getSnapshot().saved && b.provider.getSnapshot().saved).toBe(true));
    const socket = gateway.sockets[0];
    const framesBefore = socket.sentSizes.length;
    const text = new Y.XmlText('');
    const p = new Y.XmlElement('paragraph');
    p.insert(0, [text]);
    a.doc.getXmlFragment('body').push([p]);
    const typed = 'The quick brown fox jumps over the lazy dog. '.repeat(5);
    for (let i = 0; i < typed.length; i++) {
      text.insert(i, typed[i]);
      a.awareness.setLocalStateField('cursor', { at: i });
    }
    expect(a.provider.getSnapshot().pending).toBe(typed.length + 1);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ saved: true, pending: 0 }));
    await waitFor(() => expect(textOf(b.doc)).toBe(typed));
    // 226 document changes and 225 presence changes: one merged update and one presence message.
    expect(socket.sentSizes.length - framesBefore).toBeLessThanOrEqual(4);
    expect(await gateway.storedText()).toBe(typed);
  });

  it('FM-1.8: while the server has not acknowledged a batch, later changes merge into the next one instead of queueing', async () => {
    const gateway = new FakeGateway();
    const a = client(gateway, alice, { batchMs: 20 });
    await waitFor(() => expect(a.provider.getSnapshot().saved).toBe(true));
    const socket = gateway.sockets[0];
    gateway.holdAcksFor(socket);
    appendParagraph(a.doc, 'first.');
    await waitFor(async () => expect(await gateway.storedText()).toBe('first.'));
    const framesAfterFirst = socket.sentSizes.length;
    // Three more bursts, each well past the batch window, while the first is unacknowledged.
    for (const word of [' second.', ' third.', ' fourth.']) {
      appendParagraph(a.doc, word);
      await new Promise((r) => setTimeout(r, 60));
    }
    expect(socket.sentSizes.length).toBe(framesAfterFirst);
    expect(a.provider.getSnapshot()).toMatchObject({ saved: false, pending: 4 });
    gateway.releaseAcksFor(socket);
    await waitFor(async () => expect(await gateway.storedText()).toBe('first. second. third. fourth.'));
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ saved: true, pending: 0 }));
    expect(socket.sentSizes.length).toBe(framesAfterFirst + 1);
  });
});

describe('ConcordProvider large updates (FM-6.3)', () => {
  it('FM-6.3: a 1 MB paste leaves in frames under 32 KB and arrives intact at the other client', async () => {
    const gateway = new FakeGateway();
    const a = client(gateway, alice);
    const b = client(gateway, bob);
    await waitFor(() => expect(a.provider.getSnapshot().saved && b.provider.getSnapshot().saved).toBe(true));
    const big = Array.from({ length: 1024 * 1024 }, (_, i) => String.fromCharCode(97 + ((i * 7919) % 26))).join('');
    appendParagraph(a.doc, big);
    await waitFor(() => expect(a.provider.getSnapshot()).toMatchObject({ saved: true, pending: 0 }));
    const frames = gateway.sockets[0].sentSizes;
    expect(frames.length).toBeGreaterThan(40);
    expect(Math.max(...frames)).toBeLessThanOrEqual(LIMITS.frameBytes);
    await waitFor(() => expect(textOf(b.doc).length).toBe(big.length));
    expect(textOf(b.doc)).toBe(big);
    expect(await gateway.storedText()).toBe(big);
  });
});
