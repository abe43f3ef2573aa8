/**
 * The benchmark's correctness gate: after every run, every client must hold the same document,
 * and every edit a server acknowledged must be in the document that server stored. A failure
 * here makes `npm run bench` exit non-zero.
 */
import * as Y from 'yjs';

export interface ClientOutcome {
  readonly name: string;
  readonly doc: Y.Doc;
  /** Highest clock of this client's own edits that the server acknowledged (0: none acknowledged). */
  readonly ackedClock: number;
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
      const have = storedSv.get(c.doc.clientID) ?? 0;
      if (have < c.ackedClock) problems.push(`acknowledged edit lost: ${c.name}'s edits up to clock ${c.ackedClock} were acknowledged, the stored document has them only up to ${have}`);
    }
    const storedText = stored.getText(field).toString();
    if (storedText !== refText) problems.push(`stored document differs from the clients (${storedText.length} vs ${refText.length} characters)`);
    for (const [client, clock] of refSv) {
      if ((storedSv.get(client) ?? 0) < clock) problems.push(`stored document lacks edits of client ${client} that the clients have (clock ${storedSv.get(client) ?? 0} < ${clock})`);
    }
  }
  return { ok: problems.length === 0, problems };
}
