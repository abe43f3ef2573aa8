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

export class ApiGatewayBroadcaster implements Broadcaster {
  readonly client: ApiGatewayManagementApiClient;

  constructor(config: ApiGatewayManagementApiClientConfig & { endpoint: string }, private readonly observer?: PostObserver) {
    this.client = new ApiGatewayManagementApiClient({ maxAttempts: 3, ...config });
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
