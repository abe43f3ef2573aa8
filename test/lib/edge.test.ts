import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildConcordApp } from '../../lib/app';
import { IMMUTABLE_CACHE_CONTROL, MissingWebBuildError, NO_CACHE_CONTROL, SPA_REWRITE_FUNCTION_CODE } from '../../lib/edge';
import { resourcesOfType, synthConcord, type Synthesized } from './support/synth';

const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';
const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
const CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-1111-2222-3333-444455556666';

let dev: Synthesized;
let custom: Synthesized;
let assemblyDir: string;

beforeAll(() => {
  dev = synthConcord({ stage: 'dev' });
  custom = synthConcord({ stage: 'prod', context: { domainName: 'docs.example.com', certificateArn: CERT, webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/concord/abc' } });
  assemblyDir = dev.app.synth().directory;
});

const distributionConfig = (s: Synthesized) => resourcesOfType(s.appStack, 'AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
const behavior = (s: Synthesized, path: string) => {
  const found = (distributionConfig(s).CacheBehaviors as { PathPattern: string }[]).filter((b) => b.PathPattern === path);
  expect(found, `behavior ${path}`).toHaveLength(1);
  return found[0] as Record<string, any>;
};
const originDomain = (s: Synthesized, originId: string) =>
  (distributionConfig(s).Origins as { Id: string; DomainName: unknown }[]).find((o) => o.Id === originId)!.DomainName;
const apiIdOf = (s: Synthesized, protocol: 'HTTP' | 'WEBSOCKET') => resourcesOfType(s.appStack, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === protocol)![0];

/** Runs the SPA CloudFront Function the way CloudFront does: handler(event) returns the request. */
function rewrite(uri: string): string {
  const handler = new Function(`${SPA_REWRITE_FUNCTION_CODE}; return handler;`)() as (event: { request: { uri: string } }) => { uri: string };
  return handler({ request: { uri } }).uri;
}

describe('edge (lib/edge.ts)', () => {
  it('serves the private site bucket through Origin Access Control on the default behavior, CachingOptimized', () => {
    const config = distributionConfig(dev);
    expect(config.DefaultCacheBehavior).toMatchObject({ CachePolicyId: CACHING_OPTIMIZED, ViewerProtocolPolicy: 'redirect-to-https', AllowedMethods: ['GET', 'HEAD'] });
    const s3Origin = (config.Origins as Record<string, any>[]).find((o) => o.Id === config.DefaultCacheBehavior.TargetOriginId)!;
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    expect(s3Origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    dev.appStack.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { 'Fn::ImportValue': Match.stringLikeRegexp('AccessLogsBucket') }, LogFilePrefix: 'site-bucket/' },
    });
    // Only this distribution may read the bucket.
    dev.appStack.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Action: 's3:GetObject',
            Condition: { StringEquals: { 'AWS:SourceArn': Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([{ Ref: Match.stringLikeRegexp('^EdgeDistribution') }])] }) } },
          }),
        ]),
      },
    });
  });

  it('FM-4.6: rewrites client routes to index.html in a viewer-request function on the default behavior only, with no distribution-wide error pages', () => {
    const config = distributionConfig(dev);
    expect(config.DefaultCacheBehavior.FunctionAssociations).toEqual([{ EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [expect.stringMatching(/^EdgeSpaRewrite/), 'FunctionARN'] } }]);
    for (const b of config.CacheBehaviors as Record<string, unknown>[]) expect(b.FunctionAssociations, String(b.PathPattern)).toBeUndefined();
    expect(config.CustomErrorResponses).toBeUndefined();
    dev.appStack.hasResourceProperties('AWS::CloudFront::Function', { FunctionCode: SPA_REWRITE_FUNCTION_CODE, FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }) });
    expect(rewrite('/')).toBe('/index.html');
    expect(rewrite('/d/8f14e45f')).toBe('/index.html');
    expect(rewrite('/docs/shared/')).toBe('/index.html');
    expect(rewrite('/assets/index-3f2a1b9c.js')).toBe('/assets/index-3f2a1b9c.js');
    expect(rewrite('/favicon.svg')).toBe('/favicon.svg');
    expect(rewrite('/index.html')).toBe('/index.html');
  });

  it('FM-4.5: /api/* and /ws, /ws/* go to their APIs with CachingDisabled and AllViewerExceptHostHeader; no other behavior exists', () => {
    expect((distributionConfig(dev).CacheBehaviors as { PathPattern: string }[]).map((b) => b.PathPattern).sort()).toEqual(['/api/*', '/ws', '/ws/*']);
    for (const path of ['/api/*', '/ws', '/ws/*']) {
      expect(behavior(dev, path), path).toMatchObject({ CachePolicyId: CACHING_DISABLED, OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER, ViewerProtocolPolicy: 'https-only' });
    }
    expect(behavior(dev, '/api/*').AllowedMethods).toEqual(expect.arrayContaining(['POST', 'PUT', 'PATCH', 'DELETE']));
    const domainOf = (id: string) => ({ 'Fn::Join': ['', [{ Ref: id }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] });
    expect(originDomain(dev, behavior(dev, '/api/*').TargetOriginId)).toEqual(domainOf(apiIdOf(dev, 'HTTP')));
    expect(originDomain(dev, behavior(dev, '/ws').TargetOriginId)).toEqual(domainOf(apiIdOf(dev, 'WEBSOCKET')));
    expect(behavior(dev, '/ws/*').TargetOriginId).toBe(behavior(dev, '/ws').TargetOriginId);
    const apiOrigin = (distributionConfig(dev).Origins as Record<string, any>[]).find((o) => o.Id === behavior(dev, '/api/*').TargetOriginId)!;
    expect(apiOrigin.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] });
  });

  it('FM-3.6: sends HSTS, a CSP (connect-src self + the wss origin when known), nosniff, frame DENY and a referrer policy on every behavior', () => {
    const [[policyId, policy]] = resourcesOfType(custom.appStack, 'AWS::CloudFront::ResponseHeadersPolicy');
    const headers = policy.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    expect(headers.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 730 * 86400, IncludeSubdomains: true, Override: true });
    expect(headers.ContentTypeOptions).toEqual({ Override: true });
    expect(headers.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(headers.ReferrerPolicy).toEqual({ ReferrerPolicy: 'strict-origin-when-cross-origin', Override: true });
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    expect(csp).toContain("connect-src 'self' wss://docs.example.com;");
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toMatch(/form-action 'self' https:\/\/.*amazoncognito\.com/);
    const devCsp = JSON.stringify(resourcesOfType(dev.appStack, 'AWS::CloudFront::ResponseHeadersPolicy')[0][1].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy);
    expect(devCsp).toContain("connect-src 'self';");
    const config = distributionConfig(custom);
    for (const b of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) expect(b.ResponseHeadersPolicyId).toEqual({ Ref: policyId });
  });

  it('serves HTTP/2 and HTTP/3, logs to the access-log bucket, and takes an optional custom domain, certificate and WAF', () => {
    expect(distributionConfig(dev)).toMatchObject({
      HttpVersion: 'http2and3',
      Logging: { Bucket: { 'Fn::ImportValue': expect.stringMatching(/AccessLogsBucket.*RegionalDomainName/) }, Prefix: 'cloudfront/', IncludeCookies: false },
    });
    expect(distributionConfig(dev).Aliases).toBeUndefined();
    expect(distributionConfig(custom)).toMatchObject({
      Aliases: ['docs.example.com'],
      ViewerCertificate: { AcmCertificateArn: CERT, MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' },
      WebACLId: 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/concord/abc',
    });
  });

  it('FM-4.6: deploys hashed assets immutable and the entry points no-cache (invalidated), never pruning', () => {
    const deployments = resourcesOfType(dev.appStack, 'Custom::CDKBucketDeployment').map(([id, d]) => ({ id, ...d.Properties }) as Record<string, any>);
    expect(deployments).toHaveLength(2);
    const assets = deployments.find((d) => d.DestinationBucketKeyPrefix === 'assets/')!;
    const entries = deployments.find((d) => d !== assets)!;
    expect(assets.SystemMetadata).toEqual({ 'cache-control': IMMUTABLE_CACHE_CONTROL });
    expect(entries.SystemMetadata).toEqual({ 'cache-control': NO_CACHE_CONTROL });
    expect(IMMUTABLE_CACHE_CONTROL).toMatch(/max-age=31536000.*immutable/);
    expect(assets.Prune).toBe(false);
    expect(entries.Prune).toBe(false);
    expect(entries.DistributionPaths).toEqual(['/', '/index.html']);
    expect(assets.DistributionPaths).toBeUndefined();
    // Entry points are uploaded only after the assets they reference.
    expect(dev.appStack.toJSON().Resources[entries.id].DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/DeployHashedAssets/)]));
  });

  it('FM-4.6: splits the web build into the two deployment sources (hashed files vs everything else)', () => {
    const assetDirs = readdirSync(assemblyDir).filter((d) => d.startsWith('asset.')).map((d) => join(assemblyDir, d));
    const entrySource = assetDirs.filter((d) => existsSync(join(d, 'index.html')));
    const hashedSource = assetDirs.filter((d) => existsSync(join(d, 'index-3f2a1b9c.js')));
    expect(entrySource).toHaveLength(1);
    expect(hashedSource).toHaveLength(1);
    expect(readdirSync(entrySource[0]).sort()).toEqual(['favicon.svg', 'index.html']);
    expect(readdirSync(hashedSource[0])).toEqual(['index-3f2a1b9c.js']);
  });

  it('refuses to synthesize without a web build, with the command that makes one', () => {
    const app = new App({ builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [], webDist: join(dev.webDist, 'does-not-exist') } });
    expect(() => buildConcordApp(app)).toThrow(MissingWebBuildError);
    expect(() => buildConcordApp(new App({ context: { 'aws:cdk:bundling-stacks': [], webDist: join(dev.webDist, 'nope') } }))).toThrow(/npm run build:web/);
  });
});
