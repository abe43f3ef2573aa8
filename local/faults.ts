/**
 * Fault knobs of the local stack (FM-8): one object that the DynamoDB proxy, the streams emulator,
 * the cache proxy and the WebSocket gateway consult. Tests drive it directly
 * (`stack.faults.set(...)`); a running stack exposes it at `POST /_local/faults` (docs/local.md).
 */
import { STREAM_CONSUMERS } from '../contracts/streams';
import type { DynamoErrorResponse } from './dynamodb/stream-proxy';

export type DynamoErrorKind = 'InternalServerError' | 'ProvisionedThroughputExceededException' | 'ThrottlingException' | 'ServiceUnavailable';

/** Real DynamoDB error responses (status and `__type`), so the SDK sees a genuine failure and retries as it would. */
export const DYNAMO_ERRORS: Record<DynamoErrorKind, DynamoErrorResponse> = {
  InternalServerError: { status: 500, type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error (local fault knob)' },
  ProvisionedThroughputExceededException: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded (local fault knob)',
  },
  ThrottlingException: { status: 400, type: 'com.amazon.coral.availability#ThrottlingException', message: 'Rate of requests exceeds the allowed throughput (local fault knob)' },
  ServiceUnavailable: { status: 503, type: 'com.amazon.coral.availability#ServiceUnavailableException', message: 'Service unavailable (local fault knob)' },
};

export interface FaultSettings {
  /** Fraction (0..1) of DynamoDB writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem) that fail. */
  dynamoWriteFailureRate: number;
  /** Fail exactly the next N DynamoDB writes (deterministic; counted down). */
  dynamoFailNextWrites: number;
  /** Which error the failing writes return. */
  dynamoErrorKind: DynamoErrorKind;
  /** Only fail writes to tables whose name contains this (empty: every table). */
  dynamoTableFilter: string;
  /** Extra delay before each stream delivery, ms. */
  streamDelayMs: number;
  /** Fraction (0..1) of stream batches delivered a second time after they succeeded. */
  streamDuplicateRate: number;
  /**
   * Fraction (0..1) of `streamCrashConsumer` invocations that crash mid-batch: the handler runs on
   * the first half of the records (its posts and writes happen), then the invocation fails like a
   * Lambda crash or timeout, and the streams emulator retries or bisects the batch.
   */
  streamCrashRate: number;
  /** Crash exactly the next N invocations of `streamCrashConsumer` (deterministic; counted down). */
  streamCrashNextInvocations: number;
  /** The stream consumer the crash knobs apply to. */
  streamCrashConsumer: string;
}

export const DEFAULT_FAULTS: FaultSettings = {
  dynamoWriteFailureRate: 0,
  dynamoFailNextWrites: 0,
  dynamoErrorKind: 'InternalServerError',
  dynamoTableFilter: '',
  streamDelayMs: 0,
  streamDuplicateRate: 0,
  streamCrashRate: 0,
  streamCrashNextInvocations: 0,
  streamCrashConsumer: 'fanout',
};

const CRASHABLE_CONSUMERS = STREAM_CONSUMERS.map((c) => c.handler as string);

export class FaultSettingsError extends Error {
  readonly code = 'bad_fault_settings';
}

export class Faults {
  private settings: FaultSettings = { ...DEFAULT_FAULTS };
  /** Random source (tests may make it deterministic). */
  random: () => number = Math.random;

  get current(): Readonly<FaultSettings> {
    return { ...this.settings };
  }

  /** Validates and applies a partial update; throws FaultSettingsError naming the bad field. */
  set(update: Partial<FaultSettings>): Readonly<FaultSettings> {
    const next = { ...this.settings };
    for (const [key, value] of Object.entries(update)) {
      switch (key) {
        case 'dynamoWriteFailureRate':
        case 'streamDuplicateRate':
        case 'streamCrashRate':
          if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new FaultSettingsError(`${key} must be a number from 0 to 1.`);
          next[key] = value;
          break;
        case 'dynamoFailNextWrites':
        case 'streamDelayMs':
        case 'streamCrashNextInvocations':
          if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new FaultSettingsError(`${key} must be a non-negative integer.`);
          next[key] = value;
          break;
        case 'dynamoErrorKind':
          if (typeof value !== 'string' || !(value in DYNAMO_ERRORS)) throw new FaultSettingsError(`dynamoErrorKind must be one of ${Object.keys(DYNAMO_ERRORS).join(', ')}.`);
          next.dynamoErrorKind = value as DynamoErrorKind;
          break;
        case 'dynamoTableFilter':
          if (typeof value !== 'string') throw new FaultSettingsError('dynamoTableFilter must be a string.');
          next.dynamoTableFilter = value;
          break;
        case 'streamCrashConsumer':
          if (typeof value !== 'string' || !CRASHABLE_CONSUMERS.includes(value)) throw new FaultSettingsError(`streamCrashConsumer must be one of ${CRASHABLE_CONSUMERS.join(', ')}.`);
          next.streamCrashConsumer = value;
          break;
        default:
          throw new FaultSettingsError(`Unknown fault setting "${key}"; see docs/local.md.`);
      }
    }
    this.settings = next;
    return this.current;
  }

  reset(): void {
    this.settings = { ...DEFAULT_FAULTS };
  }

  /** For the DynamoDB proxy. */
  readonly dynamo = {
    writeFailure: (_operation: string, tableName: string): DynamoErrorResponse | null => {
      const s = this.settings;
      if (s.dynamoTableFilter && !tableName.includes(s.dynamoTableFilter)) return null;
      if (s.dynamoFailNextWrites > 0) {
        s.dynamoFailNextWrites--;
        return DYNAMO_ERRORS[s.dynamoErrorKind];
      }
      if (s.dynamoWriteFailureRate > 0 && this.random() < s.dynamoWriteFailureRate) return DYNAMO_ERRORS[s.dynamoErrorKind];
      return null;
    },
  };

  /** For the streams emulator. */
  readonly stream = {
    deliveryDelayMs: (): number => this.settings.streamDelayMs,
    shouldDuplicate: (): boolean => this.settings.streamDuplicateRate > 0 && this.random() < this.settings.streamDuplicateRate,
    shouldCrashMidBatch: (consumer: string): boolean => {
      const s = this.settings;
      if (consumer !== s.streamCrashConsumer) return false;
      if (s.streamCrashNextInvocations > 0) {
        s.streamCrashNextInvocations--;
        return true;
      }
      return s.streamCrashRate > 0 && this.random() < s.streamCrashRate;
    },
  };
}
