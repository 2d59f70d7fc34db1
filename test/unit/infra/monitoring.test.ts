import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../../functions/core/metric-names.js';
import {
  actionsOf,
  DEPLOYABLE,
  flatten,
  functionIds,
  type FunctionName,
  functionProperties,
  logicalId,
  nagViolations,
  policyStatements,
  resourcesOf,
  stringsIn,
  SYNTH_TIMEOUT_MS,
  synthesize,
  type Synthesized,
  useCdkJsonStack,
} from './helpers.js';

interface AlarmProperties {
  AlarmName: string;
  AlarmDescription: string;
  AlarmActions: unknown[];
  OKActions: unknown[];
  Threshold: number;
  EvaluationPeriods: number;
  ComparisonOperator: string;
  TreatMissingData: string;
  Namespace?: string;
  MetricName?: string;
  Dimensions?: { Name: string; Value: unknown }[];
  Statistic?: string;
  Period?: number;
  Metrics?: {
    Id: string;
    Expression?: string;
    ReturnData?: boolean;
    MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown[] }; Period: number; Stat: string };
  }[];
}

const alarmsOf = (template: Template): Record<string, AlarmProperties> =>
  Object.fromEntries(
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => {
      const properties = alarm.Properties as AlarmProperties;
      return [properties.AlarmName, properties];
    }),
  );

const SERVICE_DIMENSION = [{ Name: 'service', Value: 'recall-zoom-connect' }];
const FUNCTION_NAMES: Record<FunctionName, string> = {
  authorize: 'Authorize',
  callback: 'Callback',
  connections: 'Connections',
  webhook: 'Webhook',
  webhookWorker: 'WebhookWorker',
  healthSync: 'HealthSync',
  reconcile: 'Reconcile',
  outboxPublisher: 'OutboxPublisher',
};

/** The metric-math alarm's expression and the service metrics it reads, by id. */
function mathOf(alarm: AlarmProperties | undefined) {
  const metrics = alarm?.Metrics ?? [];
  const returned = metrics.filter((metric) => metric.ReturnData !== false);
  expect(returned).toHaveLength(1);
  const inputs = Object.fromEntries(
    metrics.filter((metric) => metric.MetricStat).map((metric) => [metric.Id, metric.MetricStat]),
  );
  return { expression: returned[0]?.Expression ?? '', inputs };
}

