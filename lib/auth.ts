/**
 * Auth: a Cognito user pool (RS256-signed tokens, verified against its JWKS: nothing symmetric and
 * no secret in code or template, FM-5.3) with the hosted UI domain, and a public app client for
 * the authorization code flow with PKCE. Access and ID tokens last 15 minutes, refresh tokens
 * carry the session (FM-4.4, FM-5.1); the `api` handler keeps them in httpOnly cookies.
 *
 * The pool (users: state) lives in the data stack; the client lives in the app stack because its
 * callback URL is the site origin, which is the CloudFront distribution's domain unless a
 * custom domain is configured.
 */
import { Aws, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

export const ACCESS_TOKEN_VALIDITY = Duration.minutes(15);

export interface UserDirectoryProps {
  readonly config: StageConfig;
}

/** The user pool and its hosted UI domain (data stack). */
export class UserDirectory extends Construct {
  readonly userPool: cognito.UserPool;
  readonly domain: cognito.UserPoolDomain;

  constructor(scope: Construct, id: string, props: UserDirectoryProps) {
    super(scope, id);
    const { config } = props;
    this.userPool = new cognito.UserPool(this, 'UserPool', {
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      selfSignUpEnabled: true,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: config.auth.mfa === 'required' ? cognito.Mfa.REQUIRED : cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      featurePlan: config.auth.threatProtection ? cognito.FeaturePlan.PLUS : cognito.FeaturePlan.ESSENTIALS,
      standardThreatProtectionMode: config.auth.threatProtection
        ? cognito.StandardThreatProtectionMode.FULL_FUNCTION
        : undefined,
      deletionProtection: config.deletionProtection,
      removalPolicy: config.removalPolicy,
    });
    if (config.auth.mfa !== 'required') {
      Validations.of(this.userPool).acknowledge({
        id: 'AwsSolutions-COG2',
        reason: `TOTP MFA is optional in the ${config.stage} stage so test users can sign in quickly; prod requires it (lib/config.ts).`,
      });
    }
    if (!config.auth.threatProtection) {
      const reason = `Threat protection (Plus feature plan, billed per monthly active user) is off in the ${config.stage} stage; prod enforces it (lib/config.ts).`;
      Validations.of(this.userPool).acknowledge({ id: 'AwsSolutions-COG8', reason });
    }
    this.domain = this.userPool.addDomain('HostedUi', {
      // Prefixes are global per region: the account id keeps two deployments apart.
      cognitoDomain: { domainPrefix: `${config.auth.domainPrefix}-${Aws.ACCOUNT_ID}` },
    });
  }

  /**
   * Token issuer (`iss` of every token): `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
   * Built explicitly: the pool's ProviderURL attribute has no scheme.
   */
  get issuer(): string {
    const stack = Stack.of(this);
    return `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;
  }

  get jwksUrl(): string {
    return `${this.issuer}/.well-known/jwks.json`;
  }

  /** `https://<prefix>.auth.<region>.amazoncognito.com`: the OAuth endpoints' base URL. */
  get hostedUiBaseUrl(): string {
    return this.domain.baseUrl();
  }
}

export interface WebClientProps {
  readonly config: StageConfig;
  readonly userPool: cognito.IUserPool;
  /** `https://<site>`: the callback is `<site>/api/auth/callback` (docs/api.md). */
  readonly siteOrigin: string;
}

/** The browser app's client: code + PKCE, no secret. */
export class WebClient extends Construct {
  readonly client: cognito.UserPoolClient;

  constructor(scope: Construct, id: string, props: WebClientProps) {
    super(scope, id);
    this.client = new cognito.UserPoolClient(this, 'Client', {
      userPool: props.userPool,
      // A public client: PKCE (S256, sent by the api handler) replaces the client secret.
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [`${props.siteOrigin}/api/auth/callback`],
        logoutUrls: [`${props.siteOrigin}/`],
      },
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      accessTokenValidity: ACCESS_TOKEN_VALIDITY,
      idTokenValidity: ACCESS_TOKEN_VALIDITY,
      refreshTokenValidity: props.config.auth.refreshTokenValidity,
      enableTokenRevocation: true,
      preventUserExistenceErrors: true,
    });
  }
}
