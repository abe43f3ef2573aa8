/**
 * Reading the WebSocket route events (`$connect`, `$default`, `$disconnect`) the same way in AWS
 * and in the local stack's emulator.
 */
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import type { Role } from './core/ports';
import type { AuthorizerContext } from './authorizer';

/** WebSocket events as the handlers read them; `authorizer` is present after a REQUEST authorizer. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    authorizer?: Record<string, unknown> | null;
  };
};

const ROLES: readonly Role[] = ['owner', 'editor', 'viewer'];

/** The authorizer's context as passed on by the gateway (values may arrive as strings). */
export function authorizerContext(event: WebSocketEvent): AuthorizerContext | null {
  const a = event.requestContext.authorizer;
  if (!a) return null;
  const role = String(a.role ?? '') as Role;
  const tokenExpiresAt = Number(a.tokenExpiresAt);
  const userId = typeof a.userId === 'string' ? a.userId : typeof a.principalId === 'string' ? a.principalId : '';
  const docId = typeof a.docId === 'string' ? a.docId : '';
  if (!userId || !docId || !ROLES.includes(role) || !Number.isFinite(tokenExpiresAt)) return null;
  return { userId, role, docId, tokenExpiresAt, jti: String(a.jti ?? '') };
}