describe('alarms and dashboard with the cdk.json configuration', () => {
  const cdk = useCdkJsonStack();
  let alarms: Record<string, AlarmProperties>;
  let topic: string;

  beforeAll(() => {
    alarms = alarmsOf(cdk.template);
    topic = logicalId(cdk.synthesized.stack.monitoring.alarmTopic);
  }, SYNTH_TIMEOUT_MS);

  it('watches every metric the runtime writes, and only those, in the runtime namespace', () => {
    const fromAlarms = Object.values(alarms).flatMap((alarm) => [
      ...(alarm.Namespace === 'RecallZoomConnect' && alarm.MetricName ? [alarm.MetricName] : []),
      ...(alarm.Metrics ?? []).flatMap((metric) => (metric.MetricStat ? [metric.MetricStat.Metric.MetricName] : [])),
    ]);
    const [dashboard] = Object.values(cdk.template.findResources('AWS::CloudWatch::Dashboard'));
    const fromDashboard = [...flatten(dashboard?.Properties.DashboardBody).matchAll(/"RecallZoomConnect","([A-Za-z]+)"/g)].map(
      (match) => match[1] as string,
    );
    const used = new Set([...fromAlarms, ...fromDashboard]);
    expect(used.size).toBe(METRIC_NAMES.length);
    for (const name of used) expect(METRIC_NAMES as readonly string[]).toContain(name);
  });

  it('has the seven service alarms and an Errors and a Throttles alarm per function, all named after the stack', () => {
    expect(Object.keys(alarms).sort()).toEqual(
      [
        'Test-CallbackErrorRate',
        'Test-RecallFailureRate',
        'Test-WebhookDeadLetters',
        'Test-HealthSyncDeadLetters',
        'Test-ReconcileDeadLetters',
        'Test-OutboxDeadLetters',
        'Test-EventPublishFailed',
        ...Object.values(FUNCTION_NAMES).flatMap((name) => [`Test-${name}-Errors`, `Test-${name}-Throttles`]),
      ].sort(),
    );
  });

  it('sends every alarm, and its recovery, to the one alarm topic; no data is never an alarm', () => {
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(alarm.AlarmActions, name).toEqual([{ Ref: topic }]);
      expect(alarm.OKActions, name).toEqual([{ Ref: topic }]);
      expect(alarm.TreatMissingData, name).toBe('notBreaching');
      expect(alarm.EvaluationPeriods, name).toBe(1);
      expect(alarm.ComparisonOperator, name).toBe('GreaterThanOrEqualToThreshold');
    }
  });

  it('describes what every alarm means and what to do, within CloudWatch\'s 1024 characters', () => {
    for (const [name, alarm] of Object.entries(alarms)) {
      expect(alarm.AlarmDescription.length, name).toBeGreaterThan(150);
      expect(alarm.AlarmDescription.length, name).toBeLessThanOrEqual(1024);
      // Every description names an action: read, check, fix, redrive, purge...
      expect(alarm.AlarmDescription, name).toMatch(/\b(Read|Open|Check|fix|redrive|purge)\b/);
    }
  });

  it('fires on a callback error rate of 20% over 15 minutes, once 5 callbacks arrived', () => {
    const alarm = alarms['Test-CallbackErrorRate'];
    expect(alarm?.Threshold).toBe(0.2);
    const { expression, inputs } = mathOf(alarm);
    expect(expression).toBe(
      'IF(FILL(completed, 0) + FILL(failed, 0) + FILL(denied, 0) >= 5, FILL(failed, 0) / (FILL(completed, 0) + FILL(failed, 0) + FILL(denied, 0)), 0)',
    );
    expect(inputs).toEqual({
      completed: { Metric: { Namespace: 'RecallZoomConnect', MetricName: 'ConnectCompleted', Dimensions: SERVICE_DIMENSION }, Period: 900, Stat: 'Sum' },
      failed: { Metric: { Namespace: 'RecallZoomConnect', MetricName: 'ConnectFailed', Dimensions: SERVICE_DIMENSION }, Period: 900, Stat: 'Sum' },
      denied: { Metric: { Namespace: 'RecallZoomConnect', MetricName: 'ConnectDenied', Dimensions: SERVICE_DIMENSION }, Period: 900, Stat: 'Sum' },
    });
    expect(alarm?.AlarmDescription).toMatch(/at least 20% of Zoom callbacks/);
  });

  it('fires on a Recall failure rate of 10% over 15 minutes, once 5 attempts were made', () => {
    const alarm = alarms['Test-RecallFailureRate'];
    expect(alarm?.Threshold).toBe(0.1);
    const { expression, inputs } = mathOf(alarm);
    expect(expression).toBe('IF(FILL(calls, 0) >= 5, FILL(failures, 0) / FILL(calls, 0), 0)');
    expect(inputs).toEqual({
      calls: { Metric: { Namespace: 'RecallZoomConnect', MetricName: 'RecallCall', Dimensions: SERVICE_DIMENSION }, Period: 900, Stat: 'Sum' },
      failures: { Metric: { Namespace: 'RecallZoomConnect', MetricName: 'RecallFailure', Dimensions: SERVICE_DIMENSION }, Period: 900, Stat: 'Sum' },
    });
  });

  it('fires on the first Error or Throttle of each function in 5 minutes', () => {
    for (const [key, name] of Object.entries(FUNCTION_NAMES)) {
      for (const metric of ['Errors', 'Throttles']) {
        expect(alarms[`Test-${name}-${metric}`]).toMatchObject({
          Namespace: 'AWS/Lambda',
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: cdk.fns[key as FunctionName] } }],
          Statistic: 'Sum',
          Period: 300,
          Threshold: 1,
        });
      }
    }
  });

  it('fires as soon as one message waits in any dead-letter queue', () => {
    const { messaging, jobs } = cdk.synthesized.stack;
    for (const [name, queue] of [
      ['Test-WebhookDeadLetters', logicalId(messaging.webhookDeadLetterQueue)],
      ['Test-HealthSyncDeadLetters', logicalId(jobs.healthSyncDeadLetterQueue)],
      ['Test-ReconcileDeadLetters', logicalId(jobs.reconcile.deadLetterQueue)],
    ] as const) {
      expect(alarms[name]).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: 1,
      });
    }
    expect(alarms['Test-WebhookDeadLetters']?.AlarmDescription).toMatch(/redrive/);
    expect(alarms['Test-HealthSyncDeadLetters']?.AlarmDescription).toMatch(/purge/);
    expect(alarms['Test-ReconcileDeadLetters']?.AlarmDescription).toMatch(/purge.*npm run reconcile/);
  });

  it('fires on the first lifecycle event that could not be published', () => {
    expect(alarms['Test-EventPublishFailed']).toMatchObject({
      Namespace: 'RecallZoomConnect',
      MetricName: 'EventPublishFailed',
      Dimensions: SERVICE_DIMENSION,
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
    });
  });

  it('encrypts the alarm topic with its own rotating key, and refuses publishing without TLS', () => {
    const key = logicalId(cdk.synthesized.stack.monitoring.alarmTopicKey!);
    cdk.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [key, 'Arn'] } });
    cdk.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: Match.objectLike({ EnableKeyRotation: true }) });
    cdk.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lets only this stack\'s alarms publish to the topic, and only this account\'s CloudWatch use its key', () => {
    const topicPolicy = Object.values(cdk.template.findResources('AWS::SNS::TopicPolicy'))[0]?.Properties.PolicyDocument.Statement;
    const keyPolicy = Object.values(cdk.template.findResources('AWS::KMS::Key'))[0]?.Properties.KeyPolicy.Statement;
    const forCloudWatch = (statements: { Principal?: { Service?: string } }[]) =>
      statements.filter((statement) => statement.Principal?.Service === 'cloudwatch.amazonaws.com');
    const [publish] = forCloudWatch(topicPolicy) as { Action: string; Resource: unknown; Condition: { ArnLike: Record<string, unknown> } }[];
    expect(forCloudWatch(topicPolicy)).toHaveLength(1);
    expect(publish).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topic } });
    expect(publish?.Condition).toMatchObject({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
    expect(flatten(publish?.Condition.ArnLike['aws:SourceArn'])).toBe(
      'arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:Test-*',
    );
    // The key admits CloudWatch of this account only: an aws:SourceArn condition CloudWatch might not send on its
    // KMS calls would silently drop every notification.
    expect(forCloudWatch(keyPolicy)).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    ]);
  });

  it('creates no subscription without alarmEmail, says so at synth, and prints the topic', () => {
    cdk.template.resourceCountIs('AWS::SNS::Subscription', 0);
    Annotations.fromStack(cdk.synthesized.stack).hasWarning('/Test', Match.stringLikeRegexp('Neither alarmEmail nor alarmTopicArn'));
    cdk.template.hasOutput('AlarmTopicArn', { Value: { Ref: topic } });
  });

  describe('dashboard', () => {
    let body: { widgets: { type: string; properties: Record<string, unknown> }[] };
    let text: string;

    beforeAll(() => {
      const [dashboard] = Object.values(cdk.template.findResources('AWS::CloudWatch::Dashboard'));
      // Intrinsics inside the JSON body become placeholders without quotes, so the body still parses.
      text = flatten(dashboard?.Properties.DashboardBody);
      body = JSON.parse(text);
      expect(flatten(dashboard?.Properties.DashboardName)).toBe('Test-<AWS::Region>');
    });

    const graph = (title: string) => {
      const widget = body.widgets.find((candidate) => candidate.properties.title === title);
      if (!widget) throw new Error(`no widget "${title}"`);
      return JSON.stringify(widget.properties.metrics);
    };

    it('shows the connect funnel: started, then completed, denied or failed', () => {
      for (const title of ['Connect funnel', 'Connect funnel (totals over the time range)']) {
        const metrics = graph(title);
        for (const name of ['ConnectStarted', 'ConnectCompleted', 'ConnectDenied', 'ConnectFailed']) {
          expect(metrics).toContain(`"RecallZoomConnect","${name}","service","recall-zoom-connect"`);
        }
      }
    });

    it('breaks failures down by reason with a SEARCH over the reason dimension', () => {
      expect(graph('Connect failures by reason')).toContain(
        String.raw`SEARCH('{RecallZoomConnect,reason,service} MetricName=\"ConnectFailed\" service=\"recall-zoom-connect\"', 'Sum', 300)`,
      );
    });

    it('shows conflicts, re-authorizations and creates whose outcome the callback had to find out', () => {
      expect(graph('Conflicts resolved, re-authorizations and creates of unknown outcome')).toMatch(
        /"ConflictResolved".*"Reauthorization".*"RecallOutcomeUnknown"/,
      );
    });

    it('shows Recall latency p50 and p99, retries and failures, and the webhook', () => {
      const latency = graph('Recall latency per attempt (ms)');
      expect(latency).toMatch(/"RecallLatency".*"stat":"p50"/);
      expect(latency).toMatch(/"RecallLatency".*"stat":"p99"/);
      expect(graph('Recall calls, retries and failures')).toMatch(/RecallCall.*RecallRetry.*RecallFailure/);
      expect(graph('Zoom webhook: accepted and rejected (401)')).toMatch(/WebhookAccepted.*WebhookRejected/);
    });

    it('shows every dead-letter queue and every function\'s errors, throttles and duration', () => {
      const { messaging, jobs } = cdk.synthesized.stack;
      const queues = graph('Dead-letter queues (messages waiting)');
      expect(queues).toContain(`<${logicalId(messaging.webhookDeadLetterQueue)}.QueueName>`);
      expect(queues).toContain(`<${logicalId(jobs.healthSyncDeadLetterQueue)}.QueueName>`);
      expect(queues).toContain(`<${logicalId(jobs.reconcile.deadLetterQueue)}.QueueName>`);
      for (const [title, metric] of [
        ['Lambda errors', 'Errors'],
        ['Lambda throttles', 'Throttles'],
        ['Lambda duration p99 (ms)', 'Duration'],
      ] as const) {
        const metrics = graph(title);
        for (const fn of Object.values(cdk.fns)) expect(metrics).toContain(`"AWS/Lambda","${metric}","FunctionName","<${fn}>"`);
      }
    });

    it('shows what each reconcile run found and repaired', () => {
      expect(graph('Reconcile: what each run found and repaired')).toMatch(
        /"ReconcileOrphans".*"ReconcileDanglingRecords".*"ReconcileRepaired"/,
      );
    });

    it('shows the state of every alarm', () => {
      const widget = body.widgets.find((candidate) => candidate.type === 'alarm');
      expect((widget?.properties.alarms as string[]).length).toBe(Object.keys(alarms).length);
    });

    it('is linked from an output', () => {
      cdk.template.hasOutput('DashboardUrl', { Value: Match.anyValue() });
      expect(flatten(cdk.template.toJSON().Outputs.DashboardUrl.Value)).toBe(
        'https://<AWS::Region>.console.aws.amazon.com/cloudwatch/home?region=<AWS::Region>#dashboards:name=Test-<AWS::Region>',
      );
    });
  });
});

