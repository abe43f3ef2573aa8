/**
 * DynamoDB Streams and Lambda's stream event source mapping, emulated in process (dynalite has no
 * streams). `OpLogStream` holds records in shards chosen by partition key, so every record of one
 * document lands in one shard in write order; `StreamConsumer` polls each shard like Lambda does:
 * one batch in flight per shard, batch size and batching window, retries with backoff, bisect on
 * error (without using a retry attempt), ReportBatchItemFailures (retry from the lowest failed
 * record), maximum record age, and an on-failure record after the last attempt.
 */
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttributeValue as StreamAttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamConsumerDefinition } from '../../contracts/streams';

export type StreamImage = Record<string, StreamAttributeValue>;

export interface StreamChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly keys: StreamImage;
  readonly newImage?: StreamImage;
  /** Partition key value: decides the shard, hence the per-document order. */
  readonly partitionKey: string;
  /** Set on TTL deletions: `{ type: 'Service', principalId: 'dynamodb.amazonaws.com' }`. */
  readonly userIdentity?: { type: string; principalId: string };
}

export interface StoredStreamRecord {
  readonly record: DynamoDBRecord;
  readonly partitionKey: string;
  readonly shardId: string;
  readonly sequenceNumber: bigint;
  /** Server time the record entered the stream, epoch ms. */
  readonly arrivedAt: number;
}

export interface Shard {
  readonly shardId: string;
  readonly records: StoredStreamRecord[];
  /** Records already trimmed from the front (retention), so positions stay stable. */
  trimmed: number;
}

export interface OpLogStreamOptions {
  readonly tableName: string;
  readonly region: string;
  /** Number of shards; a partition key always maps to the same one (default 4). */
  readonly shardCount?: number;
  /** Retention of records, like DynamoDB Streams' 24 h. */
  readonly retentionMs?: number;
  readonly now?: () => number;
  /**
   * Folder persisting the stream (the data folder's `stream/`): records survive a restart or a
   * crash within retention, and the stream keeps its ARN and shard ids. In memory when unset.
   */
  readonly journalDir?: string;
}

interface JournalLine {
  /** Partition key (decides the shard). */
  readonly p: string;
  /** Sequence number. */
  readonly s: string;
  /** Arrival time, epoch ms. */
  readonly t: number;
  readonly r: DynamoDBRecord;
}

const ACCOUNT_ID = '000000000000';

export class OpLogStream {
  readonly streamArn: string;
  readonly shards: Shard[];
  private readonly region: string;
  private readonly retentionMs: number;
  private readonly now: () => number;
  private nextSequence: bigint;
  private readonly listeners = new Set<(shard: Shard) => void>();

  constructor(options: OpLogStreamOptions) {
    this.now = options.now ?? Date.now;
    this.region = options.region;
    this.retentionMs = options.retentionMs ?? 24 * 3600_000;
    let meta = { label: new Date(this.now()).toISOString().replace('Z', ''), shardPrefix: `shardId-${String(this.now()).padStart(20, '0')}` };
    if (options.journalDir) {
      mkdirSync(options.journalDir, { recursive: true });
      const metaFile = join(options.journalDir, 'stream.json');
      if (existsSync(metaFile)) meta = JSON.parse(readFileSync(metaFile, 'utf8')) as typeof meta;
      else writeFileSync(metaFile, JSON.stringify(meta));
      this.journalFile = join(options.journalDir, 'records.jsonl');
    }
    this.streamArn = `arn:aws:dynamodb:${options.region}:${ACCOUNT_ID}:table/${options.tableName}/stream/${meta.label}`;
    const count = Math.max(1, options.shardCount ?? 4);
    this.shards = Array.from({ length: count }, (_, i) => ({ shardId: `${meta.shardPrefix}-${String(i).padStart(8, '0')}`, records: [], trimmed: 0 }));
    // Sequence numbers grow across restarts (time-based prefix), like DynamoDB's.
    this.nextSequence = BigInt(this.now()) * 1_000_000_000n;
    if (this.journalFile) this.loadJournal(this.journalFile);
  }

