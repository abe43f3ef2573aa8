#!/usr/bin/env node
/**
 * A Concord client in plain JavaScript, written from docs/protocol.md alone: it uses only `yjs`,
 * `y-protocols` (with the `lib0` that comes with yjs), `ws` and Node built-ins, none of Concord's
 * own code. It connects, syncs, optionally appends a paragraph, waits until the server has
 * acknowledged every change it sent, and prints the document as plain text.
 *
 *   CONCORD_TOKEN=<access token> node examples/node-client.mjs 'ws://127.0.0.1:8787/ws?doc=<docId>' \
 *     [--insert "text"] [--token T | --cookie "concord_at=T"] [--field body] [--kind xml|text] \
 *     [--snapshot] [--timeout 30000]
 *
 * As a module: `const client = await connect({ url, token })`, then `client.synced`,
 * `client.insertText(s)`, `await client.whenSaved()`, `client.text()`, `await client.close()`.
 *
 * Document model: the web editor (Tiptap) keeps its content in the Y.XmlFragment named `body`,
 * one Y.XmlElement per block (`paragraph`, ...). `--kind text` uses a Y.Text instead.
 */
import { createHash, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import * as Y from 'yjs';
import * as syncProtocol from 'y-protocols/sync';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import WebSocket from 'ws';

// Message types (docs/protocol.md, "Messages").
const SYNC = 0;
const AWARENESS = 1;
const QUERY_AWARENESS = 3;
const CHUNK = 16;
const ACK = 17;
const ERROR = 18;
const REAUTH = 19;

// Sizes (docs/protocol.md, "Transport" and "Chunking").
const FRAME_LIMIT = 32 * 1024;
const PIECE_BYTES = 23 * 1024;

const REMOTE = Symbol('remote');

/** First 12 bytes of SHA-256 over the message bytes, base64url without padding. */
export const messageRef = (bytes) => createHash('sha256').update(bytes).digest().subarray(0, 12).toString('base64url');

/** One message as text frames: one base64 frame if it fits in 32 KB, else CHUNK frames. */
export function toFrames(bytes) {
  const single = Buffer.from(bytes).toString('base64');
  if (single.length <= FRAME_LIMIT) return [single];
  const id = randomUUID();
  const count = Math.ceil(bytes.length / PIECE_BYTES);
  const frames = [];
  for (let index = 0; index < count; index++) {
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, CHUNK);
    encoding.writeVarString(e, id);
    encoding.writeVarUint(e, index);
    encoding.writeVarUint(e, count);
    encoding.writeVarUint(e, bytes.length);
    encoding.writeVarUint8Array(e, bytes.subarray(index * PIECE_BYTES, (index + 1) * PIECE_BYTES));
    frames.push(Buffer.from(encoding.toUint8Array(e)).toString('base64'));
  }
  return frames;
}

export class ConcordClientError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'ConcordClientError';
    this.code = code;
  }
}

/** Plain text of the document: one line per block of an XmlFragment, or a Y.Text as is. */
export function documentText(doc, { field = 'body', kind = 'xml' } = {}) {
  if (kind === 'text') return doc.getText(field).toString();
  const textOf = (node) => {
    if (node instanceof Y.XmlText) return node.toDelta().map((op) => (typeof op.insert === 'string' ? op.insert : '')).join('');
    if (node instanceof Y.XmlElement || node instanceof Y.XmlFragment) return node.toArray().map(textOf).join('');
    return '';
  };
  return doc.getXmlFragment(field).toArray().map(textOf).join('\n');
}

/**
 * Opens a socket to a Concord document and starts the handshake. Resolves once the socket is
 * open; `client.synced` resolves when the server's step 2 has been applied.
 *
 * options: url (ws[s]://host/ws?doc=<docId>), docId (added to url when given), token (sent as the
 * `concord_at` cookie) or cookie (a whole Cookie header), field/kind (document model), doc (an
 * existing Y.Doc, e.g. with offline edits), loadSnapshot + httpBase (load the latest snapshot
 * over HTTPS first), retryDelayMs, timeoutMs, onError(code, message), onReauth(reason).
 */