describe('alarms with an email subscriber and tuned thresholds', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({
      ...DEPLOYABLE,
      alarmEmail: 'oncall@acme.test',
      callbackErrorRateThreshold: '0.35',
      callbackErrorRateMinCallbacks: 12,
      recallFailureRateThreshold: 0.05,
      recallFailureRateMinCalls: '20',
    });
  }, SYNTH_TIMEOUT_MS);

  it('subscribes the address to the alarm topic', () => {
    synthesized.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@acme.test',
      TopicArn: { Ref: logicalId(synthesized.stack.monitoring.alarmTopic) },
    });
    Annotations.fromStack(synthesized.stack).hasNoWarning('/Test', Match.stringLikeRegexp('alarmEmail'));
  });

  it('uses the configured thresholds and minimum counts', () => {
    const alarms = alarmsOf(synthesized.template);
    expect(alarms['Test-CallbackErrorRate']?.Threshold).toBe(0.35);
    expect(mathOf(alarms['Test-CallbackErrorRate']).expression).toMatch(/^IF\(.* >= 12, /);
    expect(alarms['Test-CallbackErrorRate']?.AlarmDescription).toMatch(/at least 35% .* 12 or more callbacks/);
    expect(alarms['Test-RecallFailureRate']?.Threshold).toBe(0.05);
    expect(mathOf(alarms['Test-RecallFailureRate']).expression).toMatch(/^IF\(FILL\(calls, 0\) >= 20, /);
  });

  it('still passes both cdk-nag packs (the subscription\'s redrive finding acknowledged)', () => {
    expect(nagViolations(synthesized.app)).toEqual([]);
  });
});

