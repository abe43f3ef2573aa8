/**
 * Concord wire protocol: y-protocols messages (sync, awareness) plus Concord's own types (chunk,
 * ack, error, reauth), each encoded as bytes and carried base64-encoded in a text frame, since
 * API Gateway WebSocket refuses binary frames. docs/protocol.md is the prose version of this file.
 *
 * Every message is `varUint type` followed by its body (lib0 encoding, as y-websocket does):
 *   0 sync       varUint subtype (0 step1 | 1 step2 | 2 update), varUint8Array payload
 *   1 awareness  varUint8Array awareness update (y-protocols/awareness)
 *   3 query-awareness (no body)
 *  16 chunk      varString id, varUint index, varUint count, varUint totalBytes, varUint8Array piece
 *  17 ack        varUint seq, varString ref
 *  18 error      varString code, varString message, varString ref
 *  19 reauth     varString reason
 */
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';
import { digest } from 'lib0/hash/sha256';
import { uuidv4 } from 'lib0/random';
import { ConcordError } from './errors';
import { LIMITS, maxChunkCount } from './limits';

export const MESSAGE_TYPE = {
  sync: 0,
  awareness: 1,
  queryAwareness: 3,
  chunk: 16,
  ack: 17,
  error: 18,
  reauth: 19,
} as const;

/** y-protocols/sync subtypes. */
export const SYNC_TYPE = { step1: 0, step2: 1, update: 2 } as const;

export type Message =
  | { type: 'sync-step1'; stateVector: Uint8Array }
  | { type: 'sync-step2'; update: Uint8Array }
  | { type: 'sync-update'; update: Uint8Array }
  | { type: 'awareness'; update: Uint8Array }
  | { type: 'query-awareness' }
  | { type: 'chunk'; id: string; index: number; count: number; totalBytes: number; piece: Uint8Array }
  | { type: 'ack'; seq: number; ref: string }
  | { type: 'error'; code: string; message: string; ref: string }
  | { type: 'reauth'; reason: string };

export type MessageOf<T extends Message['type']> = Extract<Message, { type: T }>;

export function encodeMessage(message: Message): Uint8Array {
  const e = encoding.createEncoder();
  switch (message.type) {
    case 'sync-step1':
      encoding.writeVarUint(e, MESSAGE_TYPE.sync);
      encoding.writeVarUint(e, SYNC_TYPE.step1);
      encoding.writeVarUint8Array(e, message.stateVector);
      break;
    case 'sync-step2':
    case 'sync-update':
      encoding.writeVarUint(e, MESSAGE_TYPE.sync);
      encoding.writeVarUint(e, message.type === 'sync-step2' ? SYNC_TYPE.step2 : SYNC_TYPE.update);
      encoding.writeVarUint8Array(e, message.update);
      break;
    case 'awareness':
      encoding.writeVarUint(e, MESSAGE_TYPE.awareness);
      encoding.writeVarUint8Array(e, message.update);
      break;
    case 'query-awareness':
      encoding.writeVarUint(e, MESSAGE_TYPE.queryAwareness);
      break;
    case 'chunk':
      encoding.writeVarUint(e, MESSAGE_TYPE.chunk);
      encoding.writeVarString(e, message.id);
      encoding.writeVarUint(e, message.index);
      encoding.writeVarUint(e, message.count);
      encoding.writeVarUint(e, message.totalBytes);
      encoding.writeVarUint8Array(e, message.piece);
      break;
    case 'ack':
      encoding.writeVarUint(e, MESSAGE_TYPE.ack);
      encoding.writeVarUint(e, message.seq);
      encoding.writeVarString(e, message.ref);
      break;
    case 'error':
      encoding.writeVarUint(e, MESSAGE_TYPE.error);
      encoding.writeVarString(e, message.code);
      encoding.writeVarString(e, message.message);
      encoding.writeVarString(e, message.ref);
      break;
    case 'reauth':
      encoding.writeVarUint(e, MESSAGE_TYPE.reauth);
      encoding.writeVarString(e, message.reason);
      break;
  }
  return encoding.toUint8Array(e);
}

