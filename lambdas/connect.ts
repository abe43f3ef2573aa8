/**
 * `$connect`: records the connection (after the authorizer allowed it) with the role and token
 * expiry the authorizer established. The gateway cannot deliver frames during `$connect`, so the
 * client starts the sync handshake itself once the socket is open.
 */
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';
import { authorizerContext, type WebSocketEvent } from './ws-event';

export const handler = async (event: WebSocketEvent, lambdaContext?: Context): Promise<APIGatewayProxyResultV2> => {
  const connectionId = event.requestContext.connectionId;
  const auth = authorizerContext(event);
  return instrumented('connect', { connectionId, docId: auth?.docId }, async () => {
    if (!auth) {
      // Only reachable when the route is misconfigured without the authorizer.
      getLogger().error('Connection refused: no authorizer context on $connect');
      return { statusCode: 401, body: 'Unauthorized' };
    }
    const now = runtime.clock().now();
    if (auth.tokenExpiresAt <= now) return { statusCode: 401, body: 'Unauthorized' };
    await runtime.connections().put({
      connectionId,
      docId: auth.docId,
      userId: auth.userId,
      role: auth.role,
      connectedAt: now,
      tokenExpiresAt: auth.tokenExpiresAt,
    });
    getLogger().info('Connected', { userId: auth.userId, role: auth.role });
    getMetrics().addMetric('Connections', MetricUnit.Count, 1);
    return { statusCode: 200 };
  }, lambdaContext);
};
