/**
 * The DynamoDB Streams emulator: records produced by the proxy in front of dynalite (real
 * DynamoDBStreamEvent shape), per-document order, and Lambda's event source mapping semantics
 * (partial batch failure, bisect, retries then the on-failure destination, redelivery), plus the
 * DynamoDB write-failure and stream delay/duplicate fault knobs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { BatchWriteItemCommand, DeleteItemCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamConsumerDefinition } from '../../../contracts/streams';
import { OP_LOG_TABLE } from '../../../contracts/tables';
import { startEmbeddedDynamo, LOCAL_AWS_CLIENT_CONFIG, type EmbeddedDynamo } from '../../../local/embedded/dynamodb';
import { startStreamProxy, type StreamProxy } from '../../../local/dynamodb/stream-proxy';
import { OpLogStream, StreamConsumer, type OnFailureRecord } from '../../../local/dynamodb/streams';
import { Faults } from '../../../local/faults';

interface Rig {
  dynamo: EmbeddedDynamo;
  proxy: StreamProxy;
  stream: OpLogStream;
  client: DynamoDBClient;
  faults: Faults;
  table: string;
  consumers: StreamConsumer[];
}

const rigs: Rig[] = [];

async function rig(options: { maxAttempts?: number } = {}): Promise<Rig> {
  const dynamo = await startEmbeddedDynamo({ tablePrefix: `t${rigs.length}` });
  const table = dynamo.tableNames.OpLog;
  const stream = new OpLogStream({ tableName: table, region: 'us-east-1', shardCount: 2 });
  const faults = new Faults();
  const proxy = await startStreamProxy({ target: dynamo.endpoint, opLogTableName: table, opLogTable: OP_LOG_TABLE, stream, faults: faults.dynamo });
  const client = new DynamoDBClient({ ...LOCAL_AWS_CLIENT_CONFIG, endpoint: proxy.endpoint, maxAttempts: options.maxAttempts ?? 1 });
  const r: Rig = { dynamo, proxy, stream, client, faults, table, consumers: [] };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  while (rigs.length) {
    const r = rigs.pop()!;
    for (const c of r.consumers) c.stop();
    r.client.destroy();
    await r.proxy.stop();
    await r.dynamo.stop();
  }
});

const definition = (overrides: Partial<StreamConsumerDefinition> = {}): StreamConsumerDefinition => ({
  handler: 'fanout',
  batchSize: 100,
  maxBatchingWindowSeconds: 0,
  bisectBatchOnError: true,
  retryAttempts: 2,
  maxRecordAgeSeconds: 3600,
  reportBatchItemFailures: true,
  ...overrides,
});

function consume(r: Rig, invoke: (event: DynamoDBStreamEvent) => Promise<unknown>, overrides: Partial<StreamConsumerDefinition> = {}) {
  const failures: OnFailureRecord[] = [];
  const consumer = new StreamConsumer(r.stream, {
    definition: definition(overrides),
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test',
    invoke,
    onFailure: (rec) => void failures.push(rec),
    retryDelayMs: 5,
    maxRetryDelayMs: 20,
    faults: r.faults.stream,
  });
  r.consumers.push(consumer);
  return { consumer, failures };
}

const put = (r: Rig, docId: string, seq: number, extra: Record<string, { S: string }> = {}) =>
  r.client.send(new PutItemCommand({ TableName: r.table, Item: { docId: { S: docId }, seq: { N: String(seq) }, ...extra }, ConditionExpression: 'attribute_not_exists(seq)' }));

const seqOf = (rec: DynamoDBRecord) => Number(rec.dynamodb!.Keys!.seq.N);
const docOf = (rec: DynamoDBRecord) => rec.dynamodb!.Keys!.docId.S!;

async function waitFor<T>(probe: () => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe('streams emulator: records from the DynamoDB proxy', () => {
  it('emits INSERT, MODIFY and REMOVE records with the DynamoDB Streams shape, and none for no-op or failed writes', async () => {
    const r = await rig();
    const seen: DynamoDBRecord[] = [];
    const { consumer } = consume(r, async (event) => void seen.push(...event.Records));
    await put(r, 'doc-a', 1, { u: { S: 'x' } });
    await r.client.send(new UpdateItemCommand({ TableName: r.table, Key: { docId: { S: 'doc-a' }, seq: { N: '1' } }, UpdateExpression: 'SET u = :u', ExpressionAttributeValues: { ':u': { S: 'y' } } }));
    // Same value again: DynamoDB writes no stream record for an unchanged item.
    await r.client.send(new UpdateItemCommand({ TableName: r.table, Key: { docId: { S: 'doc-a' }, seq: { N: '1' } }, UpdateExpression: 'SET u = :u', ExpressionAttributeValues: { ':u': { S: 'y' } } }));
    await expect(put(r, 'doc-a', 1)).rejects.toThrow(/conditional/i);
    await r.client.send(new DeleteItemCommand({ TableName: r.table, Key: { docId: { S: 'doc-a' }, seq: { N: '1' } } }));
    await r.client.send(new PutItemCommand({ TableName: r.dynamo.tableNames.Documents, Item: { pk: { S: 'x' }, sk: { S: 'meta' } } }));
    await consumer.drain();

    expect(seen.map((s) => s.eventName)).toEqual(['INSERT', 'MODIFY', 'REMOVE']);
    const [insert, modify, remove] = seen;
    expect(insert).toMatchObject({
      eventSource: 'aws:dynamodb',
      eventVersion: '1.1',
      awsRegion: 'us-east-1',
      eventSourceARN: r.stream.streamArn,
      dynamodb: { Keys: { docId: { S: 'doc-a' }, seq: { N: '1' } }, NewImage: { docId: { S: 'doc-a' }, seq: { N: '1' }, u: { S: 'x' } }, StreamViewType: 'NEW_IMAGE' },
    });
    expect(r.stream.streamArn).toMatch(new RegExp(`^arn:aws:dynamodb:us-east-1:\\d{12}:table/${r.table}/stream/`));
    expect(typeof insert.dynamodb!.ApproximateCreationDateTime).toBe('number');
    expect(modify.dynamodb!.NewImage!.u).toEqual({ S: 'y' });
    expect(remove.dynamodb!.NewImage).toBeUndefined();
    expect(remove.dynamodb!.Keys).toEqual({ docId: { S: 'doc-a' }, seq: { N: '1' } });
    const sequence = seen.map((s) => BigInt(s.dynamodb!.SequenceNumber!));
    expect([...sequence].sort((a, b) => (a < b ? -1 : 1))).toEqual(sequence);
  });

  it('emits one record per op-log item of a BatchWriteItem', async () => {
    const r = await rig();
    const seen: DynamoDBRecord[] = [];
    const { consumer } = consume(r, async (event) => void seen.push(...event.Records));
    await r.client.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [r.table]: [1, 2, 3].map((seq) => ({ PutRequest: { Item: { docId: { S: 'doc-b' }, seq: { N: String(seq) } } } })),
          [r.dynamo.tableNames.Connections]: [{ PutRequest: { Item: { pk: { S: 'c' }, sk: { S: 'conn' } } } }],
        },
      }),
    );
    await consumer.drain();
    expect(seen.map((s) => [s.eventName, seqOf(s)])).toEqual([['INSERT', 1], ['INSERT', 2], ['INSERT', 3]]);
  });

  it('delivers each document\'s records in write order under concurrent writers, one shard per batch', async () => {
    const r = await rig();
    const batches: DynamoDBRecord[][] = [];
    const { consumer } = consume(r, async (event) => {
      batches.push(event.Records);
      await new Promise((res) => setTimeout(res, Math.random() * 5));
    }, { batchSize: 7 });
    const docs = ['d1', 'd2', 'd3', 'd4'];
    await Promise.all(docs.map(async (doc) => {
      for (let seq = 1; seq <= 25; seq++) await put(r, doc, seq);
    }));
    await consumer.drain();
    for (const doc of docs) {
      const order = batches.flat().filter((rec) => docOf(rec) === doc).map(seqOf);
      expect(order).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    }
    for (const batch of batches) {
      expect(batch.length).toBeLessThanOrEqual(7);
      const shards = new Set(batch.map((rec) => r.stream.shardFor(JSON.stringify({ S: docOf(rec) })).shardId));
      expect(shards.size).toBe(1);
    }
  });
});

describe('streams emulator: Lambda event source mapping semantics', () => {
  it('retries from the lowest failed record after a partial batch failure, without redelivering the ones before it', async () => {
    const r = await rig();
    const deliveries: number[][] = [];
    let failedOnce = false;
    // A batching window gathers the six writes into one batch, as Lambda's MaximumBatchingWindow does.
    const { consumer, failures } = consume(r, async (event) => {
      deliveries.push(event.Records.map(seqOf));
      const third = event.Records.find((rec) => seqOf(rec) === 3);
      if (third && !failedOnce) {
        failedOnce = true;
        const fifth = event.Records.find((rec) => seqOf(rec) === 5)!;
        // Two failures reported: the retry starts at the lower one.
        return { batchItemFailures: [{ itemIdentifier: fifth.dynamodb!.SequenceNumber }, { itemIdentifier: third.dynamodb!.SequenceNumber }] };
      }
      return { batchItemFailures: [] };
    }, { maxBatchingWindowSeconds: 0.3 });
    await r.client.send(new BatchWriteItemCommand({ RequestItems: { [r.table]: [1, 2, 3, 4, 5, 6].map((seq) => ({ PutRequest: { Item: { docId: { S: 'p' }, seq: { N: String(seq) } } } })) } }));
    await consumer.drain();
    expect(deliveries).toEqual([[1, 2, 3, 4, 5, 6], [3, 4, 5, 6]]);
    expect(failures).toEqual([]);
  });

  it('bisects a failing batch to isolate a poison record, sends it to the on-failure destination after the retries, and delivers the rest', async () => {
    const r = await rig();
    const delivered = new Set<number>();
    const sizes: number[] = [];
    const { consumer, failures } = consume(r, async (event) => {
      sizes.push(event.Records.length);
      if (event.Records.some((rec) => seqOf(rec) === 6)) throw new Error('poison record');
      for (const rec of event.Records) delivered.add(seqOf(rec));
    }, { retryAttempts: 2, batchSize: 8, maxBatchingWindowSeconds: 0.3 });
    await r.client.send(new BatchWriteItemCommand({ RequestItems: { [r.table]: [1, 2, 3, 4, 5, 6, 7, 8].map((seq) => ({ PutRequest: { Item: { docId: { S: 'q' }, seq: { N: String(seq) } } } })) } }));
    await consumer.drain();
    expect([...delivered].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 7, 8]);
    // 8 → 4+4 → (5,6)+(7,8) → 5 and 6; the single poison record then uses its 2 retries.
    expect(sizes.slice(0, 3)).toEqual([8, 4, 4]);
    expect(sizes.filter((s) => s === 1).length).toBeGreaterThanOrEqual(3);
    expect(consumer.stats.bisects).toBeGreaterThanOrEqual(3);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      requestContext: { condition: 'RetryAttemptsExhausted', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:test' },
      responseContext: { functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: { batchSize: 1, streamArn: r.stream.streamArn },
    });
    expect(failures[0].DDBStreamBatchInfo.startSequenceNumber).toBe(failures[0].DDBStreamBatchInfo.endSequenceNumber);
  });

  it('gives up after the retry attempts without bisect, as one on-failure record for the batch', async () => {
    const r = await rig();
    let calls = 0;
    const { consumer, failures } = consume(r, async () => {
      calls++;
      throw new Error('always');
    }, { bisectBatchOnError: false, retryAttempts: 3 });
    await put(r, 'z', 1);
    await consumer.drain();
    expect(calls).toBe(4);
    expect(failures).toHaveLength(1);
    expect(failures[0].DDBStreamBatchInfo.batchSize).toBe(1);
  });

  it('fault knob: duplicate stream records are redelivered with the same sequence numbers, and Yjs fan-out converges anyway', async () => {
    const r = await rig();
    r.faults.set({ streamDuplicateRate: 1 });
    const received: DynamoDBRecord[] = [];
    const replica = new Y.Doc();
    const { consumer } = consume(r, async (event) => {
      for (const rec of event.Records) {
        received.push(rec);
        Y.applyUpdate(replica, Buffer.from(rec.dynamodb!.NewImage!.u.B as unknown as string, 'base64'));
      }
    });
    const source = new Y.Doc();
    const updates: Uint8Array[] = [];
    source.on('update', (u: Uint8Array) => updates.push(u));
    for (let i = 0; i < 5; i++) source.getText('t').insert(0, `edit ${i} `);
    for (let i = 0; i < updates.length; i++) {
      await r.client.send(new PutItemCommand({ TableName: r.table, Item: { docId: { S: 'y' }, seq: { N: String(i + 1) }, u: { B: updates[i] } } }));
    }
    await consumer.drain();
    expect(consumer.stats.duplicates).toBeGreaterThan(0);
    const counts = new Map<string, number>();
    for (const rec of received) counts.set(rec.dynamodb!.SequenceNumber!, (counts.get(rec.dynamodb!.SequenceNumber!) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 2)).toBe(true);
    expect(replica.getText('t').toString()).toBe(source.getText('t').toString());
  });

  it('fault knob: stream delay holds each delivery back by at least the configured time', async () => {
    const r = await rig();
    r.faults.set({ streamDelayMs: 300 });
    let deliveredAt = 0;
    const { consumer } = consume(r, async () => void (deliveredAt = Date.now()));
    const writtenAt = Date.now();
    await put(r, 'w', 1);
    await consumer.drain();
    expect(deliveredAt - writtenAt).toBeGreaterThanOrEqual(290);
  });
});

describe('DynamoDB write fault knob', () => {
  it('returns genuine DynamoDB errors the SDK recognises, writes nothing and emits no record', async () => {
    const r = await rig();
    const seen: DynamoDBRecord[] = [];
    const { consumer } = consume(r, async (event) => void seen.push(...event.Records));
    r.faults.set({ dynamoFailNextWrites: 1, dynamoErrorKind: 'InternalServerError' });
    await expect(put(r, 'f', 1)).rejects.toMatchObject({ name: 'InternalServerError', $metadata: { httpStatusCode: 500 } });
    r.faults.set({ dynamoFailNextWrites: 1, dynamoErrorKind: 'ProvisionedThroughputExceededException' });
    await expect(put(r, 'f', 1)).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException', $metadata: { httpStatusCode: 400 } });
    await put(r, 'f', 1); // knob exhausted: the write goes through, once
    await consumer.drain();
    expect(seen.map(seqOf)).toEqual([1]);
  });

  it('is retried by the SDK like a real throttle: two injected failures, third attempt succeeds', async () => {
    const r = await rig({ maxAttempts: 3 });
    r.faults.set({ dynamoFailNextWrites: 2, dynamoErrorKind: 'ProvisionedThroughputExceededException' });
    const result = await put(r, 'g', 1);
    expect(result.$metadata.attempts).toBe(3);
    expect(r.proxy.stats.failedByFault).toBe(2);
  });

  it('fails about the configured fraction of writes', async () => {
    const r = await rig();
    let n = 0;
    r.faults.random = () => (n++ % 4) / 4; // 0, .25, .5, .75: exactly half are below 0.5
    r.faults.set({ dynamoWriteFailureRate: 0.5 });
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => put(r, 'h', i + 1)));
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(4);
  });
});

describe('TTL emulation', () => {
  it('deletes expired items (after the grace period) in every table with a TTL attribute; op-log expiries become REMOVE records by DynamoDB', async () => {
    const { TtlSweeper } = await import('../../../local/dynamodb/ttl-sweeper');
    const { TABLES } = await import('../../../contracts/tables');
    const r = await rig();
    const seen: DynamoDBRecord[] = [];
    const { consumer } = consume(r, async (event) => void seen.push(...event.Records));
    const now = 1_900_000_000_000;
    const past = String(now / 1000 - 10);
    const future = String(now / 1000 + 3600);
    await r.client.send(new PutItemCommand({ TableName: r.table, Item: { docId: { S: 'ttl' }, seq: { N: '1' }, expiresAt: { N: past } } }));
    await r.client.send(new PutItemCommand({ TableName: r.table, Item: { docId: { S: 'ttl' }, seq: { N: '2' }, expiresAt: { N: future } } }));
    await r.client.send(new PutItemCommand({ TableName: r.table, Item: { docId: { S: 'ttl' }, seq: { N: '3' } } }));
    const connections = r.dynamo.tableNames.Connections;
    await r.client.send(new PutItemCommand({ TableName: connections, Item: { pk: { S: 'c1' }, sk: { S: 'conn' }, expiresAt: { N: past } } }));
    const tables = TABLES.map((definition) => ({ name: r.dynamo.tableNames[definition.logicalName], definition }));

    const patient = new TtlSweeper({ endpoint: r.proxy.endpoint, tables, now: () => now }); // default 1 h grace
    expect(await patient.sweep()).toBe(0);
    const sweeper = new TtlSweeper({ endpoint: r.proxy.endpoint, tables, now: () => now, graceMs: 0 });
    expect(await sweeper.sweep()).toBe(2);
    await consumer.drain();

    const removes = seen.filter((s) => s.eventName === 'REMOVE');
    expect(removes.map(seqOf)).toEqual([1]);
    expect(removes[0].userIdentity).toEqual({ type: 'Service', principalId: 'dynamodb.amazonaws.com' });
    const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
    const left = await r.client.send(new ScanCommand({ TableName: r.table }));
    expect(left.Items!.map((i) => Number(i.seq.N)).sort()).toEqual([2, 3]);
    expect((await r.client.send(new ScanCommand({ TableName: connections }))).Items).toEqual([]);
  });
});

describe('event filtering (contracts/streams.ts OP_LOG_ENTRY_FILTER_PATTERN)', () => {
  it('matches only INSERTs of op-log entries: not the head (seq 0), not split-update parts, not MODIFY or REMOVE', async () => {
    const { matchesFilter } = await import('../../../local/dynamodb/streams');
    const { OP_LOG_ENTRY_FILTER_PATTERN: p } = await import('../../../contracts/streams');
    const rec = (eventName: string, image?: Record<string, unknown>) => ({ eventName, dynamodb: { Keys: {}, ...(image ? { NewImage: image } : {}) } });
    expect(matchesFilter(rec('INSERT', { docId: { S: 'd' }, seq: { N: '7' } }), p)).toBe(true);
    expect(matchesFilter(rec('INSERT', { docId: { S: 'd' }, seq: { N: '0' } }), p)).toBe(false);
    expect(matchesFilter(rec('INSERT', { docId: { S: 'd' }, seq: { N: '8' }, kind: { S: 'part' } }), p)).toBe(false);
    expect(matchesFilter(rec('MODIFY', { docId: { S: 'd' }, seq: { N: '7' } }), p)).toBe(false);
    expect(matchesFilter(rec('REMOVE'), p)).toBe(false);
    expect(matchesFilter(rec('INSERT', { docId: { S: 'd' } }), p)).toBe(false);
  });

  it('drops filtered records without invoking the function, and checkpoints past them', async () => {
    const r = await rig();
    const { OP_LOG_ENTRY_FILTER_PATTERN } = await import('../../../contracts/streams');
    const seen: number[][] = [];
    const { consumer } = consume(r, async (event) => void seen.push(event.Records.map(seqOf)), { filterPatterns: [OP_LOG_ENTRY_FILTER_PATTERN] });
    await put(r, 'flt', 0); // the head
    await put(r, 'flt', 1);
    await r.client.send(new UpdateItemCommand({ TableName: r.table, Key: { docId: { S: 'flt' }, seq: { N: '0' } }, UpdateExpression: 'SET floor = :f', ExpressionAttributeValues: { ':f': { N: '1' } } }));
    await put(r, 'flt', 2, { kind: { S: 'part' } });
    await put(r, 'flt', 3);
    await consumer.drain();
    expect(seen.flat()).toEqual([1, 3]);
    expect(consumer.stats.filteredOut).toBe(3);
    expect(consumer.isIdle()).toBe(true);
  });

  it('a flushing drain cuts the batching window short (clean shutdown)', async () => {
    const r = await rig();
    const seen: number[] = [];
    const { consumer } = consume(r, async (event) => void seen.push(...event.Records.map(seqOf)), { maxBatchingWindowSeconds: 600 });
    await put(r, 'win', 1);
    await consumer.drain({ flush: true });
    expect(seen).toEqual([1]);
  });
});

describe('stream persistence (data folder)', () => {
  it('after a crash, a restarted stream keeps its ARN and records, and each consumer resumes after its checkpoint', async () => {
    const { mkdtempSync, appendFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'concord-stream-'));
    try {
      const change = (seq: number) => ({ eventName: 'INSERT' as const, keys: { docId: { S: 'p' }, seq: { N: String(seq) } }, newImage: { docId: { S: 'p' }, seq: { N: String(seq) } }, partitionKey: JSON.stringify({ S: 'p' }) });
      const first = new OpLogStream({ tableName: 'OpLog', region: 'us-east-1', journalDir: join(dir, 'stream') });
      const delivered: number[] = [];
      const options = (sink: number[]) => ({
        definition: definition(),
        functionArn: 'arn:test',
        invoke: async (event: DynamoDBStreamEvent) => void sink.push(...event.Records.map(seqOf)),
        onFailure: () => undefined,
        checkpointFile: join(dir, 'stream', 'checkpoint-fanout.json'),
      });
      const consumer = new StreamConsumer(first, options(delivered));
      first.append(change(1));
      first.append(change(2));
      await consumer.drain();
      expect(delivered).toEqual([1, 2]);
      consumer.stop(); // the process dies here: records 3 and 4 are stored but never delivered
      first.append(change(3));
      first.append(change(4));
      appendFileSync(join(dir, 'stream', 'records.jsonl'), '{"p":"torn'); // a write cut short by the crash

      const second = new OpLogStream({ tableName: 'OpLog', region: 'us-east-1', journalDir: join(dir, 'stream') });
      expect(second.streamArn).toBe(first.streamArn);
      expect(second.shards.map((s) => s.shardId)).toEqual(first.shards.map((s) => s.shardId));
      const redelivered: number[] = [];
      const resumed = new StreamConsumer(second, options(redelivered));
      second.compactJournal(); // keeps only what a consumer has not passed yet
      const { readFileSync } = await import('node:fs');
      expect(readFileSync(join(dir, 'stream', 'records.jsonl'), 'utf8').trim().split('\n').map((l) => Number(JSON.parse(l).r.dynamodb.Keys.seq.N))).toEqual([3, 4]);
      resumed.start();
      await resumed.drain();
      expect(redelivered).toEqual([3, 4]);
      const next = second.append(change(5));
      expect(next.sequenceNumber > BigInt(first.shardFor(JSON.stringify({ S: 'p' })).records.at(-1)!.record.dynamodb!.SequenceNumber!)).toBe(true);
      await resumed.drain();
      expect(redelivered).toEqual([3, 4, 5]);
      resumed.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
