/**
 * Edge: one CloudFront distribution is the only origin the browser sees.
 *
 * - `/*` (default): the private site bucket through Origin Access Control, CachingOptimized.
 *   Client routes (`/d/abc`) are rewritten to `/index.html` by a viewer-request CloudFront
 *   Function on this behavior only. There are deliberately no distribution-wide error
 *   responses: they would turn the API's 403/404 JSON into index.html.
 * - `/api/*`: the HTTP API; `/ws` and `/ws/*`: the WebSocket API (stage `ws`, so the path maps
 *   without rewriting). Both CachingDisabled with AllViewerExceptHostHeader (FM-4.5).
 *   Versioned snapshot URLs (`/api/docs/:id/snapshots/:version`) are immutable but are NOT given
 *   an edge-cached behavior: a cache keyed by URL would hand a document to anyone who learned the
 *   URL, bypassing the per-document ACL. They are `Cache-Control: private, immutable` so the
 *   browser keeps them instead (docs/api.md, docs/architecture.md).
 * - Security headers on every response: HSTS, CSP, nosniff, frame DENY, referrer policy.
 * - HTTP/2 and HTTP/3, standard access logs to the log bucket, optional custom domain.
 *
 * The site bucket only holds build output that every deploy rewrites, so it lives here (app
 * stack) rather than in the data stack: CloudFront's Origin Access Control policy names this
 * distribution, which a bucket in the data stack could not do without a cross-stack cycle.
 * Deployment: content-hashed files under `assets/` are immutable for a year; everything else
 * (index.html, favicon, ...) is `no-cache` and is invalidated on every deploy (FM-4.6).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type { StageConfig } from './config';
import { acknowledgeEach, findSingleton, nagRef } from './nag';

/**
 * Viewer-request function for the default behavior: a path whose last segment has no file
 * extension is a client route and is served `/index.html`. Exported so tests can run it.
 */
