/**
 * Fuzzing through the local stack's API Gateway emulator: an attacker socket (an editor of the
 * document) sends generated malformed frames while healthy editors keep working. The expected
 * answer of each frame comes from the in-memory reference (the core's handleFrame over memory
 * ports), so every case is checked exactly even for inputs that may happen to be valid: the same
 * error code, an ack for a valid edit, or close 1009 for a frame over 32 KB at the gateway.
 */
import fc from 'fast-check';
import WebSocket from 'ws';
import { LIMITS } from '../../lambdas/core/limits';
import { decodeFrame } from '../../lambdas/core/protocol';
import { createMemoryServer } from '../support/memory-server';
import { fuzzCaseArb } from '../fuzz/cases';

export interface GatewayFuzzResult {
  readonly cases: number;
  readonly byCategory: Record<string, number>;
  /** Frames answered differently from the reference, with the case's category. */
  readonly problems: string[];
  readonly closes1009: number;
  readonly reconnects: number;
}

interface Expectation {
  errors: string[];
  acks: number;
  close1009: boolean;
}

export async function runGatewayFuzz(options: {
  readonly url: string;
  readonly headers: () => Record<string, string>;
  readonly cases: number;
  readonly seed: number;
  readonly answerTimeoutMs?: number;
  readonly log?: (line: string) => void;
}): Promise<GatewayFuzzResult> {
  const reference = createMemoryServer();
  let refConnection = 0;
  const problems: string[] = [];
  const byCategory: Record<string, number> = {};
  let closes1009 = 0;
  let reconnects = 0;

  let socket: WebSocket | null = null;
  let closeCode: number | null = null;
  let received: { errors: string[]; acks: number } = { errors: [], acks: 0 };
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of waiters) w();
  };
  const open = async () => {
    refConnection++;
    await reference.connect(`attacker-${refConnection}`, 'doc', 'mallory', 'editor');
    closeCode = null;
    const ws = new WebSocket(options.url, { headers: options.headers() });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the gateway refused the attacker socket: HTTP ${res.statusCode}`)));
    });
    ws.on('message', (data) => {
      try {
        const { message } = decodeFrame(data.toString());
        if (message.type === 'error') received.errors.push(message.code);
        if (message.type === 'ack') received.acks++;
      } catch {
        received.errors.push('<undecodable server frame>');
      }
      notify();
    });
    ws.on('close', (code) => {
      closeCode = code;
      notify();
    });
    ws.on('error', () => undefined);
    socket = ws;
  };
  const waitFor = (done: () => boolean, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      if (done()) return resolve(true);
      const timer = setTimeout(() => {
        waiters.delete(check);
        resolve(done());
      }, timeoutMs);
      const check = () => {
        if (done()) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(true);
        }
      };
      waiters.add(check);
    });

  await open();
  const predict = async (frame: string): Promise<Expectation> => {
    if (Buffer.byteLength(frame) > LIMITS.frameBytes) return { errors: [], acks: 0, close1009: true };
    await reference.frame(`attacker-${refConnection}`, frame);
    const sent = reference.broadcaster.take(`attacker-${refConnection}`).map((f) => decodeFrame(f).message);
    return { errors: sent.filter((m) => m.type === 'error').map((m) => (m as { code: string }).code), acks: sent.filter((m) => m.type === 'ack').length, close1009: false };
  };

  const samples = fc.sample(fuzzCaseArb({ chunked: false }), { numRuns: options.cases, seed: options.seed });
  for (const c of samples) {
    byCategory[c.category] = (byCategory[c.category] ?? 0) + 1;
    for (const frame of c.frames) {
      const expected = await predict(frame);
      received = { errors: [], acks: 0 };
      socket!.send(frame);
      if (expected.close1009) {
        const closed = await waitFor(() => closeCode !== null, options.answerTimeoutMs ?? 15_000);
        if (!closed || closeCode !== 1009) problems.push(`${c.category}: expected close 1009 for a ${Buffer.byteLength(frame)}-byte frame, got ${closeCode ?? 'no close'}`);
        else closes1009++;
        reconnects++;
        await open();
        continue;
      }
      const answered = await waitFor(() => received.errors.length >= expected.errors.length && received.acks >= expected.acks, options.answerTimeoutMs ?? 15_000);
      if (!answered) problems.push(`${c.category}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(received)} within the timeout`);
      else if (received.errors.join(',') !== expected.errors.join(',') || received.acks !== expected.acks) {
        problems.push(`${c.category}: expected errors [${expected.errors}] and ${expected.acks} ack(s), got [${received.errors}] and ${received.acks}`);
      }
      if (closeCode !== null) {
        problems.push(`${c.category}: the gateway closed the attacker socket (${closeCode}) on a frame it should have answered`);
        reconnects++;
        await open();
      }
    }
  }
  // Anything answered after its case was checked would show up here.
  received = { errors: [], acks: 0 };
  (socket as WebSocket | null)?.close();
  return { cases: samples.length, byCategory, problems, closes1009, reconnects };
}