  private readonly journalFile: string | null = null;

  /** Reloads the records still within retention; a torn last line (a crash mid-write) is skipped. */
  private loadJournal(file: string): void {
    if (!existsSync(file)) return;
    const cutoff = this.now() - this.retentionMs;
    const kept: string[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let entry: JournalLine;
      try {
        entry = JSON.parse(line) as JournalLine;
      } catch {
        continue;
      }
      if (entry.t < cutoff) continue;
      const shard = this.shardFor(entry.p);
      const sequenceNumber = BigInt(entry.s);
      shard.records.push({ record: entry.r, partitionKey: entry.p, shardId: shard.shardId, sequenceNumber, arrivedAt: entry.t });
      if (sequenceNumber >= this.nextSequence) this.nextSequence = sequenceNumber;
      kept.push(line);
    }
    // Rewrite without expired or torn lines, so the journal does not grow without bound.
    writeFileSync(`${file}.tmp`, kept.length ? kept.join('\n') + '\n' : '');
    renameSync(`${file}.tmp`, file);
  }

  shardFor(partitionKey: string): Shard {
    const h = createHash('md5').update(partitionKey).digest().readUInt32BE(0);
    return this.shards[h % this.shards.length];
  }

  /** Appends one change and wakes the consumers of its shard. */
  append(change: StreamChange): StoredStreamRecord {
    const shard = this.shardFor(change.partitionKey);
    const sequenceNumber = ++this.nextSequence;
    const arrivedAt = this.now();
    const dynamodb: DynamoDBRecord['dynamodb'] = {
      ApproximateCreationDateTime: Math.floor(arrivedAt / 1000),
      Keys: change.keys,
      ...(change.newImage ? { NewImage: change.newImage } : {}),
      SequenceNumber: sequenceNumber.toString(),
      SizeBytes: Buffer.byteLength(JSON.stringify(change.keys)) + (change.newImage ? Buffer.byteLength(JSON.stringify(change.newImage)) : 0),
      StreamViewType: 'NEW_IMAGE',
    };
    const stored: StoredStreamRecord = {
      record: {
        eventID: randomUUID().replace(/-/g, ''),
        eventName: change.eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: this.region,
        dynamodb,
        eventSourceARN: this.streamArn,
        ...(change.userIdentity ? { userIdentity: change.userIdentity } : {}),
      },
      partitionKey: change.partitionKey,
      shardId: shard.shardId,
      sequenceNumber,
      arrivedAt,
    };
    shard.records.push(stored);
    if (this.journalFile) {
      const line: JournalLine = { p: change.partitionKey, s: sequenceNumber.toString(), t: arrivedAt, r: stored.record };
      appendFileSync(this.journalFile, JSON.stringify(line) + '\n');
    }
    this.trim(shard);
    for (const listener of this.listeners) listener(shard);
    return stored;
  }

  /** Drops records past retention from the front of a shard (their positions stay counted). */
  private trim(shard: Shard): void {
    const cutoff = this.now() - this.retentionMs;
    let n = 0;
    while (n < shard.records.length && shard.records[n].arrivedAt < cutoff) n++;
    // Records every consumer has passed can never be read again here: free them early (memory).
    if (this.readers.size > 0) {
      const passed = Math.min(...[...this.readers].map((position) => position(shard))) - shard.trimmed;
      n = Math.max(n, Math.min(passed, shard.records.length));
    }
    if (n > 0) {
      shard.records.splice(0, n);
      shard.trimmed += n;
    }
  }

  private readonly readers = new Set<(shard: Shard) => number>();

  /** A consumer's position per shard; records before every reader's position are released. */
  addReader(position: (shard: Shard) => number): () => void {
    this.readers.add(position);
    return () => this.readers.delete(position);
  }

