import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './api-gateway.js';
import { sendJson } from './http-util.js';

/**
 * The health sync's EventBridge schedule, locally: runs the function every `HEALTH_SYNC_INTERVAL_SECONDS` with a
 * scheduled event, and on demand (`POST /_local/health-sync`, the demo page, tests). Runs never overlap: an
 * on-demand run waits for the one in progress and then runs afresh (the caller wants a result that reflects what it
 * just changed), and a tick that finds a run in progress is skipped.
 */

export type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

export const HEALTH_SYNC_PATH = '/_local/health-sync';

export interface HealthSyncScheduleOptions {
  handler: ScheduledHandler;
  functionName: string;
  region: string;
  intervalSeconds: number;
  /** The function's timeout; past it the run fails. */
  lambdaTimeoutMs?: number;
  log?: (line: string) => void;
}

export class HealthSyncError extends Error {
  override readonly name = 'HealthSyncError';
}

export class HealthSyncSchedule {
  readonly ruleArn: string;
  readonly #options: HealthSyncScheduleOptions;
  #running: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: HealthSyncScheduleOptions) {
    this.#options = options;
    this.ruleArn = `arn:aws:events:${options.region}:${LOCAL_ACCOUNT_ID}:rule/${options.functionName}-schedule`;
  }

  /** Starts the timer; the first scheduled run is one interval from now, as a new rate schedule's is. */
  start(): void {
    this.#stopped = false;
    this.#scheduleNext();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  /**
   * Runs the health sync now, after any run in progress.
   * @returns what the function returned (its summary)
   * @throws HealthSyncError when the function throws or times out
   */
  async run(): Promise<unknown> {
    while (this.#running) await this.#running.catch(() => undefined);
    const run = this.#invoke();
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  /** Serves `POST /_local/health-sync`: 200 with the summary, or 502 when the run failed. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname !== HEALTH_SYNC_PATH) return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, { message: 'Method Not Allowed' }, { allow: 'POST' });
      return true;
    }
    try {
      sendJson(res, 200, (await this.run()) ?? {}, { 'cache-control': 'no-store' });
    } catch (error) {
      const message = error instanceof HealthSyncError ? error.message : 'The health sync failed.';
      sendJson(res, 502, { message });
    }
    return true;
  }

  #scheduleNext(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      if (this.#running) {
        this.#options.log?.('Health sync: the previous run is still in progress; skipping this one');
        return this.#scheduleNext();
      }
      this.run().then(
        () => this.#scheduleNext(),
        () => this.#scheduleNext(),
      );
    }, this.#options.intervalSeconds * 1000);
    // A pending schedule alone must not keep a process (a test runner, a script) alive.
    this.#timer.unref();
  }

  async #invoke(): Promise<unknown> {
    const { handler, functionName, region, lambdaTimeoutMs = 60_000, log } = this.#options;
    const now = Date.now();
    const event: ScheduledEvent = {
      version: '0',
      id: randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: LOCAL_ACCOUNT_ID,
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region,
      resources: [this.ruleArn],
      detail: {},
    };
    const context = lambdaContext({ functionName, region, timeoutMs: lambdaTimeoutMs, now });
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        handler(event, context).then((result) => ({ kind: 'result' as const, result })),
        new Promise<{ kind: 'timeout' }>((resolve) => {
          timer = setTimeout(() => resolve({ kind: 'timeout' }), lambdaTimeoutMs);
        }),
      ]);
      if (outcome.kind === 'timeout') {
        throw new HealthSyncError(`The health sync timed out after ${lambdaTimeoutMs / 1000} seconds.`);
      }
      const summary = summarize(outcome.result);
      // A run that found nothing stays quiet, so a short interval does not flood the terminal.
      if (summary) log?.(`Health sync: ${summary}`);
      return outcome.result;
    } catch (error) {
      const failure =
        error instanceof HealthSyncError
          ? error
          : new HealthSyncError(`The health sync failed: ${error instanceof Error ? error.name : 'error'}.`, {
              cause: error,
            });
      log?.(`Function ${functionName} failed: ${failure.message}`);
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The summary's counts on one line (it holds numbers only); empty when every count is zero. */
function summarize(result: unknown): string {
  if (result === null || typeof result !== 'object') return '';
  const counts = Object.entries(result).filter(([, value]) => typeof value === 'number');
  if (counts.every(([, value]) => value === 0)) return '';
  return counts.map(([name, value]) => `${name}=${value}`).join(' ');
}
