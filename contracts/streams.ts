/**
 * Event source mappings of the op-log stream: plain data for the CDK app (`lib/realtime.ts`, the
 * `DynamoEventSource` props; `lambda.FilterCriteria.filter(OP_LOG_ENTRY_FILTER_PATTERN)` accepts
 * the pattern as is) and the local stack's streams emulator (`local/dynamodb/`), so retry, bisect,
 * filter and partial-batch semantics cannot drift between AWS and a laptop. DynamoDB Streams
 * allow at most two consumers per shard: these two. Values are the `dev` stage's.
 */
import type { HandlerName } from './env';

/**
 * Lambda event filter (event filtering JSON syntax) shared by both consumers: only new op-log
 * entries. The document head (`seq = 0`), part items of split updates (`kind` set) and every
 * MODIFY/REMOVE (compaction tombstones, TTL expiry) are dropped before any invocation.
 */
export const OP_LOG_ENTRY_FILTER_PATTERN = {
  eventName: ['INSERT'],
  dynamodb: {
    NewImage: {
      seq: { N: [{ 'anything-but': ['0'] }] },
      kind: { S: [{ exists: false }] },
    },
  },
} as const;

export interface StreamConsumerDefinition {
  readonly handler: HandlerName;
  /** Largest batch handed to one invocation (Lambda default 100). */
  readonly batchSize: number;
  /** Time spent gathering records before invoking, in seconds (0 = as soon as records exist). */
  readonly maxBatchingWindowSeconds: number;
  /** Split a failing batch in two and retry each half (splitting uses no retry attempt). */
  readonly bisectBatchOnError: boolean;
  /** Retries of a failing record before it goes to the on-failure destination (never infinite). */
  readonly retryAttempts: number;
  /** Records older than this are sent to the on-failure destination instead of the function. */
  readonly maxRecordAgeSeconds: number;
  /** The handler returns `{ batchItemFailures }`; retries restart at the lowest failed record. */
  readonly reportBatchItemFailures: boolean;
  /** Lambda event filter patterns; a record matching none is dropped (counted as processed). */
  readonly filterPatterns?: readonly object[];
}

export const STREAM_CONSUMERS: readonly StreamConsumerDefinition[] = [
  {
    handler: 'fanout',
    batchSize: 100,
    maxBatchingWindowSeconds: 0,
    bisectBatchOnError: true,
    retryAttempts: 5,
    // A live edit older than this is better delivered by the client's resync on reconnect.
    maxRecordAgeSeconds: 3600,
    reportBatchItemFailures: true,
    filterPatterns: [OP_LOG_ENTRY_FILTER_PATTERN],
  },
  {
    handler: 'compact',
    batchSize: 1000,
    // Compaction is not latency-sensitive: bigger batches, fewer invocations.
    maxBatchingWindowSeconds: 10,
    bisectBatchOnError: true,
    retryAttempts: 5,
    maxRecordAgeSeconds: 3600,
    reportBatchItemFailures: true,
    filterPatterns: [OP_LOG_ENTRY_FILTER_PATTERN],
  },
];
