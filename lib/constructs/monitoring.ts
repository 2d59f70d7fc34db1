import { Aws, type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeployConfig } from '../config.js';
import { type MetricName, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/metric-names.js';
import { AT_LEAST_ONCE, COUNT_ALARM_PERIOD, deadLetterAlarmProps, notifyingAlarm, visibleMessages } from './dead-letters.js';

/** The window of the two rate alarms: long enough to hold a handful of connects on a quiet day. */
export const RATE_ALARM_PERIOD = Duration.minutes(15);
export { COUNT_ALARM_PERIOD } from './dead-letters.js';

export interface MonitoringProps {
  readonly config: DeployConfig;
  /** Every function of the service, by the name alarms and the dashboard show (e.g. `Callback`). */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Zoom webhook events that failed processing or forwarding 5 times. */
  readonly webhookDeadLetterQueue: sqs.IQueue;
  /** Health sync runs that never completed. */
  readonly healthSyncDeadLetterQueue: sqs.IQueue;
  /** Reconcile runs that never completed. */
  readonly reconcileDeadLetterQueue: sqs.IQueue;
  /** Outbox stream batches that failed every retry, and sweep runs that never completed. */
  readonly outboxDeadLetterQueue: sqs.IQueue;
}

/**
 * What ops watch: one SNS topic every alarm notifies, the alarms (each description says what it means and what
 * to do), and a dashboard of the connect funnel, Recall, the webhook, the dead-letter queues and the functions.
 *
 * The service's own metrics come from the functions in CloudWatch embedded metric format (functions/adapters/
 * metrics.ts): namespace {@link METRICS_NAMESPACE}, one dimension `service` = {@link SERVICE_NAME}, and
 * `ConnectFailed` a second time with a `reason` dimension.
 */
export class Monitoring extends Construct {
  /** The topic every alarm notifies: created (KMS-encrypted, TLS only), or the configured `alarmTopicArn`. */
  public readonly alarmTopic: sns.ITopic;
  /** The key of the created topic; none with `alarmTopicArn`. */
  public readonly alarmTopicKey?: kms.Key;
  /** `Errors` and `Throttles` alarms of each function, by the names in `props.functions`. */
  public readonly functionAlarms: Readonly<Record<string, { errors: cloudwatch.Alarm; throttles: cloudwatch.Alarm }>>;
  /**
   * Every alarm: the callback error rate, the Recall failure rate, one per dead-letter queue, lost events, and each
   * function's errors and throttles.
   */
  public readonly alarms: readonly cloudwatch.Alarm[];
  public readonly dashboard: cloudwatch.Dashboard;
  /** The dashboard in the CloudWatch console. */
  public readonly dashboardUrl: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config } = props;
    const stackName = Stack.of(this).stackName;
    // Alarm names start with the stack name, so the topic and key policies can admit exactly these alarms.
    const alarmName = (name: string) => `${stackName}-${name}`;

    ({ topic: this.alarmTopic, key: this.alarmTopicKey } = this.#alarmTopic(config, `${stackName}-*`));
    const alarms: cloudwatch.Alarm[] = [];
    const alarm = (alarmId: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const created = notifyingAlarm(this, alarmId, this.alarmTopic, props);
      alarms.push(created);
      return created;
    };

    const m = serviceMetrics(RATE_ALARM_PERIOD);
    const callbackPercent = Math.round(config.callbackErrorRateThreshold * 100);
    alarm('CallbackErrorRateAlarm', {
      alarmName: alarmName('CallbackErrorRate'),
      alarmDescription:
        `Users cannot connect Zoom: at least ${callbackPercent}% of Zoom callbacks ended in zoom_connect=error over 15 minutes ` +
        `(ConnectFailed / (ConnectCompleted + ConnectFailed + ConnectDenied), counted once ${config.callbackErrorRateMinCallbacks} or more callbacks arrived). ` +
        'Open the dashboard panel "Connect failures by reason": recall_unavailable -> Recall is down or rate-limiting (see the RecallFailureRate alarm, status.recall.ai); ' +
        'misconfigured or recall_rejected -> a secret ops fill in still holds REPLACE_ME, or the Recall API key is not a key of the Recall workspace in recallRegion; code_rejected -> the Zoom app redirect URL differs from the ZoomRedirectUri output; ' +
        'state_expired -> users came back after the 10-minute attempt window (stale links). Then read the callback logs (level ERROR) by correlationId.',
      metric: new cloudwatch.MathExpression({
        // FILL: a window with callbacks but no failures (or no denials) is 0, not missing.
        expression: `IF(FILL(completed, 0) + FILL(failed, 0) + FILL(denied, 0) >= ${config.callbackErrorRateMinCallbacks}, FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0) + FILL(denied, 0)), 0)`,
        usingMetrics: { completed: m('ConnectCompleted'), failed: m('ConnectFailed'), denied: m('ConnectDenied') },
        period: RATE_ALARM_PERIOD,
        label: 'Callback error rate',
      }),
      threshold: config.callbackErrorRateThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    const recallPercent = Math.round(config.recallFailureRateThreshold * 100);
    alarm('RecallFailureRateAlarm', {
      alarmName: alarmName('RecallFailureRate'),
      alarmDescription:
        `Recall is failing: RecallFailure / RecallCall reached ${recallPercent}% over 15 minutes (counted once ${config.recallFailureRateMinCalls} or more attempts were made). ` +
        'A failure is a call that ended unavailable after its retries (network, timeout, 429 or 5xx), so connects end in recall_unavailable and the worker and health sync retry later. ' +
        `Check status.recall.ai and the dashboard's Recall latency and retries; if Recall is healthy, check that recallRegion (${config.recallRegion}) is the workspace's region and that outbound HTTPS from Lambda works. ` +
        'Nothing to undo: it clears once Recall answers again.',
      metric: new cloudwatch.MathExpression({
        expression: `IF(FILL(calls, 0) >= ${config.recallFailureRateMinCalls}, FILL(failures, 0) / FILL(calls, 0), 0)`,
        usingMetrics: { calls: m('RecallCall'), failures: m('RecallFailure') },
        period: RATE_ALARM_PERIOD,
        label: 'Recall failure rate',
      }),
      threshold: config.recallFailureRateThreshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    });

    /** Fires while a dead-letter queue holds a message: each one is a failure nothing retries any more. */
    const deadLetterAlarm = (alarmId: string, name: string, queue: sqs.IQueue, alarmDescription: string) =>
      alarm(alarmId, deadLetterAlarmProps(queue, alarmName(name), alarmDescription));

    deadLetterAlarm(
      'WebhookDeadLetterAlarm',
      'WebhookDeadLetters',
      props.webhookDeadLetterQueue,
      'Zoom webhook events (deauthorizations among them) failed processing or forwarding to Recall 5 times and wait in the dead-letter queue (WebhookDeadLetterQueueUrl output). ' +
        'Until handled, a deauthorized user may still show as connected and Recall has not seen the event. ' +
        'Read the WebhookWorker logs (level ERROR), fix the cause (often the Recall API key secret, or Recall being down), then redrive the queue to the webhook queue (SQS console: Start DLQ redrive, or aws sqs start-message-move-task). It clears when the queue is empty.',
    );

    deadLetterAlarm(
      'HealthSyncDeadLetterAlarm',
      'HealthSyncDeadLetters',
      props.healthSyncDeadLetterQueue,
      'A health sync run never completed: EventBridge could not invoke the function, or the run failed all of Lambda\'s attempts; its schedule event waits in the health sync dead-letter queue. ' +
        'Connections whose Recall credential turned unhealthy are not being marked meanwhile. Read the HealthSync logs (level ERROR) and its Errors alarm, fix the cause, then purge the queue ' +
        '(aws sqs purge-queue): the events carry no data, and the next run does the work. It clears when the queue is empty.',
    );

    deadLetterAlarm(
      'ReconcileDeadLetterAlarm',
      'ReconcileDeadLetters',
      props.reconcileDeadLetterQueue,
      'A reconcile run never completed: EventBridge could not invoke the function, or the run failed all of Lambda\'s attempts; its schedule event waits in the reconcile dead-letter queue (ReconcileDeadLetterQueueUrl output). ' +
        'Orphan credentials and dangling records are not being found meanwhile. Read the Reconcile logs (level ERROR, "Reconcile failed") and its Errors alarm, fix the cause (often the Recall API key secret, or Recall being down), ' +
        'then purge the queue (aws sqs purge-queue): the next run does the work, and npm run reconcile runs one by hand. It clears when the queue is empty.',
    );

    deadLetterAlarm(
      'OutboxDeadLetterAlarm',
      'OutboxDeadLetters',
      props.outboxDeadLetterQueue,
      'The outbox publisher gave up on a stream batch after its retries (an hour), or a sweep run never completed; the description waits in the outbox dead-letter queue (OutboxDeadLetterQueueUrl output). ' +
        'No event is lost: each stays in the table with its record until published, and the sweep (every 5 minutes) retries it; but the product hears of those changes late. ' +
        'Read the OutboxPublisher logs (level ERROR, "Publishing outbox entries failed") for the cause (EventBridge throttling or a missing permission, a bus deleted, the Recall API key secret), fix it, then purge the queue: ' +
        'the sweep publishes what is waiting. It clears when the queue is empty.',
    );

    alarm('EventPublishFailedAlarm', {
      alarmName: alarmName('EventPublishFailed'),
      alarmDescription:
        'The outbox publisher could not put lifecycle events on the event bus (EventPublishFailed >= 1 in 5 minutes). Nothing is lost: the events stay in the table and are retried (the stream, then the sweep every 5 minutes), but the product hears of them late. ' +
        'Read the OutboxPublisher logs (level ERROR, "Publishing outbox entries failed") for the cause (EventBridge throttling, a deleted bus, a missing permission) and fix it; it clears once publishing succeeds.',
      metric: serviceMetrics(COUNT_ALARM_PERIOD)('EventPublishFailed'),
      ...AT_LEAST_ONCE,
    });

    // One error is enough: the handlers turn every expected failure into a response (an error page, a 4xx, a
    // batch item failure), so a Lambda Error is a crash, a timeout or an init failure, and a throttle means a
    // request or run was refused for want of concurrency. Neither is noise at any volume.
    const functionAlarms: Record<string, { errors: cloudwatch.Alarm; throttles: cloudwatch.Alarm }> = {};
    for (const [name, fn] of Object.entries(props.functions)) {
      functionAlarms[name] = {
        errors: alarm(`${name}ErrorsAlarm`, {
          alarmName: alarmName(`${name}-Errors`),
          alarmDescription:
            `The ${name} function failed (Errors >= 1 in 5 minutes): an unhandled exception, a timeout or an init failure, which its handler never returns on purpose. ` +
            `Open its log group (filter level ERROR, or "Task timed out"/"INIT"), fix the cause (a bad environment or secret fails init), and redeploy or roll back. It clears after 5 quiet minutes.`,
          metric: fn.metricErrors({ period: COUNT_ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
          ...AT_LEAST_ONCE,
        }),
        throttles: alarm(`${name}ThrottlesAlarm`, {
          alarmName: alarmName(`${name}-Throttles`),
          alarmDescription:
            `Lambda refused to run the ${name} function for lack of concurrency (Throttles >= 1 in 5 minutes): API requests got errors, or a run was delayed. ` +
            'Check the account\'s concurrent executions (Lambda console, or the dashboard\'s duration panel for a slow dependency holding instances), raise the account concurrency quota or lower the API throttle (throttleRateLimit/throttleBurstLimit).',
          metric: fn.metricThrottles({ period: COUNT_ALARM_PERIOD, statistic: cloudwatch.Stats.SUM }),
          ...AT_LEAST_ONCE,
        }),
      };
    }
    this.functionAlarms = functionAlarms;
    this.alarms = alarms;

    const dashboardName = `${stackName}-${Aws.REGION}`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName,
      defaultInterval: Duration.days(1),
      widgets: dashboardRows(props, this.alarms),
    });
    this.dashboardUrl = `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${dashboardName}`;
  }

  /**
   * The configured topic, or a new one encrypted with its own key. CloudWatch cannot use the AWS managed SNS key
   * (its policy cannot be changed to admit CloudWatch), so an encrypted topic that alarms can publish to needs a
   * customer managed key whose policy does: exactly Decrypt and GenerateDataKey, for this account's alarms of
   * this stack only.
   */
  #alarmTopic(config: DeployConfig, alarmNamePattern: string): { topic: sns.ITopic; key?: kms.Key } {
    if (config.alarmTopicArn) return { topic: sns.Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn) };

    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:${alarmNamePattern}` },
    };
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'recall-zoom-connect: encrypts alarm notifications on the alarm topic',
      enableKeyRotation: true,
      // It protects only transient notifications: nothing is left to decrypt once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublishEncrypted',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        // SNS encrypts each message under a data key it generates and decrypts for delivery on the publisher's
        // behalf; these two are all it needs. In a key policy, "*" is this key.
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        // Only the account condition here: whether CloudWatch passes aws:SourceArn on its KMS calls is not
        // documented, and a condition it does not meet would drop every alarm notification silently. The topic
        // policy below still admits this stack's alarms only.
        conditions: { StringEquals: fromOurAlarms.StringEquals },
      }),
    );
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'recall-zoom-connect alarms',
      masterKey: key,
      enforceSSL: true,
    });
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowThisStacksAlarmsToPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (config.alarmEmail) {
      const subscription = new sns.Subscription(this, 'AlarmEmail', {
        topic,
        protocol: sns.SubscriptionProtocol.EMAIL,
        endpoint: config.alarmEmail,
      });
      Validations.of(subscription.node.defaultChild as CfnResource).acknowledge({
        id: 'Serverless-SNSRedrivePolicy',
        reason:
          'An email subscription: SNS retries delivery to the mail server itself, and a notification parked in a dead-letter queue would be read too late to act on; the alarm state stays visible in CloudWatch.',
      });
    }
    return { topic, key };
  }
}

/** The metric the callback emits a second time with a `reason` dimension, one series per reason. */
const CONNECT_FAILED: MetricName = 'ConnectFailed';
/** The connect funnel's steps, as the dashboard shows them. */
const CONNECT_FUNNEL: readonly MetricName[] = ['ConnectStarted', 'ConnectCompleted', 'ConnectDenied', CONNECT_FAILED];

/** A metric of the service over `period` (sums unless told), with the one `service` dimension every metric has. */
function serviceMetrics(period: Duration) {
  return (metricName: MetricName, statistic: string = cloudwatch.Stats.SUM) =>
    new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: SERVICE_NAME },
      statistic,
      period,
    });
}

/** The dashboard, top to bottom: alarms, the connect funnel, Recall, lifecycle and webhook, reconcile, functions. */
function dashboardRows(props: MonitoringProps, alarms: readonly cloudwatch.Alarm[]): cloudwatch.IWidget[][] {
  const period = COUNT_ALARM_PERIOD;
  const m = serviceMetrics(period);
  const fns = Object.entries(props.functions);
  const perFunction = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
    fns.map(([name, fn]) => metric(fn).with({ label: name }));

  return [
    [
      new cloudwatch.TextWidget({
        markdown:
          '## recall-zoom-connect\n' +
          'Connect funnel: **ConnectStarted** (authorize sent a browser to Zoom) then, from the callback, **ConnectCompleted**, **ConnectDenied** (the user declined) or **ConnectFailed** (by reason below). ' +
          'A gap between Started and the three outcomes is users who left at Zoom. Every alarm notifies the alarm topic; docs/operating.md (Alarms, Runbook) says what each one means.',
        width: 24,
        height: 2,
      }),
    ],
    [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...alarms], width: 24, height: 4 })],
    [
      new cloudwatch.SingleValueWidget({
        title: 'Connect funnel (totals over the time range)',
        metrics: CONNECT_FUNNEL.map((name) => m(name)),
        setPeriodToTimeRange: true,
        width: 12,
        height: 4,
      }),
      new cloudwatch.GraphWidget({
        title: 'Connect funnel',
        left: CONNECT_FUNNEL.map((name) => m(name)),
        width: 12,
        height: 6,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Connect failures by reason',
        left: [
          new cloudwatch.MathExpression({
            // Every reason the runtime reports, including ones added later, without listing them here.
            expression: `SEARCH('{${METRICS_NAMESPACE},reason,service} MetricName="${CONNECT_FAILED}" service="${SERVICE_NAME}"', 'Sum', ${period.toSeconds()})`,
            usingMetrics: {},
            label: '',
            period,
          }),
        ],
        stacked: true,
        width: 12,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Conflicts resolved, re-authorizations and creates of unknown outcome',
        left: [m('ConflictResolved'), m('Reauthorization'), m('RecallOutcomeUnknown')],
        width: 12,
        height: 6,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Recall latency per attempt (ms)',
        left: [m('RecallLatency', 'p50').with({ label: 'p50' }), m('RecallLatency', 'p99').with({ label: 'p99' })],
        width: 12,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Recall calls, retries and failures',
        left: [m('RecallCall'), m('RecallRetry'), m('RecallFailure')],
        width: 12,
        height: 6,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Zoom webhook: accepted and rejected (401)',
        left: [m('WebhookAccepted'), m('WebhookRejected'), m('DeauthorizationProcessed')],
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-letter queues (messages waiting)',
        left: (
          [
            [props.webhookDeadLetterQueue, 'Webhook events'],
            [props.healthSyncDeadLetterQueue, 'Health sync runs'],
            [props.reconcileDeadLetterQueue, 'Reconcile runs'],
            [props.outboxDeadLetterQueue, 'Outbox batches'],
          ] as const
        ).map(([queue, label]) => visibleMessages(queue, period).with({ label })),
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Health sync and lifecycle events',
        left: [m('HealthSyncMarkedUnhealthy'), m('HealthSyncHealthyAgain'), m('EventsPublished')],
        right: [m('EventPublishFailed'), m('OutboxSwept')],
        width: 8,
        height: 6,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Reconcile: what each run found and repaired',
        left: [m('ReconcileOrphans'), m('ReconcileDanglingRecords'), m('ReconcileRepaired')],
        width: 24,
        height: 6,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: 'Lambda errors',
        left: perFunction((fn) => fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM })),
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda throttles',
        left: perFunction((fn) => fn.metricThrottles({ period, statistic: cloudwatch.Stats.SUM })),
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Lambda duration p99 (ms)',
        left: perFunction((fn) => fn.metricDuration({ period, statistic: 'p99' })),
        width: 8,
        height: 6,
      }),
    ],
  ];
}
