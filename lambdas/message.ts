/**
 * `$default`: one text frame from a connection, handed to the core's `handleFrame` (decode,
 * reassemble chunks, sync handshake, validate and persist updates, ack, awareness relay, rate
 * limit, viewer refusal, expired-token REAUTH). Replies go out through the @connections API.
 * Bad input never throws: the sender gets an ERROR and nothing is stored (invariant 5).
 */
import type { APIGatewayProxyResultV2, Context } from 'aws-lambda';
import type { Connection } from './core/ports';
import { ERROR_CODES, type ErrorCode } from './core/errors';
import { handleFrame } from './core/session';
import { encodeFrames, errorMessage } from './core/protocol';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';
import type { WebSocketEvent } from './ws-event';

/**
 * Connection records cached per container for a moment: a burst of frames costs one read. Short
 * enough that a role change (api) or a reauth takes effect almost at once.
 */
const CONNECTION_CACHE_MS = 2000;
const connectionCache = new Map<string, { connection: Connection; until: number }>();

export function forgetConnection(connectionId: string): void {
  connectionCache.delete(connectionId);
}

async function lookupConnection(connectionId: string, now: number): Promise<Connection | null> {
  const hit = connectionCache.get(connectionId);
  if (hit && hit.until > now) return hit.connection;
  const connection = await runtime.connections().get(connectionId);
  if (connection) {
    if (connectionCache.size > 10_000) connectionCache.clear();
    connectionCache.set(connectionId, { connection, until: now + CONNECTION_CACHE_MS });
  } else connectionCache.delete(connectionId);
  return connection;
}

async function refuseAndClose(connectionId: string, code: ErrorCode): Promise<void> {
  const broadcaster = runtime.broadcaster();
  for (const frame of encodeFrames(errorMessage(code, ERROR_CODES[code]))) {
    if ((await broadcaster.post(connectionId, frame)) === 'gone') return;
  }
  await broadcaster.close(connectionId);
}

export const handler = async (event: WebSocketEvent, lambdaContext?: Context): Promise<APIGatewayProxyResultV2> => {
  const connectionId = event.requestContext.connectionId;
  return instrumented('message', { connectionId }, async () => {
    const log = getLogger();
    const metrics = getMetrics();
    const clock = runtime.clock();
    const started = clock.now();
    try {
      const connection = await lookupConnection(connectionId, started);
      if (!connection) {
        // Deleted after a 410, removed from the document's members, or never registered.
        log.warn('Frame from an unknown connection; closing it');
        await refuseAndClose(connectionId, 'unauthorized');
        return { statusCode: 200 };
      }
      log.appendKeys({ docId: connection.docId, userId: connection.userId });
      if (event.isBase64Encoded) {
        // API Gateway refuses binary frames itself (close 1003); an emulator might pass them on.
        await refuseAndClose(connectionId, 'binary_frame');
        return { statusCode: 200 };
      }
      const frame = event.body ?? '';
      const deps = await runtime.session();
      const outcome = await handleFrame(deps, connection, frame);
      metrics.addMetric('FrameBytes', MetricUnit.Bytes, Buffer.byteLength(frame));
      switch (outcome.status) {
        case 'ok':
          if (outcome.entry) {
            metrics.addMetric('UpdateBytes', MetricUnit.Bytes, outcome.bytes);
            metrics.addMetric('UpdatesStored', MetricUnit.Count, 1);
            metrics.addMetric('AckLatency', MetricUnit.Milliseconds, clock.now() - started);
            log.info('Update stored', { kind: outcome.kind, seq: outcome.entry.seq, bytes: outcome.bytes });
          } else if (outcome.kind === 'sync-step1') {
            metrics.addMetric('SyncBytes', MetricUnit.Bytes, outcome.bytes);
            log.info('Sync step 1 answered', { bytes: outcome.bytes });
          } else if (outcome.kind === 'awareness') {
            metrics.addMetric('AwarenessBytes', MetricUnit.Bytes, outcome.bytes);
          }
          break;
        case 'chunk-pending':
          metrics.addMetric('ChunkPieces', MetricUnit.Count, 1);
          break;
        case 'refused':
          metrics.addMetric('FramesRefused', MetricUnit.Count, 1);
          if (outcome.code === 'rate_limited') metrics.addMetric('RateLimited', MetricUnit.Count, 1);
          log.info('Frame refused', { code: outcome.code });
          break;
        case 'reauth':
          forgetConnection(connectionId);
          metrics.addMetric('ReauthSent', MetricUnit.Count, 1);
          log.info('Token expired mid-socket; REAUTH sent and connection closed');
          break;
      }
      return { statusCode: 200 };
    } catch (error) {
      // A backing service failed: the update was not acknowledged (the core told the client it
      // was not saved), so the client resends it.
      log.error('Frame failed', { error });
      metrics.addMetric('FrameErrors', MetricUnit.Count, 1);
      return { statusCode: 500 };
    }
  }, lambdaContext);
};
