/**
 * An in-process DynamoDB-API server (dynalite) with Concord's tables created from
 * contracts/tables.ts, so the production `@aws-sdk/client-dynamodb` adapters run unchanged on a
 * laptop and in tests. Used by the local stack and the handler integration tests.
 *
 *   const ddb = await startEmbeddedDynamo();            // in memory, random port
 *   process.env.CONCORD_DYNAMODB_ENDPOINT = ddb.endpoint;
 *   process.env.CONCORD_OP_LOG_TABLE = ddb.tableNames.OpLog;
 *   ...
 *   await ddb.stop();
 *
 * dynalite has no streams, no TTL deletion and no TransactWriteItems; the adapters do not use
 * them, and the local stack delivers stream records itself.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceInUseException,
  type AttributeDefinition, type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { ENV } from '../../contracts/env';
import { TABLES, type TableDefinition } from '../../contracts/tables';

export interface EmbeddedDynamoOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Folder for dynalite's LevelDB files, so data survives a restart; in memory when unset. */
  readonly path?: string;
  /** Prefix for table names (e.g. a test's unique id); the names are `${prefix}${logicalName}`. */
  readonly tablePrefix?: string;
}

export interface EmbeddedDynamo {
  /** http://127.0.0.1:<port>, for CONCORD_DYNAMODB_ENDPOINT. */
  readonly endpoint: string;
  readonly port: number;
  /** Table names by logical name (OpLog, Connections, Documents). */
  readonly tableNames: Readonly<Record<string, string>>;
  /** Environment variables pointing the handlers at these tables. */
  readonly env: Readonly<Record<string, string>>;
  /** A client for this server (tests and seeding). */
  readonly client: DynamoDBClient;
  stop(): Promise<void>;
}

/** Static credentials and region: the SDK needs some, dynalite checks none. */
export const LOCAL_AWS_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** The CreateTable request for one contract table (GSIs projected ALL, on-demand billing). */
export function createTableInput(table: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, AttributeDefinition>();
  const add = (a: { name: string; type: string }) => attributes.set(a.name, { AttributeName: a.name, AttributeType: a.type as AttributeDefinition['AttributeType'] });
  add(table.partitionKey);
  if (table.sortKey) add(table.sortKey);
  for (const index of table.globalIndexes) {
    add(index.partitionKey);
    if (index.sortKey) add(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes.values()],
    KeySchema: [
      { AttributeName: table.partitionKey.name, KeyType: 'HASH' },
      ...(table.sortKey ? [{ AttributeName: table.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    GlobalSecondaryIndexes: table.globalIndexes.length
      ? table.globalIndexes.map((index) => ({
          IndexName: index.indexName,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
            ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }] : []),
          ],
          Projection: { ProjectionType: 'ALL' as const },
        }))
      : undefined,
  };
}

/** Creates every contract table that does not exist yet (idempotent, so a restart reuses data). */
export async function ensureTables(client: DynamoDBClient, tablePrefix = ''): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  for (const table of TABLES) {
    const name = `${tablePrefix}${table.logicalName}`;
    names[table.logicalName] = name;
    try {
      await client.send(new CreateTableCommand(createTableInput(table, name)));
    } catch (e) {
      if (!(e instanceof ResourceInUseException)) throw e;
    }
    // dynalite is created with createTableMs 0, but wait for ACTIVE anyway: a restarted server
    // may still be finishing a table it was creating when it stopped.
    for (let i = 0; i < 100; i++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
      if (Table?.TableStatus === 'ACTIVE') break;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return names;
}

type DynaliteFactory = (options: Record<string, unknown>) => Server;

export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  // dynalite is CommonJS; createRequire keeps this module loadable as ESM under tsx and vitest.
  const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
  if (options.path) mkdirSync(options.path, { recursive: true });
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path ? { path: options.path } : {}) });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...LOCAL_AWS_CLIENT_CONFIG, endpoint });
  let tableNames: Record<string, string>;
  try {
    tableNames = await ensureTables(client, options.tablePrefix ?? '');
  } catch (e) {
    client.destroy();
    await new Promise((r) => server.close(r));
    throw e;
  }
  return {
    endpoint,
    port,
    tableNames,
    client,
    env: {
      [ENV.DYNAMODB_ENDPOINT]: endpoint,
      [ENV.OP_LOG_TABLE]: tableNames.OpLog,
      [ENV.CONNECTIONS_TABLE]: tableNames.Connections,
      [ENV.DOCUMENTS_TABLE]: tableNames.Documents,
    },
    async stop() {
      client.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    },
  };
}
