/**
 * CloudFormation custom resource (CDK Provider framework `onEvent`): applies the versioned,
 * forward-only SQL migrations (lambdas/migrations) at deploy time, before the new code serves
 * traffic (FM-3.4). Create and Update migrate; Delete does nothing (data outlives the stack's
 * resource). Idempotent: already-applied migrations are skipped, so a retried deploy is harmless.
 */
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { migrate } from './adapters/postgres-snapshots';
import { getLogger, instrumented } from './observability';
import { runtime } from './runtime';

export const PHYSICAL_RESOURCE_ID = 'concord-schema';

export interface OnEventResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string | number>;
}

export const handler = async (event: Pick<CloudFormationCustomResourceEvent, 'RequestType'> & Partial<CloudFormationCustomResourceEvent>, lambdaContext?: Context): Promise<OnEventResponse> =>
  instrumented('migrate', {}, async () => {
    const physicalResourceId = ('PhysicalResourceId' in event && event.PhysicalResourceId) || PHYSICAL_RESOURCE_ID;
    if (event.RequestType === 'Delete') {
      getLogger().info('Schema resource deleted; the database is left as it is');
      return { PhysicalResourceId: physicalResourceId };
    }
    const result = await migrate(runtime.pool());
    getLogger().info('Migrations applied', { applied: result.applied, current: result.current });
    return { PhysicalResourceId: physicalResourceId, Data: { SchemaVersion: result.current, Applied: result.applied.join(',') } };
  }, lambdaContext);
