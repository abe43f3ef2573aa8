/**
 * Machine-readable error codes. Every refusal carries one of these and a sentence the user can
 * act on. The wire protocol sends them in ERROR messages (docs/protocol.md lists them all).
 */
export const ERROR_CODES = {
  /** The frame was not valid base64 text. */
  bad_base64: 'The frame is not valid base64. Send each message as base64 text.',
  /** The decoded bytes are not a Concord/y-protocols message. */
  bad_message: 'The message could not be decoded. Check the client speaks the Concord protocol.',
  /** Unknown message type number. */
  unknown_type: 'Unknown message type. Upgrade the client or check docs/protocol.md.',
  /** The Yjs update (sync step 2 or update) is not a valid Yjs v1 update. */
  bad_update: 'The document update is not a valid Yjs update; nothing was saved.',
  /** The awareness update could not be decoded. */
  bad_awareness: 'The presence (awareness) update could not be decoded.',
  /** A chunk header is out of range or the piece is oversized. */
  bad_chunk: 'A chunk is malformed (index, count or size out of range).',
  /** Pieces of one chunk set disagree (count, total size, or different bytes for one index). */
  chunk_inconsistent: 'The pieces of a chunked message disagree with each other; resend it.',
  /**
   * A chunk set reassembled to the wrong size (a stored piece was lost or altered). Sets that are
   * simply abandoned expire silently (store TTL); the sender resends after its socket closes.
   */
  chunk_incomplete: 'A chunked message was incomplete; resend it.',
  /** A frame above 32 KB (close 1009 at the gateway). */
  frame_too_large: 'A frame is larger than 32 KB; split the message into chunks.',
  /** A message above 128 KB (close 1009 at the gateway). */
  message_too_large: 'A message is larger than 128 KB; split it into chunks.',
  /** Binary frames are refused by API Gateway (close 1003). */
  binary_frame: 'Binary frames are not supported; send base64 text frames.',
  /** A single update beyond LIMITS.updateBytes. */
  update_too_large: 'The change is too large to save in one piece (limit 8 MB).',
  /** The document would pass LIMITS.documentBytes. */
  document_too_large: 'The document has reached its size limit (64 MB); start a new document.',
  /** A viewer sent an update. */
  read_only: 'You can view this document but not edit it. Ask the owner for editor access.',
  /** No valid token at connect. */
  unauthorized: 'Sign in to open this document.',
  /** Valid token, no role on this document. */
  forbidden: 'You do not have access to this document. Ask its owner to share it with you.',
  /** The access token expired while the socket was open. */
  token_expired: 'Your session expired; the client will reconnect after refreshing it.',
  /**
   * One connection stored more chunk pieces than its budget allows within the chunk store's TTL
   * window (chunks.ts CHUNK_BUDGET_*), so unfinished chunk sets cannot fill the store.
   */
  chunk_budget: 'Too many large changes are being sent at once from this connection; wait a few minutes, then resend them.',
  /** Too many messages from one connection. */
  rate_limited: 'Too many messages too quickly; slow down and retry the change.',
  /** A document that does not exist. */
  not_found: 'The document does not exist or was deleted.',
  /** A temporary server-side failure: the change was not saved; retry it. */
  unavailable: 'The server could not save the change right now; it will be retried.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** WebSocket close codes the gateway (API Gateway or the local emulator) uses. */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
} as const;

export class ConcordError extends Error {
  readonly code: ErrorCode;
  /** What exactly was wrong, for logs and the error sentence (never secrets). */
  readonly detail: string | undefined;
  constructor(code: ErrorCode, detail?: string) {
    super(detail ? `${ERROR_CODES[code]} (${detail})` : ERROR_CODES[code]);
    this.name = 'ConcordError';
    this.code = code;
    this.detail = detail;
  }
}

export const isConcordError = (e: unknown): e is ConcordError => e instanceof ConcordError;
