/**
 * Protocol limits. They follow API Gateway WebSocket's (32 KB frames, 128 KB messages; see
 * ../shared/BLUEPRINT.md §4) so that a client that works locally works on AWS.
 */
export const LIMITS = {
  /** Largest text frame API Gateway accepts. Browsers send one frame per message. */
  frameBytes: 32 * 1024,
  /** Largest message API Gateway accepts (beyond it the socket closes with 1009). */
  messageBytes: 128 * 1024,
  /**
   * Raw bytes per chunk piece. base64 grows by 4/3, plus the chunk header: 23 KiB raw makes a
   * frame of at most ~31.5 KB, safely under the 32 KB frame limit.
   */
  chunkPieceBytes: 23 * 1024,
  /** Largest single update (or any reassembled message) accepted. */
  updateBytes: 8 * 1024 * 1024,
  /** Largest stored document (snapshot + uncompacted tail). */
  documentBytes: 64 * 1024 * 1024,
  /** Chunk ids are short opaque strings. */
  chunkIdLength: 64,
} as const;

/** Pieces needed for a message of `bytes` raw bytes. */
export const maxChunkCount = Math.ceil(LIMITS.updateBytes / LIMITS.chunkPieceBytes) + 1;
