/**
 * API Gateway WebSocket event shapes for handler tests ($connect / $default / $disconnect), as
 * API Gateway (and the local gateway emulator) deliver them. Shared by the handler harnesses.
 */
import { randomUUID } from 'node:crypto';
import type { WebSocketEvent } from '../../lambdas/ws-event';

export type WebSocketRouteKey = '$connect' | '$default' | '$disconnect';

const EVENT_TYPES: Record<WebSocketRouteKey, string> = { $connect: 'CONNECT', $default: 'MESSAGE', $disconnect: 'DISCONNECT' };

export const TEST_API_ID = 'abcdef1234';
export const TEST_DOMAIN_NAME = `${TEST_API_ID}.execute-api.us-east-1.amazonaws.com`;

export function wsRequestContext(routeKey: WebSocketRouteKey, connectionId: string) {
  const now = Date.now();
  return {
    routeKey,
    eventType: EVENT_TYPES[routeKey],
    connectionId,
    messageId: randomUUID(),
    extendedRequestId: randomUUID(),
    requestTime: new Date(now).toUTCString(),
    messageDirection: 'IN',
    stage: 'ws',
    connectedAt: now,
    requestTimeEpoch: now,
    requestId: randomUUID(),
    domainName: TEST_DOMAIN_NAME,
    apiId: TEST_API_ID,
  };
}

export function wsEvent(routeKey: WebSocketRouteKey, connectionId: string, body?: string, authorizerContext?: Record<string, unknown> | null): WebSocketEvent {
  return {
    requestContext: { ...wsRequestContext(routeKey, connectionId), authorizer: authorizerContext ?? null },
    body,
    isBase64Encoded: false,
  } as WebSocketEvent;
}