/**
 * Decodes one message. Throws ConcordError `unknown_type` for an unknown type number and
 * `bad_message` for anything truncated, over-long, or with trailing bytes.
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const d = decoding.createDecoder(bytes);
  let message: Message;
  let type: number;
  try {
    type = decoding.readVarUint(d);
  } catch {
    throw new ConcordError('bad_message', 'empty or truncated message type');
  }
  try {
    switch (type) {
      case MESSAGE_TYPE.sync: {
        const sub = decoding.readVarUint(d);
        const payload = decoding.readVarUint8Array(d);
        if (sub === SYNC_TYPE.step1) message = { type: 'sync-step1', stateVector: payload };
        else if (sub === SYNC_TYPE.step2) message = { type: 'sync-step2', update: payload };
        else if (sub === SYNC_TYPE.update) message = { type: 'sync-update', update: payload };
        else throw new ConcordError('unknown_type', `sync subtype ${sub}`);
        break;
      }
      case MESSAGE_TYPE.awareness:
        message = { type: 'awareness', update: decoding.readVarUint8Array(d) };
        break;
      case MESSAGE_TYPE.queryAwareness:
        message = { type: 'query-awareness' };
        break;
      case MESSAGE_TYPE.chunk:
        message = {
          type: 'chunk',
          id: decoding.readVarString(d),
          index: decoding.readVarUint(d),
          count: decoding.readVarUint(d),
          totalBytes: decoding.readVarUint(d),
          piece: decoding.readVarUint8Array(d),
        };
        break;
      case MESSAGE_TYPE.ack:
        message = { type: 'ack', seq: decoding.readVarUint(d), ref: decoding.readVarString(d) };
        break;
      case MESSAGE_TYPE.error:
        message = {
          type: 'error',
          code: decoding.readVarString(d),
          message: decoding.readVarString(d),
          ref: decoding.readVarString(d),
        };
        break;
      case MESSAGE_TYPE.reauth:
        message = { type: 'reauth', reason: decoding.readVarString(d) };
        break;
      default:
        throw new ConcordError('unknown_type', `message type ${type}`);
    }
  } catch (e) {
    if (e instanceof ConcordError) throw e;
    throw new ConcordError('bad_message', 'truncated or malformed body');
  }
  if (decoding.hasContent(d)) throw new ConcordError('bad_message', 'trailing bytes after the message');
  return message;
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toBase64(bytes: Uint8Array): string {
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Strict base64 (standard alphabet, padded). Throws ConcordError `bad_base64`. */
export function fromBase64(text: string): Uint8Array {
  if (!BASE64_RE.test(text)) throw new ConcordError('bad_base64');
  if (typeof Buffer !== 'undefined') return new Uint8Array(Buffer.from(text, 'base64'));
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Byte length of a string as UTF-8: what the gateway counts against its frame limit. */
export function utf8Length(text: string): number {
  if (typeof Buffer !== 'undefined') return Buffer.byteLength(text, 'utf8');
  return new TextEncoder().encode(text).length;
}

/**
 * A short, stable reference to a message, computed identically by client and server from the
 * message bytes (before chunking). ACK and ERROR carry it, so a client knows which of its
 * updates are durable without any ids of its own and without consulting any clock.
 */
export function messageRef(messageBytes: Uint8Array): string {
  const h = digest(messageBytes);
  return toBase64(h.subarray(0, 12)).replace(/\+/g, '-').replace(/\//g, '_');
}

const randomChunkId = (): string => uuidv4();

/**
 * Encodes a message as one or more text frames. A message whose single frame would pass the
 * 32 KB frame limit is split into CHUNK messages of at most LIMITS.chunkPieceBytes raw bytes.
 * Throws ConcordError `update_too_large` for messages beyond LIMITS.updateBytes.
 */
export function encodeFrames(message: Message | Uint8Array, newChunkId: () => string = randomChunkId): string[] {
  const bytes = message instanceof Uint8Array ? message : encodeMessage(message);
  const single = toBase64(bytes);
  if (single.length <= LIMITS.frameBytes) return [single];
  if (bytes.length > LIMITS.updateBytes + 64) throw new ConcordError('update_too_large', `${bytes.length} bytes`);
  const id = newChunkId();
  const count = Math.ceil(bytes.length / LIMITS.chunkPieceBytes);
  const frames: string[] = [];
  for (let index = 0; index < count; index++) {
    const piece = bytes.subarray(index * LIMITS.chunkPieceBytes, (index + 1) * LIMITS.chunkPieceBytes);
    frames.push(toBase64(encodeMessage({ type: 'chunk', id, index, count, totalBytes: bytes.length, piece })));
  }
  return frames;
}

/**
 * Decodes one text frame: frame size, strict base64, message structure. Does not reassemble
 * chunks (see chunks.ts) and does not validate Yjs payloads (see document.ts).
 */
export function decodeFrame(text: string): { message: Message; bytes: Uint8Array } {
  if (utf8Length(text) > LIMITS.frameBytes) throw new ConcordError('frame_too_large');
  const bytes = fromBase64(text);
  return { message: decodeMessage(bytes), bytes };
}

/** Header checks for a chunk, independent of any other piece. */
export function validateChunk(chunk: MessageOf<'chunk'>): void {
  if (chunk.id.length === 0 || chunk.id.length > LIMITS.chunkIdLength) throw new ConcordError('bad_chunk', 'chunk id length');
  if (chunk.count < 1 || chunk.count > maxChunkCount) throw new ConcordError('bad_chunk', `count ${chunk.count}`);
  if (chunk.index >= chunk.count) throw new ConcordError('bad_chunk', `index ${chunk.index} of ${chunk.count}`);
  if (chunk.totalBytes < 1 || chunk.totalBytes > LIMITS.updateBytes + 64) throw new ConcordError('update_too_large', `${chunk.totalBytes} bytes`);
  if (chunk.piece.length === 0 || chunk.piece.length > LIMITS.chunkPieceBytes) throw new ConcordError('bad_chunk', `piece of ${chunk.piece.length} bytes`);
  if (Math.ceil(chunk.totalBytes / LIMITS.chunkPieceBytes) !== chunk.count) throw new ConcordError('chunk_inconsistent', 'count does not match total size');
  const expected = chunk.index < chunk.count - 1 ? LIMITS.chunkPieceBytes : chunk.totalBytes - (chunk.count - 1) * LIMITS.chunkPieceBytes;
  if (chunk.piece.length !== expected) throw new ConcordError('chunk_inconsistent', `piece ${chunk.index} has ${chunk.piece.length} bytes, expected ${expected}`);
}

export const errorMessage = (code: ConcordError['code'], message: string, ref = ''): MessageOf<'error'> => ({
  type: 'error',
  code,
  message,
  ref,
});
