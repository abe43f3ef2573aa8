/**
 * The DynamoDB document client shared by the table adapters. Binary attributes come back as
 * Uint8Array; undefined attributes are dropped rather than rejected.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createDocumentClient(config: DynamoDBClientConfig): { client: DynamoDBClient; doc: DynamoDBDocumentClient } {
  const client = new DynamoDBClient({ maxAttempts: 4, ...config });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  return { client, doc };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2^attempt)). */
export const backoffMs = (attempt: number, baseMs = 5, capMs = 250) => Math.random() * Math.min(capMs, baseMs * 2 ** attempt);

export const isConditionalCheckFailed = (e: unknown): boolean =>
  (e as { name?: string })?.name === 'ConditionalCheckFailedException';

/** Splits into groups of at most `size` (BatchWriteItem takes 25 requests, BatchGetItem 100 keys). */
export function inGroups<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
