import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { type ReconcileReport, repairedCount } from '../functions/lifecycle/reconcile.js';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './api-gateway.js';
import { sendJson } from './http-util.js';

/**
 * The scheduled functions' EventBridge schedules, locally. `LocalSchedule` invokes a function with a scheduled
 * event on a timer (when given an interval) and on demand: `run()`, and `POST` on its `/_local/` path. Runs never
 * overlap: an on-demand run waits for the one in progress and then runs afresh (the caller wants a result that
 * reflects what it just changed), and a tick that finds a run in progress is skipped.
 *
 * - `HealthSyncSchedule`: every `HEALTH_SYNC_INTERVAL_SECONDS`, and `POST /_local/health-sync` (the demo page, tests).
 * - `ReconcileSchedule`: on demand only, `POST /_local/reconcile[?fix=true]`.
 * - `OutboxPublisherSchedule`: every 250 ms, and `POST /_local/outbox`: dynalite has no streams, so the outbox
 *   publisher's sweep (with no minimum age) stands in for the table's stream.
 */

export type ScheduledHandler = (event: ScheduledEvent, context: Context) => Promise<unknown>;

export const HEALTH_SYNC_PATH = '/_local/health-sync';
export const RECONCILE_PATH = '/_local/reconcile';
export const OUTBOX_PATH = '/_local/outbox';

export interface LocalScheduleOptions {
  handler: ScheduledHandler;
  functionName: string;
  region: string;
  /** Seconds between runs once `start()`ed; without it the function runs only on demand. */
  intervalSeconds?: number;
  /** The function's timeout; past it the run fails. */
  lambdaTimeoutMs?: number;
  log?: (line: string) => void;
  /** Log a tick skipped because the previous run is still going. @default true */
  logSkips?: boolean;
}

export interface HealthSyncScheduleOptions extends LocalScheduleOptions {
  intervalSeconds: number;
}

/** A run that threw or timed out; the message names the error's type only, never its message. */
export class ScheduledRunError extends Error {
  override readonly name: string = 'ScheduledRunError';
}

export class HealthSyncError extends ScheduledRunError {
  override readonly name = 'HealthSyncError';
}

export class ReconcileRunError extends ScheduledRunError {
  override readonly name = 'ReconcileRunError';
}

export class OutboxPublishError extends ScheduledRunError {
  override readonly name = 'OutboxPublishError';
}

/** What differs between the scheduled functions: their route, their words, their error, their log line. */
export interface ScheduledJob {
  path: string;
  /** Starts a log line: `Health sync`. */
  label: string;
  /** In a sentence: `the health sync`. */
  runName: string;
  error: new (message: string, options?: ErrorOptions) => ScheduledRunError;
  /** The result on one log line; empty for a run not worth a line. */
  summarize(result: unknown): string;
}

/** What a request asks for: a run, or why it is refused (400 unless said otherwise). */
type RequestedRun = { run: () => Promise<unknown> } | { refused: string; status?: number };

