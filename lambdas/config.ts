/**
 * Environment configuration for the handlers. Each handler reads only the groups it needs, on its
 * first invocation, and a missing or malformed variable fails with an error naming it (the CDK
 * app and the local stack set these; see contracts/env.ts).
 */
import { ENV } from '../contracts/env';

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`Configuration error: environment variable ${variable} ${problem}. Set it on the function (CDK app) or in the local stack.`);
    this.name = 'ConfigError';
    this.variable = variable;
  }
}

type Env = Readonly<Record<string, string | undefined>>;

export function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is missing or empty');
  return value;
}

export function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function url(env: Env, name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = new URL(value);
    if (!/^(https?|rediss?|postgres(ql)?):$/.test(parsed.protocol)) throw new Error('scheme');
  } catch {
    throw new ConfigError(name, `is not a valid URL ("${value}")`);
  }
  return value.replace(/\/+$/, '');
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(name, `must be a positive integer (got "${raw}")`);
  return n;
}

export interface AwsConfig {
  readonly region: string;
  /** Set outside Lambda: no AWS credentials in the environment means local servers only. */
  readonly localCredentials: boolean;
}

export function awsConfig(env: Env = process.env): AwsConfig {
  return {
    region: optional(env, 'AWS_REGION') ?? optional(env, 'AWS_DEFAULT_REGION') ?? 'us-east-1',
    localCredentials: !optional(env, 'AWS_ACCESS_KEY_ID') && !optional(env, 'AWS_LAMBDA_FUNCTION_NAME'),
  };
}

export interface TablesConfig {
  readonly opLogTable: string;
  readonly connectionsTable: string;
  readonly documentsTable: string;
  readonly dynamoEndpoint?: string;
}

export function tablesConfig(env: Env = process.env): TablesConfig {
  return {
    opLogTable: required(env, ENV.OP_LOG_TABLE),
    connectionsTable: required(env, ENV.CONNECTIONS_TABLE),
    documentsTable: required(env, ENV.DOCUMENTS_TABLE),
    dynamoEndpoint: url(env, ENV.DYNAMODB_ENDPOINT, optional(env, ENV.DYNAMODB_ENDPOINT)),
  };
}

export type TableKind = 'opLog' | 'connections' | 'documents';

const TABLE_VARS: Record<TableKind, string> = {
  opLog: ENV.OP_LOG_TABLE,
  connections: ENV.CONNECTIONS_TABLE,
  documents: ENV.DOCUMENTS_TABLE,
};

/** One table's name: a handler needs only the variables of the tables it uses. */
export function tableName(kind: TableKind, env: Env = process.env): string {
  return required(env, TABLE_VARS[kind]);
}

export function dynamoEndpoint(env: Env = process.env): string | undefined {
  return url(env, ENV.DYNAMODB_ENDPOINT, optional(env, ENV.DYNAMODB_ENDPOINT));
}

export function connectionsEndpoint(env: Env = process.env): string {
  return url(env, ENV.CONNECTIONS_ENDPOINT, required(env, ENV.CONNECTIONS_ENDPOINT))!;
}

export type DatabaseConfig =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'iam'; readonly host: string; readonly port: number; readonly database: string; readonly user: string };

/** DATABASE_URL wins; otherwise RDS Proxy with IAM auth from CONCORD_DB_HOST/PORT/NAME/USER. */
export function databaseConfig(env: Env = process.env): DatabaseConfig {
  const databaseUrl = optional(env, ENV.DATABASE_URL);
  if (databaseUrl) return { kind: 'url', url: url(env, ENV.DATABASE_URL, databaseUrl)! };
  if (!optional(env, ENV.DB_HOST)) throw new ConfigError(`${ENV.DATABASE_URL} (or ${ENV.DB_HOST})`, 'is missing');
  return {
    kind: 'iam',
    host: required(env, ENV.DB_HOST),
    port: positiveInt(env, ENV.DB_PORT, 5432),
    database: required(env, ENV.DB_NAME),
    user: required(env, ENV.DB_USER),
  };
}

export interface CacheConfig {
  readonly redisUrl?: string;
  readonly authSecretArn?: string;
}

export function cacheConfig(env: Env = process.env): CacheConfig {
  return {
    redisUrl: url(env, ENV.REDIS_URL, optional(env, ENV.REDIS_URL)),
    authSecretArn: optional(env, ENV.REDIS_AUTH_SECRET_ARN),
  };
}

export interface AuthConfig {
  readonly issuer: string;
  /** The app client id: checked against the access token's client_id claim. */
  readonly clientId: string;
  readonly jwksUrl: string;
}

export function authConfig(env: Env = process.env): AuthConfig {
  return {
    issuer: required(env, ENV.JWT_ISSUER),
    clientId: required(env, ENV.JWT_AUDIENCE),
    jwksUrl: url(env, ENV.JWKS_URL, required(env, ENV.JWKS_URL))!,
  };
}

export interface OAuthConfig {
  /** Base URL of the OAuth server (Cognito hosted UI domain, or the local stack's /local-auth). */
  readonly domain: string;
  readonly clientId: string;
  readonly siteOrigin: string;
  readonly redirectUri: string;
}

export function oauthConfig(env: Env = process.env): OAuthConfig {
  const siteOrigin = url(env, ENV.SITE_ORIGIN, required(env, ENV.SITE_ORIGIN))!;
  return {
    domain: url(env, ENV.COGNITO_DOMAIN, required(env, ENV.COGNITO_DOMAIN))!,
    clientId: optional(env, ENV.COGNITO_CLIENT_ID) ?? required(env, ENV.JWT_AUDIENCE),
    siteOrigin,
    redirectUri: `${siteOrigin}/api/auth/callback`,
  };
}

export interface SessionConfig {
  readonly rateLimitPerSecond: number;
  readonly compactAfterEntries: number;
}

export function sessionConfig(env: Env = process.env): SessionConfig {
  return {
    rateLimitPerSecond: positiveInt(env, ENV.RATE_LIMIT_PER_SECOND, 50),
    compactAfterEntries: positiveInt(env, ENV.COMPACT_AFTER_ENTRIES, 200),
  };
}
