import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionByService, resourcesOfType, synthConcord, type Synthesized } from './support/synth';

let dev: Synthesized;
let prod: Synthesized;
let custom: Synthesized;
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666';

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  prod = synthConcord({ stage: 'prod' });
  custom = synthConcord({ stage: 'prod', context: { domainName: 'docs.example.com', certificateArn: CERT } });
});

/** Every string anywhere in a template. */
function strings(node: unknown, out: string[] = []): string[] {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) node.forEach((n) => strings(n, out));
  else if (node && typeof node === 'object') Object.values(node).forEach((n) => strings(n, out));
  return out;
}

describe('Cognito (lib/auth.ts)', () => {
  it('FM-4.4: the web client uses the authorization code flow (PKCE) as a public client without a secret', () => {
    dev.appStack.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: Match.arrayWith(['openid']),
      SupportedIdentityProviders: ['COGNITO'],
      PreventUserExistenceErrors: 'ENABLED',
    });
  });

  it('FM-5.1: access and ID tokens live 15 minutes, refresh tokens carry the session and can be revoked', () => {
    for (const [s, refreshDays] of [[dev, 30], [prod, 7]] as const) {
      s.appStack.hasResourceProperties('AWS::Cognito::UserPoolClient', {
        AccessTokenValidity: 15,
        IdTokenValidity: 15,
        RefreshTokenValidity: refreshDays * 24 * 60,
        TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'minutes' },
        EnableTokenRevocation: true,
        ExplicitAuthFlows: Match.arrayWith(['ALLOW_REFRESH_TOKEN_AUTH']),
      });
    }
  });

  it('registers <site>/api/auth/callback as the only callback: the CloudFront domain, or the custom domain', () => {
    dev.appStack.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      CallbackURLs: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^EdgeDistribution'), 'DomainName'] }, '/api/auth/callback']] }],
      LogoutURLs: [{ 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [Match.stringLikeRegexp('^EdgeDistribution'), 'DomainName'] }, '/']] }],
    });
    custom.appStack.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      CallbackURLs: ['https://docs.example.com/api/auth/callback'],
      LogoutURLs: ['https://docs.example.com/'],
    });
  });

  it('keeps the user pool with strong passwords, optional MFA in dev and required MFA plus threat protection in prod', () => {
    dev.data.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'OPTIONAL',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
    });
    prod.data.hasResourceProperties('AWS::Cognito::UserPool', {
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      UserPoolTier: 'PLUS',
      UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' },
      DeletionProtection: 'ACTIVE',
    });
    prod.data.hasResource('AWS::Cognito::UserPool', { DeletionPolicy: 'Retain' });
    dev.data.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: { 'Fn::Join': ['', ['concord-dev-', { Ref: 'AWS::AccountId' }]] },
    });
  });

  it('FM-5.3: hands the handlers the issuer, JWKS URL, client id, hosted UI and site origin: nothing to sign with', () => {
    const api = functionByService(dev.appStack, 'api').props.Environment.Variables;
    // The issuer must be exactly the tokens' `iss`: https://cognito-idp.<region>.<suffix>/<pool id>.
    expect(api.CONCORD_JWT_ISSUER).toEqual({
      'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/', { 'Fn::ImportValue': expect.stringMatching(/UsersUserPool/) }]],
    });
    expect(api.CONCORD_JWKS_URL['Fn::Join'][1].at(-1)).toBe('/.well-known/jwks.json');
    expect(api.CONCORD_JWT_AUDIENCE).toEqual({ Ref: expect.stringMatching(/^WebClient/) });
    expect(api.CONCORD_COGNITO_CLIENT_ID).toEqual(api.CONCORD_JWT_AUDIENCE);
    expect(JSON.stringify(api.CONCORD_COGNITO_DOMAIN)).toContain('.amazoncognito.com');
    expect(JSON.stringify(api.CONCORD_SITE_ORIGIN)).toMatch(/https:\/\/.*EdgeDistribution.*DomainName/);
    const authorizer = functionByService(dev.appStack, 'authorizer').props.Environment.Variables;
    for (const name of ['CONCORD_JWT_ISSUER', 'CONCORD_JWKS_URL', 'CONCORD_JWT_AUDIENCE', 'CONCORD_SITE_ORIGIN']) expect(authorizer[name], name).toEqual(api[name]);
    expect(functionByService(custom.appStack, 'api').props.Environment.Variables.CONCORD_SITE_ORIGIN).toBe('https://docs.example.com');
  });

  it('FM-5.3: no template carries a secret: no client secret, no literal password or token, secrets only by reference', () => {
    for (const s of [dev, prod]) {
      for (const template of [s.network, s.data, s.appStack]) {
        const json = template.toJSON();
        for (const [, fn] of Object.entries(json.Resources as Record<string, { Type: string; Properties: any }>).filter(([, r]) => r.Type === 'AWS::Lambda::Function')) {
          for (const [name, value] of Object.entries((fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>)) {
            if (/PASSWORD|SECRET|TOKEN|KEY/.test(name)) expect(name, 'only ARNs of secrets in the environment').toMatch(/_ARN$/);
            expect(JSON.stringify(value)).not.toMatch(/\{\{resolve:secretsmanager/);
          }
        }
        for (const text of strings(json)) {
          expect(text).not.toMatch(/-----BEGIN [A-Z ]*PRIVATE KEY-----/);
          expect(text).not.toMatch(/\b(?:password|secret|token)\s*[:=]\s*['"]?[A-Za-z0-9+/]{12,}/i);
        }
      }
      for (const [, client] of resourcesOfType(s.appStack, 'AWS::Cognito::UserPoolClient')) expect(client.Properties.GenerateSecret).toBe(false);
    }
  });
});