export class LocalSchedule {
  readonly ruleArn: string;
  readonly #job: ScheduledJob;
  readonly #options: LocalScheduleOptions;
  #running: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(job: ScheduledJob, options: LocalScheduleOptions) {
    this.#job = job;
    this.#options = options;
    this.ruleArn = `arn:aws:events:${options.region}:${LOCAL_ACCOUNT_ID}:rule/${options.functionName}-schedule`;
  }

  /**
   * Starts the timer, if the schedule has an interval; the first scheduled run is one interval from now, as a new
   * rate schedule's is.
   */
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
   * Runs the function now, after any run in progress.
   * @returns what the function returned (its summary or report)
   * @throws ScheduledRunError (the job's own subclass) when the function throws or times out
   */
  run(): Promise<unknown> {
    return this.runHandler(this.#options.handler);
  }

  /** Runs `handler` as this schedule's function, after any run in progress: one queue for all of them. */
  protected async runHandler(handler: ScheduledHandler): Promise<unknown> {
    while (this.#running) await this.#running.catch(() => undefined);
    const run = this.#invoke(handler);
    this.#running = run;
    try {
      return await run;
    } finally {
      if (this.#running === run) this.#running = undefined;
    }
  }

  /** Serves `POST` on the job's path: 200 with what the function returned, or 502 when the run failed. */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname !== this.#job.path) return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, { message: 'Method Not Allowed' }, { allow: 'POST' });
      return true;
    }
    const requested = this.requestedRun(new URL(req.url ?? '/', 'http://localhost').searchParams);
    if ('refused' in requested) {
      sendJson(res, requested.status ?? 400, { message: requested.refused });
      return true;
    }
    try {
      sendJson(res, 200, (await requested.run()) ?? {}, { 'cache-control': 'no-store' });
    } catch (error) {
      const message = error instanceof this.#job.error ? error.message : `${capitalize(this.#job.runName)} failed.`;
      sendJson(res, 502, { message });
    }
    return true;
  }

  /** The run a request's query asks for; the default ignores the query. */
  protected requestedRun(_query: URLSearchParams): RequestedRun {
    return { run: () => this.run() };
  }

  #scheduleNext(): void {
    const { intervalSeconds } = this.#options;
    if (this.#stopped || intervalSeconds === undefined) return;
    this.#timer = setTimeout(() => {
      if (this.#running) {
        if (this.#options.logSkips !== false) this.#options.log?.(`${this.#job.label}: the previous run is still in progress; skipping this one`);
        return this.#scheduleNext();
      }
      this.run().then(
        () => this.#scheduleNext(),
        () => this.#scheduleNext(),
      );
    }, intervalSeconds * 1000);
    // A pending schedule alone must not keep a process (a test runner, a script) alive.
    this.#timer.unref();
  }

  async #invoke(handler: ScheduledHandler): Promise<unknown> {
    const { functionName, region, lambdaTimeoutMs = 60_000, log } = this.#options;
    const { label, runName, error: RunError, summarize } = this.#job;
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
        throw new RunError(`${capitalize(runName)} timed out after ${lambdaTimeoutMs / 1000} seconds.`);
      }
      const summary = summarize(outcome.result);
      if (summary) log?.(`${label}: ${summary}`);
      return outcome.result;
    } catch (error) {
      const failure =
        error instanceof RunError
          ? error
          : new RunError(`${capitalize(runName)} failed: ${error instanceof Error ? error.name : 'error'}.`, {
              cause: error,
            });
      log?.(`Function ${functionName} failed: ${failure.message}`);
      throw failure;
    } finally {
      clearTimeout(timer);
    }
  }
}

export class HealthSyncSchedule extends LocalSchedule {
  constructor(options: HealthSyncScheduleOptions) {
    super(
      {
        path: HEALTH_SYNC_PATH,
        label: 'Health sync',
        runName: 'the health sync',
        error: HealthSyncError,
        // A run that found nothing stays quiet, so a short interval does not flood the terminal.
        summarize: summarizeCounts,
      },
      options,
    );
  }
}

export interface ReconcileScheduleOptions extends Omit<LocalScheduleOptions, 'intervalSeconds'> {
  /** The reconcile function as loaded with `RECONCILE_FIX=false`: it reports and changes nothing. */
  handler: ScheduledHandler;
  /** A second instance of the same function, loaded with `RECONCILE_FIX=true`: it repairs what it finds. */
  fixHandler: ScheduledHandler;
  /**
   * Why a repair must not run, when it must not: a repair deletes Recall credentials, so against a Recall that is
   * not the sandbox it runs only if the operator said so when starting local mode.
   */
  fixRefusal?: string;
}

export class ReconcileFixRefusedError extends ReconcileRunError {}

/**
 * The reconcile function's schedule, run on demand only (deployed, it ticks hourly; locally nothing drifts unless
 * someone makes it). The function reads `RECONCILE_FIX` once, at import, so the repairing run is a second instance
 * of it; both share one queue of runs, so a report never overlaps a repair.
 */
