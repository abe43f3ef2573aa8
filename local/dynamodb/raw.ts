/**
 * A bare DynamoDB JSON-protocol call, for the emulator's own reads and TTL deletions (no SDK
 * client, no retries, no faults). dynalite checks that an Authorization header is present, not
 * its signature.
 */
import { request as httpRequest } from 'node:http';

export class DynamoCallError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'DynamoCallError';
  }
}

export function dynamoCall<T = Record<string, unknown>>(endpoint: string, operation: string, payload: unknown, headers: Record<string, string> = {}): Promise<T> {
  const target = new URL(endpoint);
  const body = Buffer.from(JSON.stringify(payload));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${operation}`,
          authorization: 'AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00',
          'x-amz-date': '20200101T000000Z',
          'content-length': String(body.length),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const parsed = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
          if (res.statusCode !== 200) return reject(new DynamoCallError(res.statusCode ?? 500, String(parsed.__type ?? ''), `${operation} failed: ${res.statusCode} ${text}`));
          resolve(parsed as T);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