  /** Drops released records from the journal file (at start-up, once every consumer has loaded its checkpoint). */
  compactJournal(): void {
    if (!this.journalFile) return;
    for (const shard of this.shards) this.trim(shard);
    const lines: string[] = [];
    for (const shard of this.shards) {
      for (const r of shard.records) {
        lines.push(JSON.stringify({ p: r.partitionKey, s: r.sequenceNumber.toString(), t: r.arrivedAt, r: r.record } satisfies JournalLine));
      }
    }
    writeFileSync(`${this.journalFile}.tmp`, lines.length ? lines.join('\n') + '\n' : '');
    renameSync(`${this.journalFile}.tmp`, this.journalFile);
  }

  onAppend(listener: (shard: Shard) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** What goes to the on-failure destination (Lambda's invocation record for stream sources). */
export interface OnFailureRecord {
  readonly requestContext: { requestId: string; functionArn: string; condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'; approximateInvokeCount: number };
  readonly responseContext: { statusCode: number; executedVersion: string; functionError: string };
  readonly version: '1.0';
  readonly timestamp: string;
  readonly DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

export interface StreamFaults {
  /** Extra delay before each delivery, ms. */
  deliveryDelayMs(): number;
  /** Whether to deliver this successful batch once more (a redelivery, same records). */
  shouldDuplicate(): boolean;
  /** Whether this invocation of `consumer` crashes after handling the first half of its batch. */
  shouldCrashMidBatch?(consumer: string): boolean;
}

export interface StreamConsumerOptions {
  readonly definition: StreamConsumerDefinition;
  readonly invoke: (event: DynamoDBStreamEvent) => Promise<unknown>;
  readonly onFailure: (record: OnFailureRecord) => void | Promise<void>;
  readonly functionArn: string;
  /** First retry delay; doubles per attempt up to maxRetryDelayMs. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  readonly faults?: StreamFaults;
  readonly log?: (entry: Record<string, unknown>) => void;
  readonly now?: () => number;
  /**
   * File keeping this consumer's position per shard (the last processed sequence number), so a
   * restarted stack resumes where it stopped, as an event source mapping does. Unset: start at
   * LATEST every time.
   */
  readonly checkpointFile?: string;
}

interface ShardCursor {
  readonly shard: Shard;
  /** Absolute position (including trimmed records) of the next record to deliver. */
  position: number;
  running: boolean;
}

type InvokeOutcome = { ok: true; failedFrom: number | null } | { ok: false; error: unknown };

/** One event source mapping: a consumer of every shard of a stream, one batch in flight per shard. */
export class StreamConsumer {
  readonly name: string;
  private readonly cursors: ShardCursor[];
  private readonly options: StreamConsumerOptions;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;
  private stopped = false;
  private readonly idleWaiters = new Set<() => void>();
  private readonly sleepers = new Set<{ timer: ReturnType<typeof setTimeout>; resolve: () => void; window: boolean }>();
  private readonly filters: readonly object[];
  private flushing = false;
  /** Counters for tests and the admin endpoint. */
  readonly stats = { invocations: 0, failures: 0, bisects: 0, discarded: 0, duplicates: 0, filteredOut: 0, crashes: 0, redeliveredAfterCrash: 0 };
  /** Records handed to an invocation the crash knob failed, until they are delivered again. */
  private readonly crashedRecords = new WeakSet<StoredStreamRecord>();

  constructor(stream: OpLogStream, options: StreamConsumerOptions) {
    this.options = options;
    this.name = options.definition.handler;
    this.now = options.now ?? Date.now;
    this.filters = options.definition.filterPatterns ?? [];
    for (const f of this.filters) assertSupportedFilter(f);
    // LATEST: a consumer starting now sees only records written from now on (like a fresh mapping).
    let checkpoints: Record<string, string> = {};
    if (options.checkpointFile && existsSync(options.checkpointFile)) {
      try {
        checkpoints = JSON.parse(readFileSync(options.checkpointFile, 'utf8')) as Record<string, string>;
      } catch {
        checkpoints = {}; // a torn checkpoint only means redelivery, which consumers tolerate
      }
    }
    this.checkpoints = checkpoints;
    this.cursors = stream.shards.map((shard) => {
      const saved = checkpoints[shard.shardId];
      if (saved === undefined) return { shard, position: shard.trimmed + shard.records.length, running: false }; // LATEST
      const after = BigInt(saved);
      const index = shard.records.findIndex((r) => r.sequenceNumber > after);
      return { shard, position: shard.trimmed + (index < 0 ? shard.records.length : index), running: false };
    });
    this.saveCheckpoints();
    const unread = stream.addReader((shard) => this.cursors.find((c) => c.shard === shard)?.position ?? Infinity);
    const unlisten = stream.onAppend((shard) => {
      const cursor = this.cursors.find((c) => c.shard === shard);
      if (cursor) this.kick(cursor);
    });
    this.unsubscribe = () => {
      unread();
      unlisten();
    };
  }

  private readonly checkpoints: Record<string, string>;

  private saveCheckpoints(): void {
    const file = this.options.checkpointFile;
    if (!file) return;
    // Every shard gets a checkpoint, so records written while stopped are delivered after a restart.
    for (const c of this.cursors) {
      if (this.checkpoints[c.shard.shardId] === undefined) {
        const before = c.position - c.shard.trimmed - 1;
        this.checkpoints[c.shard.shardId] = before >= 0 ? c.shard.records[before].sequenceNumber.toString() : '0';
      }
    }
    writeFileSync(`${file}.tmp`, JSON.stringify(this.checkpoints));
    renameSync(`${file}.tmp`, file);
  }

  /** Starts delivering records already waiting (a restart with a checkpoint behind the stream). */
  start(): void {
    for (const cursor of this.cursors) if (cursor.position < cursor.shard.trimmed + cursor.shard.records.length) this.kick(cursor);
  }

  /**
   * Resolves once every shard is caught up and nothing is in flight. With `flush`, batching
   * windows are cut short (shutdown), as if every batch were full.
   */
  async drain(options: { flush?: boolean } = {}): Promise<void> {
    if (options.flush) {
      this.flushing = true;
      for (const s of [...this.sleepers]) {
        if (!s.window) continue;
        clearTimeout(s.timer);
        this.sleepers.delete(s);
        s.resolve();
      }
    }
    try {
      while (!this.isIdle()) await new Promise<void>((resolve) => this.idleWaiters.add(resolve));
    } finally {
      if (options.flush) this.flushing = false;
    }
  }

  isIdle(): boolean {
    return this.cursors.every((c) => !c.running && c.position >= c.shard.trimmed + c.shard.records.length);
  }

  /** Stops polling; an invocation in flight finishes, pending retries are abandoned. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
  }

  private kick(cursor: ShardCursor): void {
    if (cursor.running || this.stopped) return;
    cursor.running = true;
    void this.poll(cursor)
      .catch((error) => this.options.log?.({ level: 'ERROR', message: 'stream consumer crashed', consumer: this.name, error: String(error) }))
      .finally(() => {
        cursor.running = false;
        if (!this.stopped && cursor.position < cursor.shard.trimmed + cursor.shard.records.length) this.kick(cursor);
        else if (this.isIdle()) this.notifyIdle();
      });
  }

  private notifyIdle(): void {
    const waiters = [...this.idleWaiters];
    this.idleWaiters.clear();
    for (const w of waiters) w();
  }

  private available(cursor: ShardCursor): StoredStreamRecord[] {
    const { shard } = cursor;
    if (cursor.position < shard.trimmed) cursor.position = shard.trimmed; // trimmed past us: skip, as DynamoDB does
    return shard.records.slice(cursor.position - shard.trimmed);
  }

  private async poll(cursor: ShardCursor): Promise<void> {
    const { definition } = this.options;
    while (!this.stopped) {
      if (definition.maxBatchingWindowSeconds > 0 && !this.flushing && this.available(cursor).length < definition.batchSize) {
        await this.sleep(definition.maxBatchingWindowSeconds * 1000, true);
      }
      const batch = this.available(cursor).slice(0, definition.batchSize);
      if (batch.length === 0 || this.stopped) return;
      // Event filtering happens before batching and invocation; dropped records count as processed.
      const matching = this.filters.length ? batch.filter((r) => this.filters.some((f) => matchesFilter(r.record, f))) : batch;
      this.stats.filteredOut += batch.length - matching.length;
      if (matching.length) await this.process(matching, 0);
      if (this.stopped) return;
      cursor.position += batch.length;
      this.checkpoints[cursor.shard.shardId] = batch[batch.length - 1].sequenceNumber.toString();
      this.saveCheckpoints();
    }
  }

  /** Delivers `records` until they succeed or are sent to the on-failure destination. */
  private async process(records: StoredStreamRecord[], retriesUsed: number): Promise<void> {
    const { definition } = this.options;
    let batch = records;
    let attempts = 0;
    while (batch.length && !this.stopped) {
      const maxAgeMs = definition.maxRecordAgeSeconds * 1000;
      const expired = batch.filter((r) => this.now() - r.arrivedAt > maxAgeMs);
      if (expired.length) {
        await this.discard(expired, 'RecordAgeExceeded', attempts, 'RecordAgeExceeded');
        batch = batch.filter((r) => !expired.includes(r));
        if (!batch.length) return;
      }
      const delay = this.options.faults?.deliveryDelayMs() ?? 0;
      if (delay > 0) await this.sleep(delay);
      if (this.stopped) return;
      attempts++;
      const outcome = await this.invoke(batch);
      if (outcome.ok && outcome.failedFrom === null) {
        if (this.options.faults?.shouldDuplicate()) {
          this.stats.duplicates++;
          await this.invoke(batch); // a redelivery: its outcome is ignored, as the first one already checkpointed
        }
        return;
      }
      this.stats.failures++;
      if (!outcome.ok && definition.bisectBatchOnError && batch.length > 1) {
        this.stats.bisects++;
        const half = Math.ceil(batch.length / 2);
        this.options.log?.({ level: 'WARN', message: 'stream batch failed; bisecting', consumer: this.name, size: batch.length, error: String(outcome.error) });
        await this.process(batch.slice(0, half), retriesUsed);
        await this.process(batch.slice(half), retriesUsed);
        return;
      }
      if (outcome.ok && outcome.failedFrom !== null) batch = batch.slice(outcome.failedFrom);
      retriesUsed++;
      if (retriesUsed > definition.retryAttempts) {
        await this.discard(batch, 'RetryAttemptsExhausted', attempts, outcome.ok ? 'PartialBatchFailure' : 'Unhandled');
        return;
      }
      const base = this.options.retryDelayMs ?? 250;
      await this.sleep(Math.min(this.options.maxRetryDelayMs ?? 5000, base * 2 ** (retriesUsed - 1)));
    }
  }

  private async invoke(batch: StoredStreamRecord[]): Promise<InvokeOutcome> {
    this.stats.invocations++;
    if (batch.some((r) => this.crashedRecords.has(r))) {
      this.stats.redeliveredAfterCrash++;
      for (const r of batch) this.crashedRecords.delete(r);
    }
    if (this.options.faults?.shouldCrashMidBatch?.(this.name)) return this.crashMidBatch(batch);
    try {
      const response = (await this.options.invoke({ Records: batch.map((r) => r.record) })) as DynamoDBBatchResponse | undefined | null;
      if (!this.options.definition.reportBatchItemFailures) return { ok: true, failedFrom: null };
      const failures = response && typeof response === 'object' ? response.batchItemFailures : undefined;
      if (failures === undefined || failures === null || failures.length === 0) return { ok: true, failedFrom: null };
      if (!Array.isArray(failures)) return { ok: false, error: new Error('batchItemFailures is not an array') };
      // Lambda retries from the lowest reported sequence number; an unknown id fails the whole batch.
      let lowest = Infinity;
      for (const f of failures) {
        const index = batch.findIndex((r) => r.record.dynamodb?.SequenceNumber === f?.itemIdentifier);
        if (index < 0) return { ok: false, error: new Error(`batchItemFailures names an unknown record: ${String(f?.itemIdentifier)}`) };
        lowest = Math.min(lowest, index);
      }
      return { ok: true, failedFrom: lowest };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /**
   * Fault knob: the handler really runs on the first half of the batch (its side effects happen),
   * then the invocation fails as a crash or timeout would; whatever it returned is lost.
   */
  private async crashMidBatch(batch: StoredStreamRecord[]): Promise<InvokeOutcome> {
    this.stats.crashes++;
    for (const r of batch) this.crashedRecords.add(r);
    const prefix = batch.slice(0, Math.ceil(batch.length / 2));
    try {
      await this.options.invoke({ Records: prefix.map((r) => r.record) });
    } catch {
      // The handler failing on its own changes nothing: the invocation fails either way.
    }
    this.options.log?.({ level: 'WARN', message: 'stream invocation crashed mid-batch (fault knob)', consumer: this.name, size: batch.length, handled: prefix.length });
    return { ok: false, error: new Error(`${this.name} crashed after ${prefix.length} of ${batch.length} record(s) (local fault knob)`) };
  }

  private async discard(batch: StoredStreamRecord[], condition: OnFailureRecord['requestContext']['condition'], invokeCount: number, functionError: string): Promise<void> {
    this.stats.discarded += batch.length;
    const first = batch[0];
    const last = batch[batch.length - 1];
    const record: OnFailureRecord = {
      requestContext: { requestId: randomUUID(), functionArn: this.options.functionArn, condition, approximateInvokeCount: invokeCount },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError },
      version: '1.0',
      timestamp: new Date(this.now()).toISOString(),
      DDBStreamBatchInfo: {
        shardId: first.shardId,
        startSequenceNumber: first.sequenceNumber.toString(),
        endSequenceNumber: last.sequenceNumber.toString(),
        approximateArrivalOfFirstRecord: new Date(first.arrivedAt).toISOString(),
        approximateArrivalOfLastRecord: new Date(last.arrivedAt).toISOString(),
        batchSize: batch.length,
        streamArn: first.record.eventSourceARN ?? '',
      },
    };
    this.options.log?.({ level: 'ERROR', message: 'stream records sent to the on-failure destination', consumer: this.name, condition, records: batch.length });
    await this.options.onFailure(record);
  }

  private sleep(ms: number, window = false): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        resolve,
        window,
      };
      this.sleepers.add(entry);
    });
  }
}

/**
 * Lambda event filtering (the EventBridge pattern syntax), the subset Concord uses: exact values,
 * `exists`, `anything-but` and `prefix`. A pattern key holding an array lists accepted values or
 * rules for that field; a key holding an object descends into it. A missing field matches only
 * `{ exists: false }`.
 */
export function matchesFilter(value: unknown, pattern: object): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    const field = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (Array.isArray(expected)) {
      if (!expected.some((rule) => matchesRule(field, rule))) return false;
    } else if (expected !== null && typeof expected === 'object') {
      if (field === null || typeof field !== 'object') {
        // Descending into a missing object: only rules that accept absence can match.
        if (!matchesFilter({}, expected)) return false;
      } else if (!matchesFilter(field, expected)) return false;
    } else return false;
  }
  return true;
}

function matchesRule(field: unknown, rule: unknown): boolean {
  if (rule === null || typeof rule !== 'object') return field !== undefined && field === rule;
  const r = rule as Record<string, unknown>;
  if ('exists' in r) return r.exists ? field !== undefined : field === undefined;
  if (field === undefined) return false;
  if ('anything-but' in r) {
    const excluded = Array.isArray(r['anything-but']) ? r['anything-but'] : [r['anything-but']];
    return !excluded.includes(field);
  }
  if ('prefix' in r) return typeof field === 'string' && field.startsWith(String(r.prefix));
  return false;
}

function assertSupportedFilter(pattern: object): void {
  for (const expected of Object.values(pattern)) {
    if (Array.isArray(expected)) {
      for (const rule of expected) {
        if (rule !== null && typeof rule === 'object' && !['exists', 'anything-but', 'prefix'].some((k) => k in rule)) {
          throw new Error(`Unsupported event filter rule ${JSON.stringify(rule)}: the local streams emulator supports values, exists, anything-but and prefix.`);
        }
      }
    } else if (expected !== null && typeof expected === 'object') assertSupportedFilter(expected);
  }
}
