/**
 * AWS cost model: measured counts (per edit: frames and bytes per recipient, handler CPU) combined
 * with the request counts the adapters make (lambdas/adapters/*) and the prices in bench/prices.ts.
 * Every number that is not measured is an assumption listed in `assumptions`, printed in the report.
 */
import { PRICES } from '../prices';
import { round } from './stats';

export interface CostInputs {
  /** Measured in process: CPU of handleFrame and fanoutDocument per update (µs). */
  readonly messageCpuUs: number;
  readonly fanoutCpuUs: number;
  /** Measured on the local stack: bytes of one fan-out frame per recipient. */
  readonly bytesPerRecipient: number;
  /** Measured: fan-out frames per update per recipient (1 when every update is its own batch). */
  readonly framesPerUpdatePerRecipient: number;
  /** Measured: bytes a client sends per edit. */
  readonly bytesSentPerEdit: number;
}

export const ASSUMPTIONS = {
  collaboratorsPerDocument: 5,
  editsPerActiveEditorHour: 1_800, // 0.5 keystroke transactions per second averaged over an active hour
  awarenessPerActiveEditorHour: 1_800, // cursor/selection updates, same rate
  editsPerStreamBatch: 1, // low per-document rate: each edit reaches the fan-out alone (worst case)
  messageMemoryMb: 1024, // lib/realtime.ts
  fanoutMemoryMb: 1024,
  compactMemoryMb: 1536,
  compactAfterEntries: 200, // CONCORD_COMPACT_AFTER_ENTRIES default (lambdas/config.ts)
  compactDurationMs: 400,
  dynamoCallMs: 6, // one DynamoDB request from Lambda in-region
  postToConnectionMs: 12, // one @connections POST from Lambda
  postConcurrency: 16, // postToMany in lambdas/core/session.ts
  rcuPerMessage: 3, // connection GetItem + op-log top Query + head GetItem, strongly consistent, < 4 KB each
  wcuPerEdit: 1, // op-log PutItem < 1 KB
  wcuPerEditCompaction: 1, // compaction deletes each merged entry (BatchWriteItem, 1 WCU each)
  rcuPerFanoutBatch: 1, // connections-by-document GSI query (eventually consistent, < 8 KB)
  rcuPerAwareness: 2, // connection GetItem + connections query
} as const;

const lambdaCost = (ms: number, memoryMb: number) => Math.max(1, Math.ceil(ms)) * (memoryMb / 1024) / 1000 * PRICES.lambda.perGbSecondArm + PRICES.lambda.perMillionRequests / 1e6;
const billedMessages = (bytes: number) => Math.max(1, Math.ceil(bytes / PRICES.apiGatewayWebSocket.messageBillingBytes));

export function costModel(inputs: CostInputs) {
  const a = ASSUMPTIONS;
  const recipients = a.collaboratorsPerDocument - 1;
  const p = PRICES;
  // Per edit.
  const messageMs = inputs.messageCpuUs / 1000 + a.rcuPerMessage * a.dynamoCallMs + a.dynamoCallMs + a.postToConnectionMs;
  const fanoutMs = inputs.fanoutCpuUs * a.editsPerStreamBatch / 1000 + a.dynamoCallMs + Math.ceil(recipients / a.postConcurrency) * a.postToConnectionMs;
  const perEdit = {
    lambdaInvocations: 1 + 1 / a.editsPerStreamBatch + 1 / a.compactAfterEntries,
    lambdaUsd: lambdaCost(messageMs, a.messageMemoryMb) + lambdaCost(fanoutMs, a.fanoutMemoryMb) / a.editsPerStreamBatch + lambdaCost(a.compactDurationMs, a.compactMemoryMb) / a.compactAfterEntries,
    dynamoWriteUnits: a.wcuPerEdit + a.wcuPerEditCompaction,
    dynamoReadUnits: a.rcuPerMessage + a.rcuPerFanoutBatch / a.editsPerStreamBatch,
    apiGatewayMessages: billedMessages(inputs.bytesSentPerEdit) + 1 /* ack */ + recipients * inputs.framesPerUpdatePerRecipient * billedMessages(inputs.bytesPerRecipient),
    postToConnectionCalls: 1 + recipients * inputs.framesPerUpdatePerRecipient,
    bytesOut: 60 + recipients * inputs.bytesPerRecipient,
  };
  const editUsd = {
    lambda: perEdit.lambdaUsd,
    dynamodb: (perEdit.dynamoWriteUnits * p.dynamodbOnDemand.perMillionWriteUnits + perEdit.dynamoReadUnits * p.dynamodbOnDemand.perMillionReadUnits) / 1e6,
    apiGateway: (perEdit.apiGatewayMessages * p.apiGatewayWebSocket.perMillionMessages) / 1e6,
    dataTransfer: (perEdit.bytesOut / 1e9) * p.cloudfront.perGbOut,
  };
  const perEditUsd = editUsd.lambda + editUsd.dynamodb + editUsd.apiGateway + editUsd.dataTransfer;
  // Awareness: message handler (no op-log write), cache set, one query, fan-out to the others.
  const awarenessUsd = lambdaCost(inputs.messageCpuUs / 1000 + 2 * a.dynamoCallMs + Math.ceil(recipients / a.postConcurrency) * a.postToConnectionMs, a.messageMemoryMb) + (a.rcuPerAwareness * p.dynamodbOnDemand.perMillionReadUnits) / 1e6 + ((1 + recipients) * p.apiGatewayWebSocket.perMillionMessages) / 1e6;
  const hourUsd = {
    edits: a.editsPerActiveEditorHour * perEditUsd,
    awareness: a.awarenessPerActiveEditorHour * awarenessUsd,
    connectionMinutes: (60 * p.apiGatewayWebSocket.perMillionConnectionMinutes) / 1e6,
  };
  const r6 = (x: number) => round(x, 6);
  return {
    prices: p,
    assumptions: a,
    perEdit: { ...perEdit, lambdaUsd: r6(perEdit.lambdaUsd), messageLambdaMs: round(messageMs, 1), fanoutLambdaMs: round(fanoutMs, 1) },
    per1MEditsUsd: {
      lambda: round(editUsd.lambda * 1e6, 2),
      dynamodb: round(editUsd.dynamodb * 1e6, 2),
      apiGateway: round(editUsd.apiGateway * 1e6, 2),
      dataTransfer: round(editUsd.dataTransfer * 1e6, 2),
      total: round(perEditUsd * 1e6, 2),
    },
    perActiveEditorHourUsd: {
      edits: r6(hourUsd.edits),
      awareness: r6(hourUsd.awareness),
      connectionMinutes: r6(hourUsd.connectionMinutes),
      total: r6(hourUsd.edits + hourUsd.awareness + hourUsd.connectionMinutes),
    },
    excluded: 'Fixed monthly costs are not per edit and are excluded: Aurora PostgreSQL (instances or ACUs, storage), RDS Proxy, ElastiCache nodes (Multi-AZ, 2 nodes), NAT gateways, CloudWatch logs/metrics/alarms, X-Ray traces, S3 and CloudFront for the static site, DynamoDB storage and PITR.',
  };
}
