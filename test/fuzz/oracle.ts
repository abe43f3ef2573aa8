/**
 * What every fuzz case must satisfy, whatever the target (core, message handler, local gateway):
 * the answers the attacker got, what was stored, and what the healthy clients saw.
 */
import * as Y from 'yjs';
import { ClientSession } from '../../lambdas/core/client-session';
import { ERROR_CODES } from '../../lambdas/core/errors';
import { decodeFrame } from '../../lambdas/core/protocol';
import type { FuzzCase } from './cases';

export interface CaseObservation {
  /** Outcome per frame as the handler reported it ('refused:<code>', 'ok', 'chunk-pending'), when visible. */
  readonly outcomes: readonly string[];
  /** Error codes in the frames the attacker received, in order. */
  readonly errorCodes: readonly string[];
  /** Entries added to the attacked document's op log by this case. */
  readonly storedUpdates: readonly Uint8Array[];
  /** Close code of the attacker's socket, when the gateway closed it. */
  readonly closeCode?: number;
}

/** Returns a list of violations (empty when the case was handled as documented). */
export function checkCase(c: FuzzCase, o: CaseObservation): string[] {
  const problems: string[] = [];
  for (const code of o.errorCodes) if (!(code in ERROR_CODES)) problems.push(`undocumented error code ${code}`);
  for (const u of o.storedUpdates) {
    try {
      Y.decodeUpdate(u);
    } catch {
      problems.push('an invalid Yjs update was stored');
    }
  }
  if (c.codes === null) return problems;
  if (c.validEdit) {
    if (o.storedUpdates.length !== 1) problems.push(`a valid edit was stored ${o.storedUpdates.length} times`);
    if (o.errorCodes.length) problems.push(`a valid edit was refused with ${o.errorCodes.join(',')}`);
    return problems;
  }
  if (o.storedUpdates.length) problems.push(`${o.storedUpdates.length} update(s) stored from a ${c.category} case`);
  for (const code of o.errorCodes) if (!c.codes.includes(code as never)) problems.push(`answered ${code}, expected one of ${c.codes.join(',') || '(none)'}`);
  const refusedOrClosed = o.errorCodes.length > 0 || o.closeCode !== undefined;
  if (!c.pendingAllowed && !refusedOrClosed) problems.push(`no refusal for a ${c.category} case`);
  if (c.codes.length > 0 && !c.pendingAllowed && o.outcomes.some((x) => x === 'ok' || x === 'chunk-pending')) problems.push(`a frame of a ${c.category} case was accepted (${o.outcomes.join(',')})`);
  if (c.codes.length > 0 && c.pendingAllowed && !refusedOrClosed) problems.push(`no ${c.codes.join('/')} for a ${c.category} case`);
  return problems;
}

/** Error codes carried by server frames (ignores everything else). */
export function errorCodesOf(frames: readonly string[]): string[] {
  const codes: string[] = [];
  for (const f of frames) {
    try {
      const { message } = decodeFrame(f);
      if (message.type === 'error') codes.push(message.code);
    } catch {
      codes.push('<undecodable server frame>');
    }
  }
  return codes;
}

/** A healthy client: records every error it sees, so "unaffected" is checkable. */
export function healthyClient(name: string) {
  const doc = new Y.Doc();
  const errors: string[] = [];
  const session = new ClientSession(doc, null, { retryDelayMs: 20, events: { error: (code, message) => errors.push(`${name}: ${code} ${message}`) } });
  return { name, doc, session, errors };
}

export const text = (doc: Y.Doc) => doc.getText('t').toString();
