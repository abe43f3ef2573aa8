/**
 * Posts frames to WebSocket connections through the API Gateway management API (`@connections`),
 * in AWS and against the local stack's emulator alike. A 410 GoneException means the socket is
 * closed: reported as 'gone' so the caller deletes the connection.
 */
import {
  ApiGatewayManagementApiClient, DeleteConnectionCommand, GoneException, PostToConnectionCommand,
  type ApiGatewayManagementApiClientConfig,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { Broadcaster, PostResult } from '../core/ports';

const isGone = (e: unknown) => e instanceof GoneException || (e as { name?: string })?.name === 'GoneException' || (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 410;

/** Told about every post, for metrics (posted bytes, 410s). */
export type PostObserver = (result: PostResult, bytes: number) => void;

/**
 * A post that hangs must not hold the fan-out until the Lambda timeout: a fan-out batch serves
 * every document of its shard, so each post gets a bounded time (and the SDK's retries). Without
 * `throwOnRequestTimeout` the SDK only logs a warning when `requestTimeout` passes.
 */
export const POST_TIMEOUTS = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true } as const;

export class ApiGatewayBroadcaster implements Broadcaster {
  readonly client: ApiGatewayManagementApiClient;

  constructor(config: ApiGatewayManagementApiClientConfig & { endpoint: string }, private readonly observer?: PostObserver) {
    this.client = new ApiGatewayManagementApiClient({ maxAttempts: 3, requestHandler: { ...POST_TIMEOUTS }, ...config });
  }

  async post(connectionId: string, frame: string): Promise<PostResult> {
    try {
      await this.client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: frame }));
      this.observer?.('ok', Buffer.byteLength(frame));
      return 'ok';
    } catch (e) {
      if (isGone(e)) {
        this.observer?.('gone', 0);
        return 'gone';
      }
      throw e;
    }
  }

  async close(connectionId: string): Promise<void> {
    try {
      await this.client.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

}
