/**
 * Runs the production handlers in this process the way Lambda calls them: `handler(event,
 * context)` with a Lambda-shaped context (request id, function name, remaining time) and a
 * timeout. Handler modules are imported on first use, after the stack has set the environment
 * they read lazily.
 */
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { HANDLER_ENTRIES, type HandlerName } from '../contracts/env';

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export class HandlerMissingError extends Error {
  readonly code = 'handler_missing';
}

export class LambdaTimeoutError extends Error {
  readonly code = 'lambda_timeout';
}

export interface LambdaRuntimeOptions {
  /** Repository root holding `lambdas/` (HANDLER_ENTRIES are relative to it). */
  readonly root: string;
  readonly region: string;
  /** Handlers to use instead of importing the files (tests of the emulators). */
  readonly overrides?: Partial<Record<HandlerName, LambdaHandler>>;
  /** Timeout per function, ms (default 30 s, like the CDK app's functions). */
  readonly timeoutsMs?: Partial<Record<HandlerName, number>>;
}

export class LambdaRuntime {
  private readonly loaded = new Map<HandlerName, Promise<LambdaHandler>>();
  readonly invocations: Record<string, number> = {};

  constructor(private readonly options: LambdaRuntimeOptions) {}

  functionName(name: HandlerName): string {
    return `concord-local-${name}`;
  }

  functionArn(name: HandlerName): string {
    return `arn:aws:lambda:${this.options.region}:000000000000:function:${this.functionName(name)}`;
  }

  /** Imports every handler now, so a missing or broken one fails at start-up, not on first use. */
  async preload(names: readonly HandlerName[]): Promise<void> {
    await Promise.all(names.map((n) => this.load(n)));
  }

  private load(name: HandlerName): Promise<LambdaHandler> {
    let p = this.loaded.get(name);
    if (!p) {
      const override = this.options.overrides?.[name];
      p = override
        ? Promise.resolve(override)
        : (async () => {
            const file = resolve(this.options.root, HANDLER_ENTRIES[name]);
            let mod: { handler?: unknown };
            try {
              mod = (await import(pathToFileURL(file).href)) as { handler?: unknown };
            } catch (e) {
              const err = e as NodeJS.ErrnoException;
              if (err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(HANDLER_ENTRIES[name])) {
                throw new HandlerMissingError(`The ${name} handler (${HANDLER_ENTRIES[name]}) does not exist yet.`);
              }
              throw e;
            }
            if (typeof mod.handler !== 'function') throw new HandlerMissingError(`${HANDLER_ENTRIES[name]} does not export a "handler" function.`);
            return mod.handler as LambdaHandler;
          })();
      this.loaded.set(name, p);
    }
    return p;
  }

  async invoke(name: HandlerName, event: unknown): Promise<unknown> {
    const handler = await this.load(name);
    this.invocations[name] = (this.invocations[name] ?? 0) + 1;
    const timeoutMs = this.options.timeoutsMs?.[name] ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const context: Context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: this.functionName(name),
      functionVersion: '$LATEST',
      invokedFunctionArn: this.functionArn(name),
      memoryLimitInMB: '1024',
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${this.functionName(name)}`,
      logStreamName: `local/${randomUUID()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new LambdaTimeoutError(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`)), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([Promise.resolve().then(() => handler(event, context)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
