/**
 * The @connections adapter against local HTTP servers: 410 means gone, and a post that never gets
 * an answer fails within the configured time instead of holding the fan-out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiGatewayBroadcaster, POST_TIMEOUTS } from '../../../lambdas/adapters/apigateway-broadcaster';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/ws`;
}

const local = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

describe('ApiGatewayBroadcaster', () => {
  it('reports ok for 200 and gone for 410 GoneException, with the observer told the posted bytes', async () => {
    const endpoint = await serve((req, res) => {
      const gone = req.url?.includes('closed');
      res.writeHead(gone ? 410 : 200, { 'content-type': 'application/json', ...(gone ? { 'x-amzn-errortype': 'GoneException' } : {}) });
      res.end(gone ? '{"message":null}' : '');
    });
    const seen: [string, number][] = [];
    const b = new ApiGatewayBroadcaster({ ...local, endpoint }, (result, bytes) => seen.push([result, bytes]));
    expect(await b.post('open', 'AAEC')).toBe('ok');
    expect(await b.post('closed', 'AAEC')).toBe('gone');
    expect(seen).toEqual([['ok', 4], ['gone', 0]]);
  });

  it('FM-4.2: a post that never gets an answer fails within the request timeout (the fan-out then retries the batch)', async () => {
    let requests = 0;
    const endpoint = await serve(() => {
      requests++; // never answers
    });
    const b = new ApiGatewayBroadcaster({ ...local, endpoint, maxAttempts: 1, requestHandler: { ...POST_TIMEOUTS, requestTimeout: 300 } });
    const started = Date.now();
    await expect(b.post('c1', 'AAEC')).rejects.toThrow();
    expect(requests).toBe(1);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The production defaults bound every post the same way, only later.
    expect(POST_TIMEOUTS).toMatchObject({ throwOnRequestTimeout: true, requestTimeout: 10_000 });
  });
});