export const SPA_REWRITE_FUNCTION_CODE = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  var lastSlash = uri.lastIndexOf('/');
  if (uri.indexOf('.', lastSlash) === -1) {
    request.uri = '/index.html';
  }
  return request;
}`;

export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
export const NO_CACHE_CONTROL = 'no-cache';
/** Vite writes every content-hashed file here. */
export const HASHED_ASSETS_DIR = 'assets';

export class MissingWebBuildError extends Error {
  readonly code = 'web_build_missing';
  constructor(dir: string) {
    super(`The web client build ${dir} is missing or has no index.html. Run "npm run build:web" before "cdk synth" or "cdk deploy".`);
    this.name = 'MissingWebBuildError';
  }
}

/** The Content-Security-Policy of every response. */
export function contentSecurityPolicy(options: { websocketOrigins: string[]; formActions: string[] }): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    // ProseMirror and the collaboration carets set style attributes; no inline script is allowed.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    ["connect-src 'self'", ...options.websocketOrigins].join(' '),
    ["form-action 'self'", ...options.formActions].join(' '),
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "object-src 'none'",
    'upgrade-insecure-requests',
  ].join('; ');
}

export interface EdgeProps {
  readonly config: StageConfig;
  /** The web client build (`web/dist`): must contain index.html. */
  readonly webDist: string;
  readonly httpApiDomain: string;
  readonly websocketApiDomain: string;
  readonly logBucket: s3.IBucket;
  /** Cognito hosted UI base URL (sign-in redirects go there). */
  readonly signInOrigin: string;
}

export class Edge extends Construct {
  readonly siteBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly responseHeaders: cloudfront.ResponseHeadersPolicy;
  readonly spaRewrite: cloudfront.Function;
  /** `https://<custom domain>` or `https://<distribution>.cloudfront.net`. */
  readonly siteOrigin: string;
  readonly siteHost: string;

  constructor(scope: Construct, id: string, props: EdgeProps) {
    super(scope, id);
    const { config } = props;
    if (!existsSync(join(props.webDist, 'index.html'))) throw new MissingWebBuildError(props.webDist);

    this.siteBucket = new s3.Bucket(this, 'SiteBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      // Build output only: every deploy rewrites it, so it goes with the stack.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
      serverAccessLogsBucket: props.logBucket,
      serverAccessLogsPrefix: 'site-bucket/',
    });

    Annotations.of(this.siteBucket).acknowledgeWarning(
      '@aws-cdk/aws-s3:accessLogsPolicyNotAdded',
      'The log bucket lives in the data stack and grants log delivery for the site-bucket/ prefix itself (lib/log-bucket.ts).',
    );

    this.spaRewrite = new cloudfront.Function(this, 'SpaRewrite', {
      comment: 'Concord: serve index.html for client routes',
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      code: cloudfront.FunctionCode.fromInline(SPA_REWRITE_FUNCTION_CODE),
    });

    // The wss origin can be named only when the host is known before the distribution exists
    // (custom domain); otherwise 'self' covers wss:// to the same host (CSP Level 3, all
    // current browsers). Naming the CloudFront domain here would make the policy depend on the
    // distribution that depends on the policy.
    const websocketOrigins = config.customDomain ? [`wss://${config.customDomain.domainName}`] : [];
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `Concord ${config.stage} security headers`,
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          preload: false,
          override: true,
        },
        contentSecurityPolicy: {
          contentSecurityPolicy: contentSecurityPolicy({ websocketOrigins, formActions: [props.signInOrigin] }),
          override: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      },
    });

    const apiBehavior = (domain: string, methods: cloudfront.AllowedMethods): cloudfront.BehaviorOptions => ({
      origin: new origins.HttpOrigin(domain, {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: methods,
      // Mutable, per-user responses: never cached at the edge (FM-4.5), not even snapshot
      // versions (see the file comment).
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: this.responseHeaders,
      compress: true,
    });
    const websocketBehavior = apiBehavior(props.websocketApiDomain, cloudfront.AllowedMethods.ALLOW_GET_HEAD);

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Concord ${config.stage}`,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.siteBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.responseHeaders,
        compress: true,
        functionAssociations: [{ function: this.spaRewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        '/api/*': apiBehavior(props.httpApiDomain, cloudfront.AllowedMethods.ALLOW_ALL),
        '/ws': websocketBehavior,
        '/ws/*': websocketBehavior,
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      // Only settable with a custom certificate (the default one is fixed by CloudFront).
      minimumProtocolVersion: config.customDomain ? cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 : undefined,
      enableLogging: true,
      logBucket: props.logBucket,
      logFilePrefix: 'cloudfront/',
      logIncludesCookies: false,
      domainNames: config.customDomain ? [config.customDomain.domainName] : undefined,
      certificate: config.customDomain
        ? acm.Certificate.fromCertificateArn(this, 'Certificate', config.customDomain.certificateArn)
        : undefined,
      webAclId: config.webAclArn,
    });

    this.siteHost = config.customDomain?.domainName ?? this.distribution.distributionDomainName;
    this.siteOrigin = `https://${this.siteHost}`;

    // Hashed assets first (kept across deploys: an open tab may still load an old chunk), then
    // the entry points that reference them, then the invalidation of those entry points.
    const assetsDir = join(props.webDist, HASHED_ASSETS_DIR);
    let assetsDeployment: s3deploy.BucketDeployment | undefined;
    if (existsSync(assetsDir)) {
      assetsDeployment = new s3deploy.BucketDeployment(this, 'DeployHashedAssets', {
        sources: [s3deploy.Source.asset(assetsDir)],
        destinationBucket: this.siteBucket,
        destinationKeyPrefix: `${HASHED_ASSETS_DIR}/`,
        cacheControl: [s3deploy.CacheControl.fromString(IMMUTABLE_CACHE_CONTROL)],
        prune: false,
        memoryLimit: 512,
      });
    }
    const entryDeployment = new s3deploy.BucketDeployment(this, 'DeployEntryPoints', {
      sources: [s3deploy.Source.asset(props.webDist, { exclude: [HASHED_ASSETS_DIR, `${HASHED_ASSETS_DIR}/**`] })],
      destinationBucket: this.siteBucket,
      cacheControl: [s3deploy.CacheControl.fromString(NO_CACHE_CONTROL)],
      // Never prune: it would delete the hashed assets deployed alongside.
      prune: false,
      memoryLimit: 512,
      distribution: this.distribution,
      distributionPaths: ['/', '/index.html'],
    });
    if (assetsDeployment) entryDeployment.node.addDependency(assetsDeployment);

    this.acknowledgeFindings(config);
  }

  private acknowledgeFindings(config: StageConfig): void {
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions-CFR1',
      reason: 'Concord is offered worldwide; access is controlled per user and per document, not by country.',
    });
    if (!config.webAclArn) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR2',
        reason: 'No WAF web ACL is configured for this deployment (pass -c webAclArn=... to attach one); API Gateway stage throttling and per-connection rate limits bound abuse.',
      });
    }
    if (!config.customDomain) {
      Validations.of(this.distribution).acknowledge({
        id: 'AwsSolutions-CFR4',
        reason: 'Without a custom domain CloudFront serves its default *.cloudfront.net certificate, whose minimum TLS version cannot be set; with -c domainName/certificateArn the distribution requires TLSv1.2_2021.',
      });
    }
    // The BucketDeployment handler is a singleton of aws-cdk-lib (one per stack).
    const deployer = findSingleton(Stack.of(this), 'Custom::CDKBucketDeployment');
    const reason =
      'aws-cdk-lib BucketDeployment handler (runtime and policies chosen by the library): it copies the web build from the CDK asset bucket into the site bucket during deploy and is not invoked otherwise.';
    acknowledgeEach(
      deployer,
      [
        'AwsSolutions-L1',
        'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'AwsSolutions-IAM5[Resource::*]',
        'AwsSolutions-IAM5[Action::s3:GetObject*]',
        'AwsSolutions-IAM5[Action::s3:GetBucket*]',
        'AwsSolutions-IAM5[Action::s3:List*]',
        'AwsSolutions-IAM5[Action::s3:DeleteObject*]',
        'AwsSolutions-IAM5[Action::s3:Abort*]',
        'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
        `AwsSolutions-IAM5[Resource::${nagRef(this.siteBucket, 'Arn')}/*]`,
      ],
      reason,
    );
  }
}
