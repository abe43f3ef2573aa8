/**
 * The local stack's token issuer: RS256 keys (asymmetric, FM-5.3) kept in the data folder, and
 * access/id tokens shaped like Amazon Cognito's, so the production authorizer verifies them with
 * the same code through a JWKS URL. Tests use it to mint valid, expired and forged tokens.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, exportPKCS8, generateKeyPair, importPKCS8, type JWK } from 'jose';

export const LOCAL_CLIENT_ID = 'concord-local';

export interface IssuedClaims {
  readonly username: string;
  /** Lifetime in seconds (default 15 minutes, as in the Cognito app client). */
  readonly ttlSeconds?: number;
  /** Overrides for negative tests: another issuer, client id or token_use. */
  readonly overrides?: Record<string, unknown>;
  /** Issue-time in epoch seconds (tests of expiry); default now. */
  readonly issuedAt?: number;
}

export interface TokenIssuer {
  readonly issuer: string;
  readonly clientId: string;
  readonly kid: string;
  jwks(): { keys: JWK[] };
  accessToken(claims: IssuedClaims): Promise<{ token: string; jti: string; exp: number }>;
  idToken(claims: IssuedClaims): Promise<string>;
}

interface StoredKey {
  kid: string;
  pkcs8: string;
}

/**
 * Creates (or loads from `keyFile`) an RS256 key pair. With no `keyFile` the key lives in memory
 * only (tests).
 */
export async function createTokenIssuer(options: { issuer: string; clientId?: string; keyFile?: string }): Promise<TokenIssuer> {
  let stored: StoredKey | null = null;
  if (options.keyFile && existsSync(options.keyFile)) {
    try {
      stored = JSON.parse(readFileSync(options.keyFile, 'utf8')) as StoredKey;
    } catch (e) {
      throw new Error(`The signing key file ${options.keyFile} is corrupt (${(e as Error).message}); delete it or run with --reset.`);
    }
  }
  let privateKey: CryptoKey;
  let publicJwk: JWK;
  let kid: string;
  if (stored) {
    privateKey = (await importPKCS8(stored.pkcs8, 'RS256', { extractable: true })) as CryptoKey;
    const pub = await crypto.subtle.exportKey('jwk', privateKey);
    publicJwk = { kty: pub.kty, n: pub.n, e: pub.e };
    kid = stored.kid;
  } else {
    const pair = await generateKeyPair('RS256', { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    publicJwk = await exportJWK(pair.publicKey);
    kid = randomUUID();
    if (options.keyFile) {
      mkdirSync(dirname(options.keyFile), { recursive: true });
      writeFileSync(options.keyFile, JSON.stringify({ kid, pkcs8: await exportPKCS8(privateKey) }), { mode: 0o600 });
    }
  }
  const clientId = options.clientId ?? LOCAL_CLIENT_ID;
  const jwk: JWK = { ...publicJwk, kid, alg: 'RS256', use: 'sig' };

  const sign = async (payload: Record<string, unknown>, claims: IssuedClaims) => {
    const iat = claims.issuedAt ?? Math.floor(Date.now() / 1000);
    const exp = iat + (claims.ttlSeconds ?? 15 * 60);
    const jti = randomUUID();
    const token = await new SignJWT({ ...payload, jti, ...claims.overrides })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer((claims.overrides?.iss as string) ?? options.issuer)
      .setSubject(`local-${claims.username}`)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(privateKey);
    return { token, jti, exp };
  };

  return {
    issuer: options.issuer,
    clientId,
    kid,
    jwks: () => ({ keys: [jwk] }),
    accessToken: (claims) =>
      sign({ token_use: 'access', client_id: clientId, username: claims.username, scope: 'openid profile', auth_time: claims.issuedAt ?? Math.floor(Date.now() / 1000) }, claims),
    idToken: async (claims) =>
      (await sign({ token_use: 'id', aud: clientId, 'cognito:username': claims.username, name: claims.username }, claims)).token,
  };
}
