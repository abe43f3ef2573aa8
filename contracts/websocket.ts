/**
 * The WebSocket API's shape shared by the CDK app (`lib/realtime.ts`) and the local stack's API
 * Gateway emulator (`local/gateway/`): the stage name (CloudFront's `/ws` maps onto it without a
 * rewrite) and the `$connect` authorizer's identity sources. API Gateway answers 401 without
 * invoking the authorizer when any identity source is missing.
 */
export const WEBSOCKET_STAGE = 'ws';

export const AUTHORIZER_IDENTITY_SOURCES: readonly string[] = ['route.request.header.Cookie', 'route.request.querystring.doc'];
