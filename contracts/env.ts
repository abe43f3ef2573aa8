/**
 * Environment variables the handlers read. The CDK app sets them on each function; the local
 * stack sets them for the same handlers. `lambdas/config.ts` validates them at start-up with an
 * error naming the missing variable.
 */
export const ENV = {
  /** DynamoDB table names. */
  OP_LOG_TABLE: 'CONCORD_OP_LOG_TABLE',
  CONNECTIONS_TABLE: 'CONCORD_CONNECTIONS_TABLE',
  DOCUMENTS_TABLE: 'CONCORD_DOCUMENTS_TABLE',
  /** Optional endpoint override for DynamoDB (the local stack points it at dynalite). */
  DYNAMODB_ENDPOINT: 'CONCORD_DYNAMODB_ENDPOINT',
  /** https endpoint of the WebSocket API's @connections management API. */
  CONNECTIONS_ENDPOINT: 'CONCORD_CONNECTIONS_ENDPOINT',
  /** PostgreSQL: a full URL (local), or host/port/db/user for RDS Proxy with IAM auth (AWS). */
  DATABASE_URL: 'DATABASE_URL',
  DB_HOST: 'CONCORD_DB_HOST',
  DB_PORT: 'CONCORD_DB_PORT',
  DB_NAME: 'CONCORD_DB_NAME',
  DB_USER: 'CONCORD_DB_USER',
  /** Redis/Valkey URL (rediss:// in AWS). Unset: the in-process cache only. */
  REDIS_URL: 'REDIS_URL',
  /** Secret ARN holding the cache auth token (AWS). */
  REDIS_AUTH_SECRET_ARN: 'CONCORD_REDIS_AUTH_SECRET_ARN',
  /** JWT verification: issuer, audience/client id and JWKS URL. */
  JWT_ISSUER: 'CONCORD_JWT_ISSUER',
  JWT_AUDIENCE: 'CONCORD_JWT_AUDIENCE',
  JWKS_URL: 'CONCORD_JWKS_URL',
  /** Cognito hosted UI domain and client id for the sign-in flow (AWS only). */
  COGNITO_DOMAIN: 'CONCORD_COGNITO_DOMAIN',
  COGNITO_CLIENT_ID: 'CONCORD_COGNITO_CLIENT_ID',
  /** Public origin of the site (https://dxxxx.cloudfront.net or the custom domain). */
  SITE_ORIGIN: 'CONCORD_SITE_ORIGIN',
  /** Compaction threshold: uncompacted op-log entries that trigger a snapshot. */
  COMPACT_AFTER_ENTRIES: 'CONCORD_COMPACT_AFTER_ENTRIES',
  /** Per-connection message budget per second. */
  RATE_LIMIT_PER_SECOND: 'CONCORD_RATE_LIMIT_PER_SECOND',
  /** Powertools. */
  LOG_LEVEL: 'POWERTOOLS_LOG_LEVEL',
  SERVICE_NAME: 'POWERTOOLS_SERVICE_NAME',
  METRICS_NAMESPACE: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** Handler entry points, relative to the repo root: the CDK app bundles these files. */
export const HANDLER_ENTRIES = {
  authorizer: 'lambdas/authorizer.ts',
  connect: 'lambdas/connect.ts',
  disconnect: 'lambdas/disconnect.ts',
  message: 'lambdas/message.ts',
  fanout: 'lambdas/fanout.ts',
  compact: 'lambdas/compact.ts',
  api: 'lambdas/api.ts',
  migrate: 'lambdas/migrate.ts',
} as const;

export type HandlerName = keyof typeof HANDLER_ENTRIES;
