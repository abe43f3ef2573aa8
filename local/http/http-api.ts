/**
 * API Gateway HTTP API (payload format 2.0) in front of the `api` handler: turns a Node request
 * into an `APIGatewayProxyEventV2` (cookies array, lowercase comma-joined headers without
 * `cookie`, rawPath, rawQueryString, base64 body for binary content) and writes back a v2 result
 * (statusCode, headers, cookies as separate Set-Cookie headers, isBase64Encoded), including the
 * format inference API Gateway applies to a result without `statusCode`.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export interface HttpApiOptions {
  readonly invoke: (event: APIGatewayProxyEventV2) => Promise<unknown>;
  readonly domainName: string;
  /** Largest request body, bytes (API Gateway HTTP API: 10 MB). */
  readonly maxBodyBytes?: number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export const API_PREFIX = '/api/';
const ROUTE_KEY = 'ANY /api/{proxy+}';

const TEXT_TYPES = /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript)|[^;]*\+json|[^;]*\+xml)/i;

export async function buildHttpApiEvent(req: IncomingMessage, body: Buffer, domainName: string): Promise<APIGatewayProxyEventV2> {
  const url = new URL(req.url ?? '/', 'http://local');
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    const value = req.rawHeaders[i + 1];
    if (name === 'cookie') {
      cookies.push(...value.split(';').map((c) => c.trim()).filter(Boolean));
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const rawQueryString = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '';
  const now = Date.now();
  const contentType = headers['content-type'] ?? '';
  const isText = body.length === 0 || TEXT_TYPES.test(contentType);
  const rawPath = url.pathname;
  // The CDK app's single route (lib/http-api.ts): `ANY /api/{proxy+}`, path parameter decoded.
  const proxy = rawPath.startsWith(API_PREFIX) ? rawPath.slice(API_PREFIX.length) : '';
  let proxyParam = proxy;
  try {
    proxyParam = decodeURIComponent(proxy);
  } catch {
    /* keep it encoded, as API Gateway does for malformed escapes */
  }
  return {
    version: '2.0',
    routeKey: ROUTE_KEY,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length ? { queryStringParameters: query } : {}),
    pathParameters: { proxy: proxyParam },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName,
      domainPrefix: domainName.split('.')[0],
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: ROUTE_KEY,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(body.length ? { body: isText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

export function writeHttpApiResult(res: ServerResponse, result: unknown): void {
  // Format inference: anything that is not an object with statusCode is a 200 JSON body.
  let structured: APIGatewayProxyStructuredResultV2;
  if (result && typeof result === 'object' && 'statusCode' in result) structured = result as APIGatewayProxyStructuredResultV2;
  else if (typeof result === 'string') structured = { statusCode: 200, body: result, headers: { 'content-type': 'application/json' } };
  else structured = { statusCode: 200, body: result === undefined ? '' : JSON.stringify(result), headers: { 'content-type': 'application/json' } };

  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(structured.headers ?? {})) headers[k.toLowerCase()] = String(v);
  if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
  const body = structured.body === undefined ? Buffer.alloc(0) : structured.isBase64Encoded ? Buffer.from(structured.body, 'base64') : Buffer.from(structured.body, 'utf8');
  if (!headers['content-type'] && body.length) headers['content-type'] = 'application/json';
  headers['content-length'] = String(body.length);
  headers['apigw-requestid'] = randomUUID();
  res.writeHead(structured.statusCode ?? 200, headers);
  res.end(body);
}

export function createHttpApi(options: HttpApiOptions) {
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBody) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith(API_PREFIX) || path.length === API_PREFIX.length) {
      // No route matches: API Gateway answers itself, without invoking the function.
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not Found' }));
      return;
    }
    const event = await buildHttpApiEvent(req, Buffer.concat(chunks), options.domainName);
    let result: unknown;
    try {
      result = await options.invoke(event);
    } catch (error) {
      // What API Gateway answers when the integration fails or times out.
      options.log?.({ level: 'ERROR', message: 'api handler failed', path: event.rawPath, error: String(error) });
      const timedOut = (error as { code?: string })?.code === 'lambda_timeout';
      res.writeHead(timedOut ? 503 : 500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: timedOut ? 'Service Unavailable' : 'Internal Server Error' }));
      return;
    }
    writeHttpApiResult(res, result);
  };
}
