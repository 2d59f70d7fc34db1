import { Annotations, CfnOutput, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { assertSupportedRegion, PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID, PLACEHOLDER_RETURN_URL, type DeployConfig } from './config.js';
import { FILLED_SECRET_NAMES, FILLED_SECRETS, type FilledSecret } from '../functions/core/filled-secrets.js';
import { AUTHORIZE_PATH, CONNECTIONS_PATH } from '../functions/core/routes.js';
import { ConnectApi } from './constructs/connect-api.js';
import { describeConnectionsAuth } from './constructs/connections-auth.js';
import { EventsEndpoint } from './constructs/events-endpoint.js';
import { LifecycleJobs, WEBHOOK_WORKER } from './constructs/lifecycle-jobs.js';
import { LifecycleMessaging } from './constructs/lifecycle-messaging.js';
import { Monitoring } from './constructs/monitoring.js';
import { OutboxPublisher } from './constructs/outbox-publisher.js';
import { StatefulResources } from './constructs/stateful-resources.js';
import { FILLED_SECRET_OUTPUTS } from './stack-outputs.js';

export interface RecallZoomConnectStackProps extends StackProps {
  /** Validated deploy configuration, see `parseDeployConfig`. */
  readonly config: DeployConfig;
}

/**
 * The whole service: stateful resources (table, the secrets ops fill in, generated keys), the messaging (webhook queue,
 * lifecycle event bus), the API and the background jobs that use them, the alarms and dashboard that watch them,
 * plus the outputs ops need after `cdk deploy`.
 */
export class RecallZoomConnectStack extends Stack {
  public readonly state: StatefulResources;
  public readonly messaging: LifecycleMessaging;
  public readonly api: ConnectApi;
  public readonly jobs: LifecycleJobs;
  public readonly outbox: OutboxPublisher;
  public readonly monitoring: Monitoring;
  /** Lifecycle events to the product's HTTPS endpoint, when `eventsEndpoint` is configured. */
  public readonly eventsEndpoint?: EventsEndpoint;

  constructor(scope: Construct, id: string, props: RecallZoomConnectStackProps) {
    super(scope, id, props);
    const { config } = props;
    // A pinned region the extension layer is not published in fails here, with the list, rather than deep in CDK.
    if (!Token.isUnresolved(this.region)) assertSupportedRegion(this.region, 'The stack region');

    this.state = new StatefulResources(this, 'State', {
      secretNamePrefix: config.secretNamePrefix,
      useExistingSecrets: config.useExistingSecrets,
    });
    this.messaging = new LifecycleMessaging(this, 'Messaging', { webhookConsumer: WEBHOOK_WORKER });
    this.api = new ConnectApi(this, 'Api', {
      config,
      table: this.state.table,
      secrets: this.state.secrets,
      signingKeySecret: this.state.signingKeySecret,
      stateKeySecret: this.state.stateKeySecret,
      webhookQueue: this.messaging.webhookQueue,
    });
    this.jobs = new LifecycleJobs(this, 'Jobs', {
      config,
      zoomRedirectUri: this.api.zoomRedirectUri,
      table: this.state.table,
      recallApiKeySecret: this.state.secrets.recallApiKey,
      webhookQueue: this.messaging.webhookQueue,
    });

    this.outbox = new OutboxPublisher(this, 'Outbox', {
      config,
      zoomRedirectUri: this.api.zoomRedirectUri,
      table: this.state.table,
      recallApiKeySecret: this.state.secrets.recallApiKey,
      eventBus: this.messaging.eventBus,
    });

    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      functions: {
        Authorize: this.api.authorizeFunction,
        Callback: this.api.callbackFunction,
        Connections: this.api.connectionsFunction,
        Webhook: this.api.webhookFunction,
        WebhookWorker: this.jobs.webhookWorkerFunction,
        HealthSync: this.jobs.healthSyncFunction,
        Reconcile: this.jobs.reconcile.fn,
        OutboxPublisher: this.outbox.fn,
      },
      webhookDeadLetterQueue: this.messaging.webhookDeadLetterQueue,
      healthSyncDeadLetterQueue: this.jobs.healthSyncDeadLetterQueue,
      reconcileDeadLetterQueue: this.jobs.reconcile.deadLetterQueue,
      outboxDeadLetterQueue: this.outbox.deadLetterQueue,
    });

    if (config.eventsEndpoint) {
      this.eventsEndpoint = new EventsEndpoint(this, 'EventsEndpoint', {
        endpoint: config.eventsEndpoint,
        eventBus: this.messaging.eventBus,
        alarmTopic: this.monitoring.alarmTopic,
      });
    }

    // cdk.json ships placeholders so `cdk synth` works out of the box; say so loudly rather than deploy them silently.
    if (config.recallZoomOAuthAppId === PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID) {
      Annotations.of(this).addWarningV2(
        'recall-zoom-connect:placeholderRecallZoomOAuthAppId',
        'recallZoomOAuthAppId is still the placeholder from cdk.json; set it to your Recall Zoom OAuth App id before deploying.',
      );
    }
    if (config.returnUrlAllowlist.includes(PLACEHOLDER_RETURN_URL)) {
      Annotations.of(this).addWarningV2(
        'recall-zoom-connect:placeholderReturnUrl',
        `returnUrlAllowlist still contains the example ${PLACEHOLDER_RETURN_URL} from cdk.json; replace it with your product's return URL(s).`,
      );
    }
    if (!config.alarmEmail && !config.alarmTopicArn) {
      Annotations.of(this).addWarningV2(
        'recall-zoom-connect:noAlarmSubscriber',
        'Neither alarmEmail nor alarmTopicArn is set: alarms notify a topic nobody subscribes to. Set alarmEmail, or subscribe to the AlarmTopicArn output yourself.',
      );
    }

    // One output per secret ops fill in, each with the bare value it must hold and who reads it.
    const filledSecretReaders: Record<FilledSecret, string> = {
      recallApiKey: 'the functions that call Recall',
      zoomClientId: 'authorize and the callback',
      zoomWebhookSecretToken: 'the webhook only',
    };
    // The outputs ops and scripts read, by their fixed names, each with what to do with it.
    const outputs: Record<string, readonly [description: string, value: string]> = {
      ZoomRedirectUri: [
        'Paste byte for byte into the Zoom app: OAuth Redirect URL and OAuth Allow List (a trailing slash would make it another URI).',
        this.api.zoomRedirectUri,
      ],
      ZoomWebhookUrl: [
        "Paste into the Zoom app as both the Event notification endpoint URL (event subscription) and the Deauthorization endpoint URL. Zoom validates it with the app's Secret Token, so put that token in its secret (the ZoomWebhookSecretTokenSecretName output) first.",
        this.api.zoomWebhookUrl,
      ],
      ApiUrl: [
        config.zoomRedirectUri
          ? `The API's own base URL (for the ${CONNECTIONS_PATH} routes). Connect links go through your front host instead: see ConnectUrl.`
          : `Base URL of the service. Connect links point at <ApiUrl>${AUTHORIZE_PATH}?connect_token=...`,
        this.api.baseUrl,
      ],
      ConnectUrl: [
        'Connect links: <ConnectUrl>?connect_token=<JWT>. Same host and path prefix as ZoomRedirectUri, where the browser-binding cookie set here is sent back.',
        this.api.connectUrl,
      ],
      ConnectionsEndpoint: [
        `GET|DELETE <this>/{userId}. ${describeConnectionsAuth(config.connectionsAuth)}.`,
        `${this.api.baseUrl}${CONNECTIONS_PATH}`,
      ],
      ...(config.connectionsAuth.type === 'iam'
        ? {
            ConnectionsInvokeArn: [
              'Resource for the execute-api:Invoke statement in the IAM policy of the product backend.',
              this.api.httpApi.arnForExecuteApi('*', `${CONNECTIONS_PATH}/*`, '$default'),
            ] as const,
          }
        : {}),
      ...Object.fromEntries(
        FILLED_SECRET_NAMES.map((name) => [
          FILLED_SECRET_OUTPUTS[name],
          [
            `Secrets Manager secret to fill in with ${FILLED_SECRETS[name].what} alone (a bare string, no JSON). Read by ${filledSecretReaders[name]}.`,
            this.state.secretNames[name],
          ] as const,
        ]),
      ),
      SigningKeySecretArn: [
        'Secrets Manager secret holding the connect-token HS256 key; the product backend reads it to sign links.',
        this.state.signingKeySecret.secretArn,
      ],
      StateKeySecretArn: [
        'Secrets Manager secret holding the key that seals connect attempts into their cookies; only the authorize and callback functions read it. To rotate: put-secret-value with a fresh random key of 64 letters and digits (attempts started before still finish).',
        this.state.stateKeySecret.secretArn,
      ],
      EventBusName: [
        'EventBridge bus of connection lifecycle events (source recall-zoom-connect, detail-type "Zoom connection <type>.v1"); create rules on it to subscribe.',
        this.messaging.eventBus.eventBusName,
      ],
      EventBusArn: [
        'ARN of the lifecycle event bus, for rules and IAM policies in the product account.',
        this.messaging.eventBus.eventBusArn,
      ],
      OutboxDeadLetterQueueUrl: [
        'Lifecycle event batches the outbox publisher failed to publish for an hour (and sweep runs that never completed); the OutboxDeadLetters alarm fires. The events themselves wait in the table: fix the cause from the OutboxPublisher logs, then purge this queue; the sweep publishes what is waiting within 5 minutes.',
        this.outbox.deadLetterQueue.queueUrl,
      ],
      WebhookDeadLetterQueueUrl: [
        'Zoom events that failed processing or forwarding to Recall 5 times (the dead-letter alarm fires). Fix the cause, then redrive them to the webhook queue: see WebhookDeadLetterQueueArn.',
        this.messaging.webhookDeadLetterQueue.queueUrl,
      ],
      WebhookDeadLetterQueueArn: [
        'To redrive the dead-lettered Zoom events to the webhook queue once the cause is fixed: aws sqs start-message-move-task --source-arn <this> (they go back to the queue they came from).',
        this.messaging.webhookDeadLetterQueue.queueArn,
      ],
      HealthSyncDeadLetterQueueUrl: [
        'Health sync runs that never completed (the dead-letter alarm fires). Fix the cause from the HealthSync logs, then purge it: the next run does the work.',
        this.jobs.healthSyncDeadLetterQueue.queueUrl,
      ],
      ReconcileFunctionName: [
        config.reconcileFix
          ? 'Reconcile, scheduled; it repairs what it finds (reconcileFix). To run it now: aws lambda invoke --function-name <this> out.json. To report without repairing, run npm run reconcile (see npm run reconcile -- --help).'
          : 'Reconcile, scheduled; it only reports (reconcileFix is false). To run it now: aws lambda invoke --function-name <this> out.json. To repair, run npm run reconcile -- --fix with TABLE_NAME, RECALL_API_KEY_SECRET_ID (RecallApiKeySecretName) and RECALL_ZOOM_OAUTH_APP_ID set (see --help).',
        this.jobs.reconcile.fn.functionName,
      ],
      ReconcileDeadLetterQueueUrl: [
        'Reconcile runs that never completed (the dead-letter alarm fires). Fix the cause from the Reconcile logs, then purge it: the next run does the work.',
        this.jobs.reconcile.deadLetterQueue.queueUrl,
      ],
      AlarmTopicArn: [
        config.alarmTopicArn
          ? 'The existing SNS topic every alarm notifies (alarmTopicArn).'
          : 'SNS topic every alarm notifies (KMS-encrypted). alarmEmail subscribes one address; confirm the email SNS sends, or add subscribers here.',
        this.monitoring.alarmTopic.topicArn,
      ],
      DashboardUrl: [
        'CloudWatch dashboard: connect funnel, failures by reason, Recall latency and retries, webhook, dead letters, functions.',
        this.monitoring.dashboardUrl,
      ],
      TableName: [
        'DynamoDB table of connections, and of used OAuth states until they expire.',
        this.state.table.tableName,
      ],
      ...(this.api.customDomain
        ? {
            CustomDomainTarget: [
              `Point a CNAME (or alias) record for ${config.customDomain?.domainName} at this host.`,
              this.api.customDomain.regionalDomainName,
            ] as const,
          }
        : {}),
    };
    for (const [name, [description, value]] of Object.entries(outputs)) new CfnOutput(this, name, { description, value });
  }
}