export async function connect(options) {
  const url = new URL(options.url);
  if (options.docId) url.searchParams.set('doc', options.docId);
  const docId = url.searchParams.get('doc');
  if (!docId) throw new Error('The URL needs ?doc=<docId> (or pass docId).');
  const cookie = options.cookie ?? (options.token ? `concord_at=${options.token}` : undefined);
  const headers = { ...(options.headers ?? {}), ...(cookie ? { Cookie: cookie } : {}) };
  const field = options.field ?? 'body';
  const kind = options.kind ?? 'xml';
  const retryDelayMs = options.retryDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doc = options.doc ?? new Y.Doc();

  if (options.loadSnapshot) {
    // Large documents: the latest snapshot over HTTPS, so the socket only carries the tail.
    const httpBase = options.httpBase ?? `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`;
    const latest = await fetch(`${httpBase}/api/docs/${encodeURIComponent(docId)}/snapshots/latest`, { headers });
    if (!latest.ok) throw new Error(`Loading the latest snapshot failed with HTTP ${latest.status}`);
    const { version, url: snapshotUrl } = await latest.json();
    if (version > 0) {
      const body = await fetch(new URL(snapshotUrl, httpBase), { headers });
      if (!body.ok) throw new Error(`Loading snapshot ${version} failed with HTTP ${body.status}`);
      Y.applyUpdate(doc, new Uint8Array(await body.arrayBuffer()), REMOTE);
    }
  }

  const ws = new WebSocket(url, { headers });
  /** Sent, not yet acknowledged: ref -> message bytes (resent after `unavailable`). */
  const pending = new Map();
  const chunkSets = new Map();
  const errors = [];
  let handshakeDone = false;
  let failure = null;
  let resolveSynced;
  let rejectSynced;
  const synced = new Promise((resolve, reject) => {
    resolveSynced = resolve;
    rejectSynced = reject;
  });
  synced.catch(() => undefined);

  const fail = (error) => {
    failure ??= error;
    rejectSynced(error);
  };
  const sendBytes = (bytes) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    for (const frame of toFrames(bytes)) ws.send(frame);
  };
  /** A message carrying document changes: remembered by ref until the server acknowledges it. */
  const sendChanges = (bytes) => {
    pending.set(messageRef(bytes), bytes);
    sendBytes(bytes);
  };
  const resend = (refs) =>
    setTimeout(() => {
      for (const ref of refs) if (pending.has(ref)) sendBytes(pending.get(ref));
    }, retryDelayMs * (0.5 + Math.random())).unref();
  // Every piece of a chunk set can fail on its own: resend everything once, not once per error.
  let resendAllTimer = null;
  const resendAll = () => {
    resendAllTimer ??= setTimeout(() => {
      resendAllTimer = null;
      for (const bytes of pending.values()) sendBytes(bytes);
    }, retryDelayMs * (0.5 + Math.random())).unref();
  };

  doc.on('update', (update, origin) => {
    // Before the handshake our step 2 will carry this change; after it, send it as an update.
    if (origin === REMOTE || !handshakeDone) return;
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, SYNC);
    syncProtocol.writeUpdate(e, update);
    sendChanges(encoding.toUint8Array(e));
  });

  const onMessage = (bytes) => {
    const decoder = decoding.createDecoder(bytes);
    const type = decoding.readVarUint(decoder);
    switch (type) {
      case SYNC: {
        // readSyncMessage applies step 2 / update, and answers the server's step 1 with our
        // step 2 (everything the server lacks, offline edits included) into `reply`.
        const reply = encoding.createEncoder();
        encoding.writeVarUint(reply, SYNC);
        const subtype = syncProtocol.readSyncMessage(decoder, reply, doc, REMOTE);
        if (subtype === syncProtocol.messageYjsSyncStep1) {
          handshakeDone = true;
          sendChanges(encoding.toUint8Array(reply));
        } else if (subtype === syncProtocol.messageYjsSyncStep2) resolveSynced();
        break;
      }
      case AWARENESS:
      case QUERY_AWARENESS:
        break; // presence is not used by this client
      case CHUNK: {
        const id = decoding.readVarString(decoder);
        const index = decoding.readVarUint(decoder);
        const count = decoding.readVarUint(decoder);
        const totalBytes = decoding.readVarUint(decoder);
        const piece = decoding.readVarUint8Array(decoder);
        const set = chunkSets.get(id) ?? { count, totalBytes, pieces: new Map() };
        chunkSets.set(id, set);
        set.pieces.set(index, piece);
        if (set.pieces.size === set.count) {
          chunkSets.delete(id);
          const whole = Buffer.concat([...set.pieces.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p));
          if (whole.length !== set.totalBytes) throw new Error(`chunk set ${id} reassembled to ${whole.length} of ${set.totalBytes} bytes`);
          onMessage(new Uint8Array(whole));
        }
        break;
      }
      case ACK: {
        decoding.readVarUint(decoder); // seq: the per-document sequence number of the stored change
        pending.delete(decoding.readVarString(decoder));
        break;
      }
      case ERROR: {
        const code = decoding.readVarString(decoder);
        const message = decoding.readVarString(decoder);
        const ref = decoding.readVarString(decoder);
        errors.push({ code, message, ref });
        options.onError?.(code, message);
        if (code === 'unavailable' || code === 'rate_limited' || code === 'chunk_incomplete' || code === 'chunk_inconsistent') {
          // Transient: resend (changes are idempotent). No ref: resend everything unacknowledged.
          if (ref) resend([ref]);
          else resendAll();
        } else if (ref && pending.has(ref)) {
          pending.delete(ref);
          fail(new ConcordClientError(code, message));
        }
        break;
      }
      case REAUTH: {
        const reason = decoding.readVarString(decoder);
        options.onReauth?.(reason);
        // Refresh the token (POST /api/auth/refresh) and reconnect; this client just stops.
        fail(new ConcordClientError('token_expired', reason));
        break;
      }
      default:
        break; // unknown types are ignored, so newer servers can add messages
    }
  };

  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    try {
      onMessage(new Uint8Array(Buffer.from(data.toString(), 'base64')));
    } catch (e) {
      errors.push({ code: 'bad_message', message: e.message, ref: '' });
    }
  });
  ws.on('close', (code, reason) => {
    if (pending.size > 0 || !failure) fail(new ConcordClientError('closed', `socket closed (${code}${reason.length ? ` ${reason}` : ''})`));
  });

  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`No connection within ${timeoutMs} ms`)), timeoutMs);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      const hint = res.statusCode === 401 ? 'sign in again (missing, expired or revoked token)' : res.statusCode === 403 ? 'no access to this document' : 'connection refused';
      reject(new ConcordClientError(res.statusCode === 401 ? 'unauthorized' : res.statusCode === 403 ? 'forbidden' : 'refused', `HTTP ${res.statusCode}: ${hint}`));
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });

  // Handshake: our state vector first.
  const step1 = encoding.createEncoder();
  encoding.writeVarUint(step1, SYNC);
  syncProtocol.writeSyncStep1(step1, doc);
  sendBytes(encoding.toUint8Array(step1));

  const withTimeout = (promise, what) =>
    Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took longer than ${timeoutMs} ms`)), timeoutMs).unref())]);

  return {
    doc,
    ws,
    errors,
    /** Resolves when the server's step 2 has been applied. */
    get synced() {
      return withTimeout(synced, 'Sync');
    },
    get pendingCount() {
      return pending.size;
    },
    /** Appends a paragraph (or, with kind 'text', text at the end). */
    insertText(text) {
      if (kind === 'text') {
        const t = doc.getText(field);
        t.insert(t.length, text);
        return;
      }
      doc.transact(() => {
        const paragraph = new Y.XmlElement('paragraph');
        doc.getXmlFragment(field).push([paragraph]);
        paragraph.insert(0, [new Y.XmlText(text)]);
      });
    },
    text: () => documentText(doc, { field, kind }),
    /** Resolves when the handshake is done and every change sent has been acknowledged. */
    whenSaved() {
      const saved = synced.then(
        () =>
          new Promise((resolve, reject) => {
            const check = () => (failure ? reject(failure) : handshakeDone && pending.size === 0 ? resolve() : setTimeout(check, 10));
            check();
          }),
      );
      return withTimeout(saved, 'Saving');
    },
    async close() {
      if (ws.readyState === WebSocket.CLOSED) return;
      await new Promise((resolve) => {
        ws.once('close', resolve);
        ws.close(1000);
      });
    },
  };
}

function parseArgs(argv) {
  const args = { url: undefined, insert: undefined, token: process.env.CONCORD_TOKEN, cookie: process.env.CONCORD_COOKIE, field: 'body', kind: 'xml', snapshot: false, timeout: 30_000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--insert') args.insert = argv[++i];
    else if (a === '--token') args.token = argv[++i];
    else if (a === '--cookie') args.cookie = argv[++i];
    else if (a === '--field') args.field = argv[++i];
    else if (a === '--kind') args.kind = argv[++i];
    else if (a === '--snapshot') args.snapshot = true;
    else if (a === '--timeout') args.timeout = Number(argv[++i]);
    else if (!args.url) args.url = a;
    else throw new Error(`Unexpected argument ${a}`);
  }
  if (!args.url) throw new Error('Usage: node examples/node-client.mjs <ws://host/ws?doc=ID> [--insert text] [--token T] [--snapshot]');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const client = await connect({ url: args.url, token: args.token, cookie: args.cookie, field: args.field, kind: args.kind, loadSnapshot: args.snapshot, timeoutMs: args.timeout });
  try {
    await client.synced;
    if (args.insert !== undefined) client.insertText(args.insert);
    await client.whenSaved();
    process.stdout.write(`${client.text()}\n`);
  } finally {
    await client.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
}
