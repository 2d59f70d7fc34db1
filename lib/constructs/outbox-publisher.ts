import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FILLED_SECRETS } from '../../functions/core/filled-secrets.js';
import { SETTINGS } from '../../functions/core/setting-table.js';
import { TABLE_SCHEMA } from '../../functions/core/table-schema.js';
import type { DeployConfig } from '../config.js';
import { bindEventBus, bindSecret, bindTable } from './bindings.js';
import { deadLetterQueue } from './dead-letters.js';
import { SCHEDULED_DELIVERY_RETRIES } from './lifecycle-jobs.js';
import { serviceFunctionDefaults } from './runtime-environment.js';
import { projectPath, ServiceFunction } from './service-function.js';

/**
 * How the publisher consumes the table's stream:
 * - batches of up to 25 writes (a burst of connects), gathered for at most 1 s: an event reaches the bus within
 *   about a second of its write;
 * - a failing batch is split in halves (bisect) to isolate the record at fault, and the handler reports the first
 *   failed record (`ReportBatchItemFailures`) so the records before it are not sent again;
 * - a record is retried at most 8 times and for at most 1 hour, then its batch's description goes to the
 *   dead-letter queue (alarmed) and the stream moves on: the entry is still in the table, and the sweep publishes it;
 * - the sweep runs every 5 minutes and takes entries waiting 3 minutes or more (the stream has had its chance).
 */
export const OUTBOX_STREAM = {
  batchSize: 25,
  maxBatchingWindow: Duration.seconds(1),
  retryAttempts: 8,
  maxRecordAge: Duration.hours(1),
  parallelizationFactor: 1,
} as const;
export const OUTBOX_SWEEP = {
  every: Duration.minutes(5),
  minAge: Duration.seconds(SETTINGS.outboxSweepMinAgeSeconds.default),
} as const;
/** A batch publishes a few PutEvents calls and, for a connect, moves a few records under a short identity lock. */
const PUBLISHER_TIMEOUT = Duration.seconds(60);

export interface OutboxPublisherProps {
  readonly config: DeployConfig;
  readonly zoomRedirectUri: string;
  /** The service table; its stream is enabled by `StatefulResources`. */
  readonly table: dynamodb.ITable;
  /** The Recall API key: a connect's follow-up may delete a credential the user left. The only secret it reads. */
  readonly recallApiKeySecret: secretsmanager.ISecret;
  readonly eventBus: events.IEventBus;
}

/**
 * The transactional outbox's publisher (functions/handlers/outbox-publisher): the only function allowed to put lifecycle
 * events on the bus. Writers store each event in the same write as the transition it describes; the table's stream
 * brings the write here, and a schedule sweeps up what the stream consumer left. Chosen over EventBridge Pipes,
 * which could read the stream and put on the bus but not split one write into its events (`connected` and
 * `replaced`), run a connect's follow-up, nor remove the published entry.
 */
export class OutboxPublisher extends Construct {
  public readonly fn: ServiceFunction;
  public readonly streamMapping: lambda.EventSourceMapping;
  public readonly sweepSchedule: events.Rule;
  /**
   * Stream batches that failed every retry (their description: shard, sequence numbers) and sweep runs that never
   * completed. The entries themselves stay in the table until published, so nothing is lost; it is alarmed.
   */
  public readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: OutboxPublisherProps) {
    super(scope, id);
    const { config, table } = props;
    const streamArn = table.tableStreamArn;
    if (!streamArn) throw new Error('The outbox publisher needs the table stream (StatefulResources enables it).');

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', {
      retentionPeriod: Duration.days(14),
      acknowledge: {
        rules: ['Serverless-SQSRedrivePolicy'],
        reason:
          "This is the outbox publisher's dead-letter queue (stream batches that failed every retry, sweep runs that never completed); a redrive policy of its own would only move them to yet another queue. Its depth is alarmed.",
      },
    });

    const defaults = serviceFunctionDefaults(config, props.zoomRedirectUri);
    this.fn = new ServiceFunction(this, 'Function', {
      ...defaults,
      environment: { ...defaults.environment, OUTBOX_SWEEP_MIN_AGE_SECONDS: String(OUTBOX_SWEEP.minAge.toSeconds()) },
      entry: projectPath('functions/handlers/outbox-publisher/handler.ts'),
      description: 'Outbox publisher: puts the lifecycle events stored with each record write on the event bus',
      timeout: PUBLISHER_TIMEOUT,
      // The sweep is invoked asynchronously by its schedule: a run that fails Lambda's two retries lands here.
      deadLetterQueue: this.deadLetterQueue,
    });

    // Reads the waiting entries (query byOutbox), removes published ones (update), and for a connect's follow-up
    // reads the user's record (get), finds the identity's records (query byZoomIdentity), moves them (update) under
    // the identity's lock (a conditional put and delete of LOCK#<identity> only), and may delete a credential the
    // user left at Recall (the Recall API key).
    bindTable(this.fn, table, {
      items: ['GetItem', 'UpdateItem'],
      lockItems: ['PutItem', 'DeleteItem'],
      queries: [TABLE_SCHEMA.outboxIndex.name, TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    bindSecret(this.fn, props.recallApiKeySecret, FILLED_SECRETS.recallApiKey.variable);
    bindEventBus(this.fn, props.eventBus);
    // What Lambda's stream poller calls with the function's role, on this table's stream only.
    iam.Grant.addToPrincipal({
      grantee: this.fn,
      actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
      resourceArns: [streamArn],
    });
    iam.Grant.addToPrincipal({ grantee: this.fn, actions: ['dynamodb:ListStreams'], resourceArns: [streamArn] });

    this.streamMapping = this.fn.addEventSourceMapping('OutboxStream', {
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: OUTBOX_STREAM.batchSize,
      maxBatchingWindow: OUTBOX_STREAM.maxBatchingWindow,
      parallelizationFactor: OUTBOX_STREAM.parallelizationFactor,
      bisectBatchOnError: true,
      reportBatchItemFailures: true,
      retryAttempts: OUTBOX_STREAM.retryAttempts,
      maxRecordAge: OUTBOX_STREAM.maxRecordAge,
      onFailure: new SqsDlq(this.deadLetterQueue),
      // Only writes that left an entry waiting: used states, locks and the publisher's own removals never invoke it.
      filters: [
        lambda.FilterCriteria.filter({
          dynamodb: { NewImage: { [TABLE_SCHEMA.outboxIndex.partitionKey]: { S: lambda.FilterRule.exists() } } },
        }),
      ],
    });

    this.sweepSchedule = new events.Rule(this, 'SweepSchedule', {
      description: `recall-zoom-connect: publishes outbox entries the stream left waiting ${OUTBOX_SWEEP.minAge.toMinutes()} minutes or more`,
      schedule: events.Schedule.rate(OUTBOX_SWEEP.every),
      targets: [
        new targets.LambdaFunction(this.fn, {
          maxEventAge: OUTBOX_SWEEP.every,
          retryAttempts: SCHEDULED_DELIVERY_RETRIES,
          deadLetterQueue: this.deadLetterQueue,
        }),
      ],
    });
  }
}
