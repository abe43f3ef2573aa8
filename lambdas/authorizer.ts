/**
 * `$connect` REQUEST authorizer (identity source `route.request.header.Cookie`, plus the `doc`
 * query parameter). Verifies the access token from the httpOnly `concord_at` cookie (signature,
 * expiry, issuer, client id, token_use), refuses revoked token ids (FM-5.1), and looks up the
 * user's role on the requested document (FM-5.2).
 *
 * Outcomes, as API Gateway expects them:
 *  - no / invalid / expired / revoked token: throws `Error('Unauthorized')` (the gateway answers 401);
 *  - valid token, no role on the document: a Deny policy (403), context `{ code: 'forbidden' }`;
 *  - otherwise an Allow policy with context `{ userId, role, docId, tokenExpiresAt, jti }`
 *    (tokenExpiresAt in epoch ms), which `connect` and later routes receive as
 *    `requestContext.authorizer`.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import type { Role } from './core/ports';
import { isRevoked, roleFor } from './access';
import { COOKIES, TokenRejectedError, parseCookies } from './auth';
import { getLogger, getMetrics, instrumented, MetricUnit } from './observability';
import { runtime } from './runtime';

export interface AuthorizerContext {
  readonly userId: string;
  readonly role: Role;
  readonly docId: string;
  readonly tokenExpiresAt: number;
  readonly jti: string;
}

const header = (headers: Record<string, string | undefined> | null | undefined, name: string): string[] =>
  Object.entries(headers ?? {})
    .filter(([k, v]) => k.toLowerCase() === name && v !== undefined)
    .map(([, v]) => v as string);

function policy(principalId: string, effect: 'Allow' | 'Deny', resource: string, context: Record<string, string | number>): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context,
  };
}

export const handler = async (event: APIGatewayRequestAuthorizerEvent, lambdaContext?: Context): Promise<APIGatewayAuthorizerResult> => {
  const docId = event.queryStringParameters?.doc ?? '';
  return instrumented('authorizer', { docId, connectionId: event.requestContext?.connectionId }, async () => {
    const log = getLogger();
    const deny = (reason: string): never => {
      log.info('Connection refused: not signed in', { reason });
      getMetrics().addMetric('ConnectUnauthorized', MetricUnit.Count, 1);
      // The exact message makes API Gateway answer 401.
      throw new Error('Unauthorized');
    };
    const cookieHeaders = [...header(event.headers, 'cookie'), ...(event.multiValueHeaders ? Object.entries(event.multiValueHeaders).filter(([k]) => k.toLowerCase() === 'cookie').flatMap(([, v]) => v ?? []) : [])];
    const token = parseCookies(cookieHeaders)[COOKIES.accessToken];
    if (!token) return deny('no access token cookie');
    let verified;
    try {
      verified = await runtime.verifier().verify(token);
    } catch (e) {
      if (e instanceof TokenRejectedError) return deny(e.message);
      throw e;
    }
    log.appendKeys({ userId: verified.userId });
    if (await isRevoked(verified.jti)) return deny('token revoked');
    const role = docId && docId.length <= 128 ? await roleFor(docId, verified.userId) : null;
    if (!role) {
      log.info('Connection refused: no role on the document');
      getMetrics().addMetric('ConnectForbidden', MetricUnit.Count, 1);
      return policy(verified.userId, 'Deny', event.methodArn, { code: 'forbidden' });
    }
    const context: AuthorizerContext = { userId: verified.userId, role, docId, tokenExpiresAt: verified.expiresAt, jti: verified.jti };
    return policy(verified.userId, 'Allow', event.methodArn, { ...context });
  }, lambdaContext);
};
