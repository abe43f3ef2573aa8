/**
 * The benchmark's correctness gate: after every run, every client must hold the same document,
 * and every edit a server acknowledged must be in the document that server stored. A failure
 * here makes `npm run bench` exit non-zero.
 */
import * as Y from 'yjs';

export interface ClientOutcome {
  readonly name: string;
  readonly doc: Y.Doc;
  /**
   * Clock ranges [start, end) of this client's own edits that the server acknowledged. Acks may
   * arrive out of order (an earlier edit still being retried), so each range is checked on its own.
   */
  readonly ackedRanges: readonly (readonly [number, number])[];
  /** Local edits sent but never acknowledged (null: the protocol has no acknowledgements). */
  readonly unacknowledged: number | null;
}

export interface VerifyInput {
  readonly clients: readonly ClientOutcome[];
  /** The document as the server stored it, read back by a fresh client (null: not checked). */
  readonly stored: Y.Doc | null;
  readonly field: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly problems: string[];
}

const stateVectorOf = (doc: Y.Doc): Map<number, number> => Y.decodeStateVector(Y.encodeStateVector(doc));

/**
 * Whether `doc` holds the structs of `client` in [start, end): either integrated (below its state
 * vector) or received but pending, waiting for an earlier edit of the same client that a server
 * acknowledged later.
 */
export function holdsRange(doc: Y.Doc, client: number, start: number, end: number): boolean {
  const integrated = Y.getState(doc.store, client);
  if (end <= integrated) return true;
  const pending = doc.store.pendingStructs ? Y.decodeUpdateV2(doc.store.pendingStructs.update).structs : [];
  const ranges = pending.filter((s) => s.id.client === client).map((s) => [s.id.clock, s.id.clock + s.length] as const).sort((a, b) => a[0] - b[0]);
  let covered = Math.max(start, integrated);
  for (const [from, to] of ranges) {
    if (from > covered) break;
    if (to > covered) covered = to;
    if (covered >= end) return true;
  }
  return covered >= end;
}

export function verifyRun(input: VerifyInput): VerifyResult {
  const problems: string[] = [];
  const { clients, stored, field } = input;
  if (clients.length === 0) return { ok: false, problems: ['no clients to verify'] };
  const reference = clients[0];
  const refText = reference.doc.getText(field).toString();
  const refSv = stateVectorOf(reference.doc);
  for (const c of clients) {
    const text = c.doc.getText(field).toString();
    if (text !== refText) problems.push(`not converged: ${c.name} has ${text.length} characters, ${reference.name} has ${refText.length}`);
    const sv = stateVectorOf(c.doc);
    for (const other of clients) {
      const own = Y.getState(other.doc.store, other.doc.clientID);
      if ((sv.get(other.doc.clientID) ?? 0) < own) problems.push(`not converged: ${c.name} lacks edits of ${other.name} (clock ${sv.get(other.doc.clientID) ?? 0} < ${own})`);
    }
    if (c.unacknowledged !== null && c.unacknowledged > 0) problems.push(`${c.name} has ${c.unacknowledged} edits the server never acknowledged`);
  }
  if (stored) {
    const storedSv = stateVectorOf(stored);
    for (const c of clients) {
      const lost = c.ackedRanges.filter(([start, end]) => !holdsRange(stored, c.doc.clientID, start, end));
      if (lost.length) problems.push(`acknowledged edit lost: ${lost.length} of ${c.name}'s acknowledged edits (first at clock ${lost[0][0]}) are not in the stored document`);
    }
    const storedText = stored.getText(field).toString();
    if (storedText !== refText) problems.push(`stored document differs from the clients (${storedText.length} vs ${refText.length} characters)`);
    for (const [client, clock] of refSv) {
      if ((storedSv.get(client) ?? 0) < clock) problems.push(`stored document lacks edits of client ${client} that the clients have (clock ${storedSv.get(client) ?? 0} < ${clock})`);
    }
  }
  return { ok: problems.length === 0, problems };
}
