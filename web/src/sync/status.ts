/**
 * What the status indicator says, derived only from facts the provider knows: the socket state and
 * ClientSession's count of changes the server has not acknowledged. "Saved" therefore means the
 * server acknowledged every local change, never merely "the socket is open".
 */
export type ConnectionState =
  /** Loading the local copy and the latest snapshot; no socket yet. */
  | 'loading'
  /** First connection attempt in progress. */
  | 'connecting'
  /** Socket open (the handshake may still be running). */
  | 'open'
  /** The socket dropped; a reconnect is scheduled or in progress. */
  | 'reconnecting'
  /** The browser reports no network; nothing is attempted until it comes back. */
  | 'offline'
  /** The access token expired; refreshing it before reconnecting. */
  | 'reauthenticating'
  /** The refresh token is gone too: the user must sign in again. Local edits are kept. */
  | 'signed-out'
  /** The server refuses this user on this document (no role, or the document is gone). */
  | 'no-access'
  | 'closed';

export interface SyncSnapshot {
  readonly connection: ConnectionState;
  /** The server's state has been merged since the socket opened. */
  readonly synced: boolean;
  /** Connected, synced, and every local change acknowledged. */
  readonly saved: boolean;
  /** Local changes the server has not acknowledged yet. */
  readonly pending: number;
  /** The last refusal from the server, for a message the user can act on. */
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

export type StatusTone = 'ok' | 'busy' | 'warn' | 'error';

export interface StatusView {
  readonly tone: StatusTone;
  readonly label: string;
  /** A longer explanation for the tooltip / screen readers. */
  readonly detail: string;
}

const changes = (n: number) => `${n} ${n === 1 ? 'change' : 'changes'}`;

export function describeStatus(s: SyncSnapshot): StatusView {
  switch (s.connection) {
    case 'loading':
      return { tone: 'busy', label: 'Loading…', detail: 'Opening the local copy and the latest saved version.' };
    case 'offline':
      return s.pending > 0
        ? { tone: 'warn', label: `Offline — ${changes(s.pending)} pending`, detail: 'You are offline. Your edits are kept on this device and will be sent when the connection returns.' }
        : { tone: 'warn', label: 'Offline', detail: 'You are offline. Edits you make are kept on this device and sent when the connection returns.' };
    case 'signed-out':
      return { tone: 'error', label: s.pending > 0 ? `Signed out — ${changes(s.pending)} pending` : 'Signed out', detail: 'Your session ended. Sign in again to save your changes; they are kept on this device.' };
    case 'no-access':
      return { tone: 'error', label: 'No access', detail: s.lastError?.message ?? 'You do not have access to this document. Ask its owner to share it with you.' };
    case 'closed':
      return { tone: 'warn', label: 'Closed', detail: 'This document is closed.' };
    case 'connecting':
      return { tone: 'busy', label: 'Connecting…', detail: 'Connecting to the server.' };
    case 'reconnecting':
    case 'reauthenticating':
      return s.pending > 0
        ? { tone: 'warn', label: `Reconnecting… ${changes(s.pending)} pending`, detail: 'The connection dropped. Your edits are kept on this device and will be sent when it is back.' }
        : { tone: 'warn', label: 'Reconnecting…', detail: 'The connection dropped; reconnecting.' };
    case 'open':
      if (s.saved) return { tone: 'ok', label: 'Saved', detail: 'Every change is saved on the server.' };
      if (!s.synced) return { tone: 'busy', label: 'Syncing…', detail: 'Catching up with the latest version.' };
      return { tone: 'busy', label: 'Saving…', detail: s.pending > 0 ? `${changes(s.pending)} waiting for the server to confirm.` : 'Finishing the sync with the server.' };
  }
}
