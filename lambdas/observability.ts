/**
 * Powertools Logger / Metrics / Tracer shared by the handlers. Logs are structured JSON; each
 * handler invocation gets its own child logger and metrics buffer (through AsyncLocalStorage), so
 * concurrent invocations in one process (the local stack) never mix their `docId` and
 * `connectionId` keys or metrics. Metrics are CloudWatch EMF lines on stdout (FM-7.1, FM-7.2);
 * outside Lambda the tracer is a no-op.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { ENV } from '../contracts/env';

export { MetricUnit };

const serviceName = () => process.env[ENV.SERVICE_NAME] || 'concord';

let rootLogger: Logger | undefined;
let rootMetrics: Metrics | undefined;
let tracer: Tracer | undefined;

/** Per-invocation counters the adapters feed (posts to connections, 410s). */
export interface InvocationCounters {
  posts: number;
  gone: number;
  postedBytes: number;
}

interface Invocation {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly counters: InvocationCounters;
}

const current = new AsyncLocalStorage<Invocation>();

const newMetrics = () => new Metrics({ namespace: process.env[ENV.METRICS_NAMESPACE] || 'Concord', serviceName: serviceName() });

function root(): Logger {
  rootLogger ??= new Logger({ serviceName: serviceName(), logLevel: (process.env[ENV.LOG_LEVEL] as 'INFO' | undefined) || 'INFO' });
  return rootLogger;
}

/** The current invocation's logger (or the process logger outside one). */
export function getLogger(): Logger {
  return current.getStore()?.logger ?? root();
}

/** The current invocation's metrics buffer (or the process one outside an invocation). */
export function getMetrics(): Metrics {
  const store = current.getStore();
  if (store) return store.metrics;
  rootMetrics ??= newMetrics();
  return rootMetrics;
}

export function getTracer(): Tracer {
  tracer ??= new Tracer({ serviceName: serviceName() });
  return tracer;
}

export function invocationCounters(): InvocationCounters | undefined {
  return current.getStore()?.counters;
}

/**
 * Runs one invocation with `keys` on every log line and flushes its metrics at the end, whatever
 * happens. Keys may be added during the invocation with `getLogger().appendKeys`.
 */
export async function instrumented<T>(handlerName: string, keys: Record<string, string | undefined>, run: () => Promise<T>, lambdaContext?: Context): Promise<T> {
  const logger = root().createChild();
  // In Lambda: function name, version, request id and cold start on every line.
  if (lambdaContext?.awsRequestId) logger.addContext(lambdaContext);
  logger.appendPersistentKeys({ handler: handlerName, ...Object.fromEntries(Object.entries(keys).filter(([, v]) => v !== undefined && v !== '')) });
  const invocation: Invocation = { logger, metrics: newMetrics(), counters: { posts: 0, gone: 0, postedBytes: 0 } };
  return current.run(invocation, async () => {
    try {
      return await run();
    } finally {
      const { counters, metrics } = invocation;
      if (counters.gone) metrics.addMetric('Gone410', MetricUnit.Count, counters.gone);
      if (counters.posts) metrics.addMetric('PostedBytes', MetricUnit.Bytes, counters.postedBytes);
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  });
}
