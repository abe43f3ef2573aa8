/**
 * `$disconnect`: forgets the connection, its unfinished chunk sets and its presence, and tells the
 * document's other connections that this user's cursor is gone (an awareness update marking its
 * clients offline), so no ghost cursor lingers until the 30 s awareness timeout. Best effort by
 * nature (API Gateway may not deliver it); TTL and 410s clean up whatever it misses.
 */
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { encodeFrames, fromBase64 } from './core/protocol';
import { postToMany, presenceKey } from './core/session';
import { forgetConnection } from './message';
import { getLogger, instrumented } from './observability';
import { runtime } from './runtime';
import { authorizerContext, type WebSocketEvent } from './ws-event';

/**
 * The awareness update that removes the clients of a stored presence update: same client ids,
 * clock + 1, state null (what y-protocols' removeAwarenessStates sends).
 */
export function awarenessRemoval(stored: Uint8Array): Uint8Array | null {
  try {
    const d = decoding.createDecoder(stored);
    const n = decoding.readVarUint(d);
    const e = encoding.createEncoder();
    encoding.writeVarUint(e, n);
    for (let i = 0; i < n; i++) {
      encoding.writeVarUint(e, decoding.readVarUint(d));
      encoding.writeVarUint(e, decoding.readVarUint(d) + 1);
      decoding.readVarString(d);
      encoding.writeVarString(e, 'null');
    }
    return n > 0 ? encoding.toUint8Array(e) : null;
  } catch {
    return null;
  }
}

export const handler = async (event: WebSocketEvent, lambdaContext?: Context): Promise<APIGatewayProxyResultV2> => {
  const connectionId = event.requestContext.connectionId;
  const docId = authorizerContext(event)?.docId;
  return instrumented('disconnect', { connectionId, docId }, async () => {
    const connections = runtime.connections();
    const connection = await connections.get(connectionId);
    await connections.delete(connectionId);
    forgetConnection(connectionId);
    const presenceDoc = connection?.docId ?? docId;
    if (presenceDoc) {
      const cache = await runtime.cache();
      const key = presenceKey(presenceDoc, connectionId);
      const stored = await cache.get(key);
      await cache.del(key);
      const removal = stored ? awarenessRemoval(fromBase64(stored)) : null;
      if (removal) {
        try {
          const others = (await connections.listByDocument(presenceDoc)).map((c) => c.connectionId).filter((id) => id !== connectionId);
          await postToMany({ broadcaster: runtime.broadcaster(), connections }, others, encodeFrames({ type: 'awareness', update: removal }));
        } catch (error) {
          // Presence is cosmetic: the others' awareness times out on its own.
          getLogger().warn('Could not announce the departed cursor', { error });
        }
      }
    }
    getLogger().info('Disconnected', { closeCode: (event as { requestContext: { disconnectStatusCode?: number } }).requestContext.disconnectStatusCode });
    return { statusCode: 200 };
  }, lambdaContext);
};
