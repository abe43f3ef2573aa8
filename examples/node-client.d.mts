/** Types for examples/node-client.mjs (plain JavaScript), for TypeScript tests that import it. */
import type * as Y from 'yjs';
import type WebSocket from 'ws';

export interface ConnectOptions {
  /** ws[s]://host/ws?doc=<docId> */
  url: string;
  /** Sets or replaces the `doc` query parameter. */
  docId?: string;
  /** Access token, sent as the `concord_at` cookie. */
  token?: string;
  /** A whole Cookie header instead of `token`. */
  cookie?: string;
  headers?: Record<string, string>;
  /** Name of the shared type holding the document (default `body`, as the web editor). */
  field?: string;
  /** `xml` (Tiptap's Y.XmlFragment of blocks, default) or `text` (a Y.Text). */
  kind?: 'xml' | 'text';
  /** An existing document, e.g. with edits made offline; they are sent in the handshake. */
  doc?: Y.Doc;
  /** Load the latest snapshot over HTTPS (docs/api.md) before opening the socket. */
  loadSnapshot?: boolean;
  /** Origin of the HTTP API (default: the socket URL's host over http/https). */
  httpBase?: string;
  retryDelayMs?: number;
  timeoutMs?: number;
  onError?: (code: string, message: string) => void;
  onReauth?: (reason: string) => void;
}

export interface ConcordClient {
  readonly doc: Y.Doc;
  readonly ws: WebSocket;
  readonly errors: { code: string; message: string; ref: string }[];
  /** Resolves when the server's step 2 has been applied. */
  readonly synced: Promise<void>;
  readonly pendingCount: number;
  insertText(text: string): void;
  text(): string;
  /** Resolves when the handshake is done and every change sent is acknowledged; rejects with the server's error code otherwise. */
  whenSaved(): Promise<void>;
  close(): Promise<void>;
}

export class ConcordClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string);
}

export function connect(options: ConnectOptions): Promise<ConcordClient>;
export function documentText(doc: Y.Doc, options?: { field?: string; kind?: 'xml' | 'text' }): string;
export function messageRef(bytes: Uint8Array): string;
export function toFrames(bytes: Uint8Array): string[];
