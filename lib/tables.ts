/**
 * DynamoDB tables built from `contracts/tables.ts`, the one source of truth shared with the
 * handlers and the local stack (which creates the same tables in dynalite). Key schemas, GSIs,
 * TTL and streams all come from the definitions; only durability settings come from the stage.
 */
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import {
  CONNECTIONS_TABLE,
  DOCUMENTS_TABLE,
  OP_LOG_TABLE,
  type KeyAttribute,
  type TableDefinition,
} from '../contracts/tables';
import type { StageConfig } from './config';

const ATTRIBUTE_TYPES: Record<KeyAttribute['type'], dynamodb.AttributeType> = {
  S: dynamodb.AttributeType.STRING,
  N: dynamodb.AttributeType.NUMBER,
  B: dynamodb.AttributeType.BINARY,
};

const attribute = (key: KeyAttribute): dynamodb.Attribute => ({ name: key.name, type: ATTRIBUTE_TYPES[key.type] });

/** TableV2 props for one contract definition (exported so tests can check the mapping itself). */
export function tablePropsFor(definition: TableDefinition, config: StageConfig): dynamodb.TableProps {
  return {
    partitionKey: attribute(definition.partitionKey),
    sortKey: definition.sortKey ? attribute(definition.sortKey) : undefined,
    // On-demand: a document's partition takes its own load, no hot provisioned capacity (FM-3.1).
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: definition.ttlAttribute,
    // NEW_IMAGE is all fan-out and compaction read; smaller records than NEW_AND_OLD_IMAGES.
    stream: definition.stream ? dynamodb.StreamViewType.NEW_IMAGE : undefined,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: config.deletionProtection,
    removalPolicy: config.removalPolicy,
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
  };
}

export type TableAccess = 'read' | 'write' | 'readWrite';

const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable'];
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'];

/** A contract table and its CDK table. */
export class ConcordTable {
  constructor(
    readonly definition: TableDefinition,
    readonly table: dynamodb.ITable,
  ) {}

  /**
   * Grants item access on the table and on each of its named indexes (never `index/*`), with
   * no Scan: every access path of the handlers is a key or index query.
   */
  grant(grantee: iam.IGrantable, access: TableAccess): iam.Grant {
    const actions = [...(access === 'write' ? [] : READ_ACTIONS), ...(access === 'read' ? [] : WRITE_ACTIONS)];
    const resourceArns = [
      this.table.tableArn,
      ...(access === 'write' ? [] : this.definition.globalIndexes.map((index) => `${this.table.tableArn}/index/${index.indexName}`)),
    ];
    return iam.Grant.addToPrincipal({ grantee, actions, resourceArns });
  }
}

export interface TablesProps {
  readonly config: StageConfig;
}

/** The three Concord tables. */
export class Tables extends Construct {
  readonly opLog: ConcordTable;
  readonly connections: ConcordTable;
  readonly documents: ConcordTable;
  /** The op log's stream (NEW_IMAGE) that drives fan-out and compaction (FM-1.3). */
  readonly opLogTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: TablesProps) {
    super(scope, id);
    const make = (definition: TableDefinition) => {
      const table = new dynamodb.Table(this, definition.logicalName, tablePropsFor(definition, props.config));
      for (const index of definition.globalIndexes) {
        table.addGlobalSecondaryIndex({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          sortKey: index.sortKey ? attribute(index.sortKey) : undefined,
          projectionType: dynamodb.ProjectionType.ALL,
        });
      }
      return table;
    };
    this.opLogTable = make(OP_LOG_TABLE);
    this.opLog = new ConcordTable(OP_LOG_TABLE, this.opLogTable);
    this.connections = new ConcordTable(CONNECTIONS_TABLE, make(CONNECTIONS_TABLE));
    this.documents = new ConcordTable(DOCUMENTS_TABLE, make(DOCUMENTS_TABLE));
  }
}
