/**
 * Reassembly of chunked messages over a ChunkStore (durable on the server, in memory in a client).
 * Redelivered pieces are harmless; pieces that disagree are refused and the set is dropped.
 */
import { ConcordError } from './errors';
import { LIMITS, maxChunkCount } from './limits';
import type { Cache, ChunkStore, ChunkPiece } from './ports';
import { validateChunk, type MessageOf } from './protocol';

/**
 * Budget of chunk pieces per connection, counted through the cache's `incr` (with the cache down,
 * resilientCache counts per process: weaker, never failing). The window equals the chunk store's
 * TTL (10 min, adapters/dynamodb-connections.ts), so one connection can have at most two windows'
 * pieces in the store at once, complete or not: 2 x 4 maximal (8 MiB) messages, about 64 MiB.
 * Ordinary edits are single frames and never touch this budget.
 */
export const CHUNK_BUDGET_WINDOW_SECONDS = 10 * 60;
export const CHUNK_BUDGET_PIECES = 4 * maxChunkCount;

/**
 * Charges one incoming piece to its connection's budget before anything is stored. Throws
 * ConcordError `chunk_budget` once the connection is over it for the current window.
 */
export async function chargeChunkPiece(cache: Cache, connectionId: string, nowMs: number, maxPieces: number = CHUNK_BUDGET_PIECES): Promise<void> {
  const window = Math.floor(nowMs / 1000 / CHUNK_BUDGET_WINDOW_SECONDS);
  const used = await cache.incr(`chunks:${connectionId}:${window}`, 2 * CHUNK_BUDGET_WINDOW_SECONDS);
  if (used > maxPieces) {
    throw new ConcordError('chunk_budget', `${maxPieces} pieces (about ${Math.round((maxPieces * LIMITS.chunkPieceBytes) / 2 ** 20)} MiB) per ${CHUNK_BUDGET_WINDOW_SECONDS / 60} minutes`);
  }
}

const samePiece = (a: ChunkPiece, b: ChunkPiece): boolean => {
  if (a.count !== b.count || a.totalBytes !== b.totalBytes || a.piece.length !== b.piece.length) return false;
  for (let i = 0; i < a.piece.length; i++) if (a.piece[i] !== b.piece[i]) return false;
  return true;
};

/**
 * Adds one piece. Returns the reassembled message bytes when this piece completes the set (the
 * set is then deleted), null while pieces are missing. Throws ConcordError `bad_chunk`,
 * `chunk_inconsistent` or `chunk_incomplete` (the set is dropped; the sender resends).
 */
export async function acceptChunk(store: ChunkStore, connectionId: string, chunk: MessageOf<'chunk'>): Promise<Uint8Array | null> {
  validateChunk(chunk);
  const piece: ChunkPiece = { index: chunk.index, count: chunk.count, totalBytes: chunk.totalBytes, piece: chunk.piece };
  const existing = await store.putPiece(connectionId, chunk.id, piece);
  if (existing && !samePiece(existing, piece)) {
    await store.deleteSet(connectionId, chunk.id, chunk.count);
    throw new ConcordError('chunk_inconsistent', `two different pieces for index ${chunk.index}`);
  }
  const pieces = await store.pieces(connectionId, chunk.id);
  if (pieces.some((p) => p.count !== chunk.count || p.totalBytes !== chunk.totalBytes)) {
    await store.deleteSet(connectionId, chunk.id, chunk.count);
    throw new ConcordError('chunk_inconsistent', 'pieces disagree on count or total size');
  }
  const byIndex = new Map(pieces.map((p) => [p.index, p]));
  if (byIndex.size < chunk.count) return null;
  const out = new Uint8Array(chunk.totalBytes);
  let offset = 0;
  for (let i = 0; i < chunk.count; i++) {
    const p = byIndex.get(i)!.piece;
    if (offset + p.length > out.length) {
      // Only a store that lost or altered a piece gets here: drop the set so a resend starts clean.
      await store.deleteSet(connectionId, chunk.id, chunk.count);
      throw new ConcordError('chunk_incomplete', 'pieces exceed the declared size');
    }
    out.set(p, offset);
    offset += p.length;
  }
  // Another invocation may complete the same set concurrently; both results are identical and
  // the update they carry is idempotent, so deleting twice is harmless.
  await store.deleteSet(connectionId, chunk.id, chunk.count);
  if (offset !== chunk.totalBytes) throw new ConcordError('chunk_incomplete', `reassembled ${offset} of ${chunk.totalBytes} bytes`);
  return out;
}
