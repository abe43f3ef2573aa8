/**
 * The access-log bucket (data stack): CloudFront standard logs and the site bucket's S3 server
 * access logs. CloudFront's standard logging writes with ACLs, so object ownership is
 * BucketOwnerPreferred; logs expire after the stage's retention.
 */
import { Aws, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { StageConfig } from './config';

/** Key prefix the site bucket's server access logs are delivered under. */
export const SITE_BUCKET_LOG_PREFIX = 'site-bucket/';

export interface LogBucketProps {
  readonly config: StageConfig;
}

export class LogBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: LogBucketProps) {
    super(scope, id);
    const { config } = props;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(config.stage === 'prod' ? 365 : 30) }],
      removalPolicy: config.removalPolicy,
      // Emptied on teardown only where the stage destroys its data (dev).
      autoDeleteObjects: config.removalPolicy === RemovalPolicy.DESTROY,
    });
    // S3 server access logs from the site bucket (app stack). Scoped to this account: naming
    // the source bucket's ARN here would make this stack depend on the app stack.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'SiteBucketServerAccessLogs',
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${SITE_BUCKET_LOG_PREFIX}*`)],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log bucket itself; logging its own access into itself would loop.',
    });
  }
}
