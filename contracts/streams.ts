/**
 * Event source mappings of the op-log stream: one source of truth for the CDK app (`lib/`, the
 * `DynamoEventSource` props) and the local stack's streams emulator (`local/dynamodb/`), so retry,
 * bisect and partial-batch semantics cannot drift between AWS and a laptop. DynamoDB Streams
 * allow at most two consumers per shard: these two.
 */
import type { HandlerName } from './env';

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
  },
  {
    handler: 'compact',
    batchSize: 100,
    maxBatchingWindowSeconds: 1,
    bisectBatchOnError: true,
    retryAttempts: 10,
    maxRecordAgeSeconds: 86_400,
    reportBatchItemFailures: true,
  },
];
