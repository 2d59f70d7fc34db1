import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FILLED_SECRETS } from '../../functions/core/filled-secrets.js';
import { TABLE_SCHEMA } from '../../functions/core/table-schema.js';
import type { DeployConfig } from '../config.js';
import { bindQueue, bindSecret, bindTable } from './bindings.js';
import { deadLetterQueue as newDeadLetterQueue } from './dead-letters.js';
import { runtimeSettings, serviceFunctionDefaults } from './runtime-environment.js';
import { projectPath, ServiceFunction, type ServiceFunctionProps } from './service-function.js';

/**
 * How the webhook worker consumes its queue; the queue's visibility timeout is derived from it
 * (see `LifecycleMessaging`).
 * - 60 s covers a batch of ten, each forwarded to Recall and, for a deauthorization, a few Recall listing and
 *   delete calls (the Recall client retries with backoff, up to about 30 s for one call in the worst case); the
 *   handler aborts its calls shortly before the deadline, so unfinished records are reported as failures instead
 *   of the whole batch timing out.
 * - A 1 s window gathers bursts into one invocation at a latency Zoom and Recall never notice.
 * - At most 5 concurrent batches: the queue absorbs a burst instead of it hitting Recall's 60/min listing
 *   endpoint all at once.
 */
export const WEBHOOK_WORKER = {
  timeout: Duration.seconds(60),
  batchSize: 10,
  maxBatchingWindow: Duration.seconds(1),
  maxConcurrency: 5,
} as const;

/** One listing per run (paged), then a retrieval per unhealthy connection; a run ends well inside this. */
const HEALTH_SYNC_TIMEOUT = Duration.seconds(60);

/**
 * One listing of the whole OAuth app, paced to 30 list calls a minute (a listing of the client's 20 pages fits in
 * one), retrievals to confirm dangling records, then repairs under short identity locks. The run stops starting
 * work shortly before this and reports the rest as deferred.
 */
export const RECONCILE_TIMEOUT = Duration.minutes(5);

/**
 * EventBridge retries an invocation of a scheduled job it could not deliver (throttling, a service error) this many
 * times, within the run's interval; what still fails goes to the job's dead-letter queue.
 */
export const SCHEDULED_DELIVERY_RETRIES = 2;

/** A function that runs on a schedule, with what catches the runs that never complete. */
export interface ScheduledJob {
  readonly fn: ServiceFunction;
  readonly schedule: events.Rule;
  /**
   * Runs that never completed: schedule events EventBridge could not deliver, and invocations that failed Lambda's
   * asynchronous retries. Nothing to redrive (the next run does the same work); it is alarmed.
   */
  readonly deadLetterQueue: sqs.Queue;
}

export interface LifecycleJobsProps {
  readonly config: DeployConfig;
  /** The redirect URI registered at Zoom, which every function's config carries. */
  readonly zoomRedirectUri: string;
  readonly table: dynamodb.ITable;
  /** The Recall API key, which all three jobs use and the only secret they read. */
  readonly recallApiKeySecret: secretsmanager.ISecret;
  readonly webhookQueue: sqs.IQueue;
}

/**
 * The functions no HTTP request waits for, which keep connection records true after the connect flow:
 * - the webhook worker consumes the webhook queue: applies `app_deauthorized` (revokes the connections, deletes
 *   the Recall credentials) and forwards every event unchanged to Recall;
 * - the health sync runs on a schedule: Recall sends no webhook when a credential turns unhealthy, so it polls;
 * - reconcile runs on a schedule too: it finds what a crash left behind (credentials no record uses, records on
 *   credentials Recall no longer has), reports it, and with `reconcileFix` repairs it.
 */
export class LifecycleJobs extends Construct {
  public readonly webhookWorkerFunction: ServiceFunction;
  public readonly healthSyncFunction: ServiceFunction;
  public readonly healthSyncSchedule: events.Rule;
  /**
   * Health sync runs that never completed: schedule events EventBridge could not deliver, and invocations that
   * failed Lambda's asynchronous retries. Nothing to redrive (the next run does the same work); it is alarmed.
   */
  public readonly healthSyncDeadLetterQueue: sqs.Queue;
  /** Reconcile: compares Recall's credentials with the records, and repairs what it finds with `reconcileFix`. */
  public readonly reconcile: ScheduledJob;

  readonly #functionDefaults: Pick<ServiceFunctionProps, 'environment' | 'logLevel' | 'logRetention'>;

