/**
 * `$disconnect`: forgets the connection, its unfinished chunk sets and its presence. Best effort
 * by nature (API Gateway may not deliver it); TTL and 410s clean up whatever it misses.
 */
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { getLogger, instrumented } from './observability';
import { runtime } from './runtime';
import { presenceKey } from './core/session';
import { forgetConnection } from './message';
import { authorizerContext, type WebSocketEvent } from './ws-event';

export const handler = async (event: WebSocketEvent, lambdaContext?: Context): Promise<APIGatewayProxyResultV2> => {
  const connectionId = event.requestContext.connectionId;
  const docId = authorizerContext(event)?.docId;
  return instrumented('disconnect', { connectionId, docId }, async () => {
    const connection = await runtime.connections().get(connectionId);
    await runtime.connections().delete(connectionId);
    forgetConnection(connectionId);
    const presenceDoc = connection?.docId ?? docId;
    if (presenceDoc) await (await runtime.cache()).del(presenceKey(presenceDoc, connectionId));
    getLogger().info('Disconnected', { closeCode: (event as { requestContext: { disconnectStatusCode?: number } }).requestContext.disconnectStatusCode });
    return { statusCode: 200 };
  }, lambdaContext);
};