export class ReconcileSchedule extends LocalSchedule {
  readonly #fixHandler: ScheduledHandler;
  readonly #fixRefusal: string | undefined;

  constructor({ fixHandler, fixRefusal, ...options }: ReconcileScheduleOptions) {
    super(
      {
        path: RECONCILE_PATH,
        label: 'Reconcile',
        runName: 'the reconcile run',
        error: ReconcileRunError,
        // Runs only on demand: every one gets a line.
        summarize: summarizeReport,
      },
      options,
    );
    this.#fixHandler = fixHandler;
    this.#fixRefusal = fixRefusal;
  }

  /**
   * Runs reconcile now, after any run in progress; with `fix`, the instance that repairs.
   * @returns the function's report
   * @throws ReconcileRunError when the function throws (Recall's listing or the table could not be read) or times out;
   *   ReconcileFixRefusedError for a repair against a Recall other than the sandbox, unless allowed at start
   */
  override run({ fix = false }: { fix?: boolean } = {}): Promise<unknown> {
    if (fix && this.#fixRefusal) return Promise.reject(new ReconcileFixRefusedError(this.#fixRefusal));
    return fix ? this.runHandler(this.#fixHandler) : super.run();
  }

  /** `?fix=true` repairs; `?fix=false` or none only reports. */
  protected override requestedRun(query: URLSearchParams): RequestedRun {
    const fix = query.get('fix');
    if (fix !== null && fix !== 'true' && fix !== 'false') return { refused: 'fix must be true or false.' };
    if (fix === 'true' && this.#fixRefusal) return { refused: this.#fixRefusal, status: 403 };
    return { run: () => this.run({ fix: fix === 'true' }) };
  }
}

/** How often local mode publishes the outbox: events show at `/_local/events` within a second of their write. */
export const LOCAL_OUTBOX_INTERVAL_SECONDS = 0.25;

/**
 * The outbox publisher, locally: the same function as on AWS, run as its sweep every 250 ms (its minimum age set to
 * 0 by local mode) because dynalite has no stream to drive it. `run()` publishes what is waiting now (tests await it).
 */
export class OutboxPublisherSchedule extends LocalSchedule {
  constructor(options: Omit<LocalScheduleOptions, 'intervalSeconds' | 'logSkips'>) {
    super(
      {
        path: OUTBOX_PATH,
        label: 'Outbox',
        runName: 'the outbox publisher',
        error: OutboxPublishError,
        // Each event gets its own line from the bus; only failures are worth one here.
        summarize: (result) => {
          const failed = (result as { failed?: unknown } | null)?.failed;
          return typeof failed === 'number' && failed > 0 ? `failed=${failed} (retried on the next run)` : '';
        },
      },
      { ...options, intervalSeconds: LOCAL_OUTBOX_INTERVAL_SECONDS, logSkips: false },
    );
  }
}

const capitalize = (text: string): string => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/** A reconcile report on one line: what it found and, with fix, what it repaired (counts only). */
function summarizeReport(result: unknown): string {
  const report = result as Partial<ReconcileReport> | null;
  if (report === null || typeof report !== 'object' || !Array.isArray(report.orphans)) return '';
  return [
    report.fix ? 'with fix' : 'report only',
    `orphans=${report.orphans.length}`,
    `danglingRecords=${report.danglingRecords?.length ?? 0}`,
    `duplicateIdentities=${report.duplicateIdentities?.length ?? 0}`,
    ...(report.fix ? [`repaired=${repairedCount({ actions: report.actions ?? [] })}`] : []),
    `problems=${report.problems ?? 0}`,
    `unresolved=${report.unresolved ?? 0}`,
  ].join(' ');
}

/** The summary's counts on one line (it holds numbers only); empty when every count is zero. */
function summarizeCounts(result: unknown): string {
  if (result === null || typeof result !== 'object') return '';
  const counts = Object.entries(result).filter(([, value]) => typeof value === 'number');
  if (counts.every(([, value]) => value === 0)) return '';
  return counts.map(([name, value]) => `${name}=${value}`).join(' ');
}