describe('reusing existing resources: an alarm topic and the secrets kept from a deleted stack', () => {
  const alarmTopicArn = 'arn:aws:sns:us-east-1:123456789012:ops-alarms';
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({ ...DEPLOYABLE, alarmTopicArn, secretNamePrefix: 'prod/recall-zoom-connect', useExistingSecrets: true });
  }, SYNTH_TIMEOUT_MS);

  it('notifies that topic from every alarm and creates no topic, key or subscription of its own', () => {
    const { template } = synthesized;
    template.resourceCountIs('AWS::SNS::Topic', 0);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    const alarms = Object.values(alarmsOf(template));
    expect(alarms).toHaveLength(23);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([alarmTopicArn]);
      expect(alarm.OKActions).toEqual([alarmTopicArn]);
    }
    template.hasOutput('AlarmTopicArn', { Value: alarmTopicArn });
    Annotations.fromStack(synthesized.stack).hasNoWarning('/Test', Match.stringLikeRegexp('alarmTopicArn'));
    expect(nagViolations(synthesized.app)).toEqual([]);
  });

  it('creates only the two generated keys and reads each existing secret by name, matched by "-??????", never "*"', () => {
    const { template } = synthesized;
    template.resourceCountIs('AWS::SecretsManager::Secret', 2);
    template.hasOutput('RecallApiKeySecretName', { Value: 'prod/recall-zoom-connect/recall-api-key' });
    template.hasOutput('ZoomClientIdSecretName', { Value: 'prod/recall-zoom-connect/zoom-client-id' });
    template.hasOutput('ZoomWebhookSecretTokenSecretName', { Value: 'prod/recall-zoom-connect/zoom-webhook-secret-token' });
    const fns = functionIds(synthesized.stack);
    const variables = (fn: FunctionName) => functionProperties(template, fns[fn]).Environment.Variables;
    expect(variables('reconcile').RECALL_API_KEY_SECRET_ID).toBe('prod/recall-zoom-connect/recall-api-key');
    expect(variables('authorize').ZOOM_CLIENT_ID_SECRET_ID).toBe('prod/recall-zoom-connect/zoom-client-id');
    expect(variables('webhook').ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID).toBe('prod/recall-zoom-connect/zoom-webhook-secret-token');
    const existingSecretArns = policyStatements(template)
      .filter(({ statement }) => actionsOf(statement).includes('secretsmanager:GetSecretValue'))
      .flatMap(({ statement }) => resourcesOf(statement))
      .filter((resource) => JSON.stringify(resource).includes('prod/recall-zoom-connect'));
    // Six read the Recall API key (the outbox publisher too), two the Zoom client id, one the webhook token.
    expect(existingSecretArns).toHaveLength(9);
    for (const resource of existingSecretArns) {
      expect(stringsIn(resource).join('')).toMatch(/:secret:prod\/recall-zoom-connect\/[a-z-]+-\?\?\?\?\?\?$/);
      expect(JSON.stringify(resource)).not.toContain('*');
    }
  });
});
