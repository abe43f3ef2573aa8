/**
 * Access-token verification and cookies, shared by the authorizer and the api handler. Tokens
 * are shaped like Amazon Cognito access tokens (RS256, kid, iss, token_use=access, client_id,
 * username, jti, exp); the same aws-jwt-verify code verifies Cognito's and the local issuer's, with
 * the JWKS fetched over https (AWS) or http (local stack) by a small fetch-based fetcher.
 */
import { JwtVerifier } from 'aws-jwt-verify';
import { JwtBaseError, JwtExpiredError, NonRetryableFetchError } from 'aws-jwt-verify/error';
import type { Fetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { AuthConfig } from './config';

export const COOKIES = {
  accessToken: 'concord_at',
  refreshToken: 'concord_rt',
  pkce: 'concord_pkce',
} as const;

export interface VerifiedToken {
  readonly userId: string;
  readonly jti: string;
  /** Expiry, epoch milliseconds. */
  readonly expiresAt: number;
}

export class TokenRejectedError extends Error {
  readonly expired: boolean;
  constructor(reason: string, expired = false) {
    super(reason);
    this.name = 'TokenRejectedError';
    this.expired = expired;
  }
}

/** Fetches JWKS with the platform fetch, which speaks both http and https. */
class FetchFetcher implements Fetcher {
  async fetch(uri: string): Promise<ArrayBuffer> {
    const response = await fetch(uri, { signal: AbortSignal.timeout(3000) });
    if (response.status !== 200) throw new NonRetryableFetchError(uri, `Status code is ${response.status}, expected 200`);
    return response.arrayBuffer();
  }
}

export interface TokenVerifier {
  verify(token: string): Promise<VerifiedToken>;
}

export function createTokenVerifier(config: AuthConfig): TokenVerifier {
  const verifier = JwtVerifier.create(
    {
      issuer: config.issuer,
      audience: null,
      jwksUri: config.jwksUrl,
      customJwtCheck: ({ payload }) => {
        if (payload.token_use !== 'access') throw new Error('not an access token');
        if (payload.client_id !== config.clientId) throw new Error('issued to another client');
        if (typeof payload.username !== 'string' || payload.username.length === 0) throw new Error('no username claim');
        if (typeof payload.jti !== 'string' || payload.jti.length === 0) throw new Error('no jti claim');
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher: new FetchFetcher() }) },
  );
  return {
    async verify(token: string): Promise<VerifiedToken> {
      try {
        const payload = await verifier.verify(token);
        return { userId: payload.username as string, jti: payload.jti as string, expiresAt: Number(payload.exp) * 1000 };
      } catch (e) {
        if (e instanceof JwtExpiredError) throw new TokenRejectedError('token expired', true);
        if (e instanceof JwtBaseError || e instanceof Error) throw new TokenRejectedError(e.message);
        throw new TokenRejectedError(String(e));
      }
    },
  };
}

/** Parses a Cookie header (or several, joined) into name → value; the first occurrence wins. */
export function parseCookies(headers: readonly (string | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const header of headers) {
    if (!header) continue;
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq <= 0) continue;
      const name = part.slice(0, eq).trim();
      let value = part.slice(eq + 1).trim();
      if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (!(name in out)) {
        try {
          out[name] = decodeURIComponent(value);
        } catch {
          out[name] = value;
        }
      }
    }
  }
  return out;
}

export interface CookieOptions {
  readonly path: string;
  readonly maxAgeSeconds: number;
  readonly sameSite: 'Strict' | 'Lax';
  /** False only for a plain-http local site origin, where browsers would drop a Secure cookie. */
  readonly secure: boolean;
}

export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  return [
    `${name}=${encodeURIComponent(value)}`,
    `Path=${options.path}`,
    `Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`,
    'HttpOnly',
    ...(options.secure ? ['Secure'] : []),
    `SameSite=${options.sameSite}`,
  ].join('; ');
}
