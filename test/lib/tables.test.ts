import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { OP_LOG_TABLE, TABLES, type KeyAttribute, type TableDefinition } from '../../contracts/tables';
import { resourcesOfType, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
});

const keySchema = (pk: KeyAttribute, sk?: KeyAttribute) => [
  { AttributeName: pk.name, KeyType: 'HASH' },
  ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' }] : []),
];

/** The table built from `definition` (matched by its logical id prefix, e.g. TablesOpLog...). */
function tableFor(s: Synthesized, definition: TableDefinition) {
  const found = resourcesOfType(s.data, 'AWS::DynamoDB::Table').filter(([id]) => id.startsWith(`Tables${definition.logicalName}`));
  expect(found, `table for ${definition.logicalName}`).toHaveLength(1);
  return found[0][1].Properties;
}

describe('DynamoDB tables from contracts/tables.ts (lib/tables.ts)', () => {
  it('builds exactly the tables of the contract', () => {
    dev.data.resourceCountIs('AWS::DynamoDB::Table', TABLES.length);
  });

  it.each(TABLES.map((t) => [t.logicalName, t] as const))('%s: key schema, attribute types, GSIs and TTL come from the contract', (_name, definition) => {
    const props = tableFor(dev, definition);
    expect(props.KeySchema).toEqual(keySchema(definition.partitionKey, definition.sortKey));
    const declared = new Map((props.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map((a) => [a.AttributeName, a.AttributeType]));
    const used = [definition.partitionKey, definition.sortKey, ...definition.globalIndexes.flatMap((i) => [i.partitionKey, i.sortKey])].filter(
      (k): k is KeyAttribute => Boolean(k),
    );
    for (const key of used) expect(declared.get(key.name), key.name).toBe(key.type);
    expect(declared.size).toBe(new Set(used.map((k) => k.name)).size);
    const indexes = (props.GlobalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: unknown; Projection: unknown }[];
    expect(indexes.map((i) => i.IndexName)).toEqual(definition.globalIndexes.map((i) => i.indexName));
    for (const index of definition.globalIndexes) {
      const built = indexes.find((i) => i.IndexName === index.indexName)!;
      expect(built.KeySchema).toEqual(keySchema(index.partitionKey, index.sortKey));
      expect(built.Projection).toEqual({ ProjectionType: 'ALL' });
    }
    if (definition.ttlAttribute) expect(props.TimeToLiveSpecification).toEqual({ AttributeName: definition.ttlAttribute, Enabled: true });
    else expect(props.TimeToLiveSpecification).toBeUndefined();
    if (definition.stream) expect(props.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    else expect(props.StreamSpecification).toBeUndefined();
  });

  it('FM-3.1: partitions the op log by document, on demand, so no document is a hot spot of another', () => {
    const props = tableFor(dev, OP_LOG_TABLE);
    expect(props.KeySchema).toEqual([
      { AttributeName: 'docId', KeyType: 'HASH' },
      { AttributeName: 'seq', KeyType: 'RANGE' },
    ]);
    for (const definition of TABLES) expect(tableFor(prod, definition).BillingMode).toBe('PAY_PER_REQUEST');
  });

  it('FM-1.3: the op log streams NEW_IMAGE records (the stream, not polling, drives fan-out and compaction)', () => {
    expect(tableFor(dev, OP_LOG_TABLE).StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
  });

  it('FM-3.3: every table has point-in-time recovery and encryption, in every stage', () => {
    for (const s of [dev, prod]) {
      for (const definition of TABLES) {
        const props = tableFor(s, definition);
        expect(props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
        expect(props.SSESpecification).toEqual({ SSEEnabled: true });
      }
    }
  });

  it('FM-3.3: prod tables are deletion-protected and retained; dev tables are removable', () => {
    prod.data.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    expect(resourcesOfType(prod.data, 'AWS::DynamoDB::Table').every(([, t]) => t.Properties.DeletionProtectionEnabled === true)).toBe(true);
    const prodPolicies = Object.values(prod.data.findResources('AWS::DynamoDB::Table')).map((r) => r.DeletionPolicy);
    expect(prodPolicies).toEqual(TABLES.map(() => 'Retain'));
    const devPolicies = Object.values(dev.data.findResources('AWS::DynamoDB::Table')).map((r) => r.DeletionPolicy);
    expect(devPolicies).toEqual(TABLES.map(() => 'Delete'));
    expect(resourcesOfType(dev.data, 'AWS::DynamoDB::Table').every(([, t]) => t.Properties.DeletionProtectionEnabled === false)).toBe(true);
  });
});