  constructor(scope: Construct, id: string, props: LifecycleJobsProps) {
    super(scope, id);
    const { config } = props;
    this.#functionDefaults = serviceFunctionDefaults(config, props.zoomRedirectUri);

    this.webhookWorkerFunction = new ServiceFunction(this, 'WebhookWorker', {
      ...this.#functionDefaults,
      entry: projectPath('functions/handlers/webhook-worker/handler.ts'),
      description: 'Webhook queue consumer: applies Zoom deauthorizations, forwards every Zoom event to Recall',
      timeout: WEBHOOK_WORKER.timeout,
    });
    bindQueue(this.webhookWorkerFunction, props.webhookQueue, 'consume', {
      batchSize: WEBHOOK_WORKER.batchSize,
      maxBatchingWindow: WEBHOOK_WORKER.maxBatchingWindow,
      maxConcurrency: WEBHOOK_WORKER.maxConcurrency,
    });
    Validations.of(this.webhookWorkerFunction.node.defaultChild as CfnResource).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        "Invoked only synchronously, by the SQS event source mapping: a record that keeps failing is moved to the webhook queue's own dead-letter queue by its redrive policy (alarmed); a function DLQ receives failed asynchronous invocations only.",
    });

    const healthSync = this.#scheduledJob('HealthSync', {
      name: 'health sync',
      entry: 'functions/handlers/health-sync/handler.ts',
      description: `Every ${config.healthSyncMinutes} min: marks connections of unhealthy Recall credentials, and back when healthy`,
      timeout: HEALTH_SYNC_TIMEOUT,
      minutes: config.healthSyncMinutes,
    });
    this.healthSyncFunction = healthSync.fn;
    this.healthSyncSchedule = healthSync.schedule;
    this.healthSyncDeadLetterQueue = healthSync.deadLetterQueue;

    this.reconcile = this.#scheduledJob('Reconcile', {
      name: 'reconcile',
      entry: 'functions/handlers/reconcile/handler.ts',
      description:
        `Every ${config.reconcileMinutes} min: compares Recall credentials with the connection records; ` +
        (config.reconcileFix ? 'deletes orphans, repoints or marks dangling records' : 'reports only'),
      timeout: RECONCILE_TIMEOUT,
      minutes: config.reconcileMinutes,
      environment: {
        RECONCILE_FIX: String(config.reconcileFix),
        ...runtimeSettings(config, ['reconcileOrphanGraceSeconds']),
      },
    });

    // All three call Recall with the API key, the only secret they can read. The worker applies a deauthorization: it finds the
    // identity's records (query byZoomIdentity) and revokes and scrubs them (update). The health sync lists unhealthy
    // records (query byStatus), finds the records of a credential's identity (query byZoomIdentity) and changes their
    // status (update). Reconcile lists the relying records (query byStatus), re-reads an identity's records under its
    // lock (query byZoomIdentity), repoints or marks records (update), and takes and releases the identity's lock (a
    // conditional put and delete of LOCK#<identity>, and of no other item). None reads an item; only reconcile
    // puts or deletes one, and only a lock.
    bindTable(this.webhookWorkerFunction, props.table, {
      items: ['UpdateItem'],
      queries: [TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    bindTable(this.healthSyncFunction, props.table, {
      items: ['UpdateItem'],
      queries: [TABLE_SCHEMA.statusIndex.name, TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    bindTable(this.reconcile.fn, props.table, {
      items: ['UpdateItem'],
      lockItems: ['PutItem', 'DeleteItem'],
      queries: [TABLE_SCHEMA.statusIndex.name, TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    for (const fn of [this.webhookWorkerFunction, this.healthSyncFunction, this.reconcile.fn]) {
      bindSecret(fn, props.recallApiKeySecret, FILLED_SECRETS.recallApiKey.variable);
    }
    // None publishes: each status write stores its event with it (the outbox), reconcile's repairs included, and only
    // the outbox publisher may put events on the bus.
  }

  /**
   * A function EventBridge runs every `minutes`: its runs are never older than the interval (a run that could not
   * start before the next is due would only repeat it), and a run that cannot be delivered or fails Lambda's two
   * asynchronous retries lands in its own dead-letter queue. Ids: `<id>`, `<id>Schedule`, `<id>DeadLetterQueue`.
   */
  #scheduledJob(
    id: string,
    job: { name: string; entry: string; description: string; timeout: Duration; minutes: number; environment?: Record<string, string> },
  ): ScheduledJob {
    const interval = Duration.minutes(job.minutes);
    const deadLetterQueue = newDeadLetterQueue(this, `${id}DeadLetterQueue`, {
      // Long enough to read over a weekend; what it holds is only evidence (a run's schedule event).
      retentionPeriod: Duration.days(4),
      acknowledge: {
        rules: ['Serverless-SQSRedrivePolicy'],
        reason: `This is a dead-letter queue (of the ${job.name} schedule target and function); a redrive policy of its own would only move its messages to yet another queue. Its depth is alarmed.`,
      },
    });

    const fn = new ServiceFunction(this, id, {
      ...this.#functionDefaults,
      environment: { ...this.#functionDefaults.environment, ...job.environment },
      entry: projectPath(job.entry),
      description: job.description,
      timeout: job.timeout,
      // EventBridge invokes asynchronously: a run that fails Lambda's two retries lands here.
      deadLetterQueue,
    });

    const schedule = new events.Rule(this, `${id}Schedule`, {
      description: `recall-zoom-connect: runs the ${job.name} every ${job.minutes} minutes`,
      schedule: events.Schedule.rate(interval),
      targets: [
        new targets.LambdaFunction(fn, {
          maxEventAge: interval,
          retryAttempts: SCHEDULED_DELIVERY_RETRIES,
          deadLetterQueue,
        }),
      ],
    });
    return { fn, schedule, deadLetterQueue };
  }
}
