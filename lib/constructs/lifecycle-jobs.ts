import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TABLE_SCHEMA } from '../../functions/shared/table-schema.js';
import type { DeployConfig } from '../config.js';
import { bindEventBus, bindQueue, bindSecret, bindTable } from './bindings.js';
import { runtimeEnvironment } from './runtime-environment.js';
import { projectPath, ServiceFunction } from './service-function.js';

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
 * EventBridge retries an invocation it could not deliver (throttling, a service error) this many times, within
 * the run's interval; what still fails goes to the health sync's dead-letter queue.
 */
export const HEALTH_SYNC_DELIVERY_RETRIES = 2;

export interface LifecycleJobsProps {
  readonly config: DeployConfig;
  /** The redirect URI registered at Zoom, which every function's config carries. */
  readonly zoomRedirectUri: string;
  readonly table: dynamodb.ITable;
  readonly appSecret: secretsmanager.ISecret;
  readonly eventBus: events.IEventBus;
  readonly webhookQueue: sqs.IQueue;
}

/**
 * The functions no HTTP request waits for, which keep connection records true after the connect flow:
 * - the webhook worker consumes the webhook queue: applies `app_deauthorized` (revokes the connections, deletes
 *   the Recall credentials) and forwards every event unchanged to Recall;
 * - the health sync runs on a schedule: Recall sends no webhook when a credential turns unhealthy, so it polls.
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

  constructor(scope: Construct, id: string, props: LifecycleJobsProps) {
    super(scope, id);
    const { config } = props;
    const functionDefaults = {
      environment: runtimeEnvironment(config, props.zoomRedirectUri),
      logLevel: config.logLevel,
      logRetention: config.logRetentionDays as logs.RetentionDays,
    };
    const interval = Duration.minutes(config.healthSyncMinutes);

    this.webhookWorkerFunction = new ServiceFunction(this, 'WebhookWorker', {
      ...functionDefaults,
      entry: projectPath('functions/webhook-worker/handler.ts'),
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

    this.healthSyncDeadLetterQueue = new sqs.Queue(this, 'HealthSyncDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // Long enough to read over a weekend; what it holds is only evidence (a run's schedule event).
      retentionPeriod: Duration.days(4),
    });
    Validations.of(this.healthSyncDeadLetterQueue.node.defaultChild as CfnResource).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason:
        'This is a dead-letter queue (of the health sync schedule target and function); a redrive policy of its own would only move its messages to yet another queue. Its depth is alarmed.',
    });

    this.healthSyncFunction = new ServiceFunction(this, 'HealthSync', {
      ...functionDefaults,
      entry: projectPath('functions/health-sync/handler.ts'),
      description: `Every ${config.healthSyncMinutes} min: marks connections of unhealthy Recall credentials, and back when healthy`,
      timeout: HEALTH_SYNC_TIMEOUT,
      // EventBridge invokes asynchronously: a run that fails Lambda's two retries lands here.
      deadLetterQueue: this.healthSyncDeadLetterQueue,
    });

    // Both call Recall with the API key from the app secret and publish what changed. The worker applies a
    // deauthorization: it finds the identity's records (query byZoomIdentity) and revokes and scrubs them
    // (update). The health sync lists unhealthy records (query byStatus), finds the records of a credential's
    // identity (query byZoomIdentity) and changes their status (update). Neither reads, puts or deletes items.
    bindTable(this.webhookWorkerFunction, props.table, {
      items: ['UpdateItem'],
      queries: [TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    bindTable(this.healthSyncFunction, props.table, {
      items: ['UpdateItem'],
      queries: [TABLE_SCHEMA.statusIndex.name, TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    for (const fn of [this.webhookWorkerFunction, this.healthSyncFunction]) {
      bindSecret(fn, props.appSecret, 'APP_SECRET_ID');
      bindEventBus(fn, props.eventBus);
    }

    this.healthSyncSchedule = new events.Rule(this, 'HealthSyncSchedule', {
      description: `recall-zoom-connect: runs the health sync every ${config.healthSyncMinutes} minutes`,
      schedule: events.Schedule.rate(interval),
      targets: [
        new targets.LambdaFunction(this.healthSyncFunction, {
          // A run that could not start before the next one is due would only repeat it.
          maxEventAge: interval,
          retryAttempts: HEALTH_SYNC_DELIVERY_RETRIES,
          deadLetterQueue: this.healthSyncDeadLetterQueue,
        }),
      ],
    });
  }
}
