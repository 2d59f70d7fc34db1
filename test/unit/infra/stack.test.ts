import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../functions/shared/config.js';
import { TABLE_SCHEMA } from '../../../functions/shared/table-schema.js';
import { parseDeployConfig } from '../../../lib/config.js';
import { WEBHOOK_WORKER } from '../../../lib/constructs/lifecycle-jobs.js';
import { projectPath } from '../../../lib/constructs/service-function.js';
import { RecallZoomConnectStack } from '../../../lib/recall-zoom-connect-stack.js';

/** The context cdk.json ships with, so the tests synthesize the stack `cdk synth` does. */
const CDK_JSON_CONTEXT = JSON.parse(readFileSync(projectPath('cdk.json'), 'utf8')).context as Record<string, unknown>;

interface Synthesized {
  app: App;
  stack: RecallZoomConnectStack;
  template: Template;
}

/**
 * @param overrides - context on top of cdk.json's
 * @param bundle - run esbuild; the variants skip it, since only the default stack needs to prove the bundles build
 */
function synthesize(overrides: Record<string, unknown> = {}, bundle = false): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, ...overrides, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new RecallZoomConnectStack(app, 'Test', { config: parseDeployConfig(app.node.getAllContext()) });
  return { app, stack, template: Template.fromStack(stack) };
}

const logicalId = (construct: IConstruct): string =>
  Stack.of(construct).resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

/** Every statement of every IAM policy, with the role it is attached to. */
function policyStatements(template: Template): { role: string; statement: Statement }[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap((statement) =>
      (policy.Properties.Roles as { Ref: string }[]).map((role) => ({ role: role.Ref, statement })),
    ),
  );
}

const actionsOf = (statement: Statement): string[] =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
const resourcesOf = (statement: Statement): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];

/** The functions of the stack, by role, as logical ids. */
type FunctionName = 'authorize' | 'callback' | 'connections' | 'webhook' | 'webhookWorker' | 'healthSync';

function functionIds(stack: RecallZoomConnectStack): Record<FunctionName, string> {
  const { api, jobs } = stack;
  return {
    authorize: logicalId(api.authorizeFunction),
    callback: logicalId(api.callbackFunction),
    connections: logicalId(api.connectionsFunction),
    webhook: logicalId(api.webhookFunction),
    webhookWorker: logicalId(jobs.webhookWorkerFunction),
    healthSync: logicalId(jobs.healthSyncFunction),
  };
}

/** The roles holding a statement that allows `action`, each with the resources that statement names. */
function rolesAllowed(template: Template, action: string): Map<string, unknown[]> {
  const roles = new Map<string, unknown[]>();
  for (const { role, statement } of policyStatements(template)) {
    if (statement.Effect !== 'Allow' || !actionsOf(statement).includes(action)) continue;
    roles.set(role, [...(roles.get(role) ?? []), ...resourcesOf(statement)]);
  }
  return roles;
}

function functionProperties(template: Template, fnLogicalId: string) {
  const fn = template.findResources('AWS::Lambda::Function')[fnLogicalId];
  if (!fn) throw new Error(`no function ${fnLogicalId} in the template`);
  return fn.Properties as {
    Environment: { Variables: Record<string, unknown> };
    Role: { 'Fn::GetAtt': [string, string] };
    Timeout: number;
  };
}

/** The function a route's integration invokes. */
function functionBehindRoute(template: Template, routeKey: string): string {
  const [route] = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  const integrationId = (route?.Properties.Target['Fn::Join'][1][1] as { Ref: string }).Ref;
  const integration = template.findResources('AWS::ApiGatewayV2::Integration')[integrationId];
  return integration?.Properties.IntegrationUri['Fn::GetAtt'][0] as string;
}

/** Reasons of every acknowledged rule in the construct tree. */
function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe('RecallZoomConnectStack with the cdk.json configuration', () => {
  let synthesized: Synthesized;
  let template: Template;
  let fns: Record<FunctionName, string>;
  let table: string;
  let appSecret: string;
  let signingKey: string;
  let webhookQueue: string;
  let deadLetterQueue: string;
  let eventBus: string;
  const roleOf = (fn: string) => functionProperties(template, fn).Role['Fn::GetAtt'][0];

  beforeAll(() => {
    synthesized = synthesize({}, true);
    ({ template } = synthesized);
    const { state, messaging } = synthesized.stack;
    fns = functionIds(synthesized.stack);
    table = logicalId(state.table);
    appSecret = logicalId(state.appSecret);
    signingKey = logicalId(state.signingKeySecret);
    webhookQueue = logicalId(messaging.webhookQueue);
    deadLetterQueue = logicalId(messaging.webhookDeadLetterQueue);
    eventBus = logicalId(messaging.eventBus);
  });

  describe('HTTP API', () => {
    it('exposes exactly the five routes of the design', () => {
      const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
        (route) => route.Properties.RouteKey as string,
      );
      expect(routeKeys.sort()).toEqual([
        'DELETE /connections/{userId}',
        'GET /connections/{userId}',
        'GET /zoom/authorize',
        'GET /zoom/callback',
        'POST /zoom/webhook',
      ]);
    });

    it('leaves the browser routes /zoom/authorize and /zoom/callback open to unauthenticated callers', () => {
      for (const routeKey of ['GET /zoom/authorize', 'GET /zoom/callback']) {
        template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'NONE' });
      }
    });

    it('leaves POST /zoom/webhook without an authorizer, since Zoom signs its requests instead', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: 'POST /zoom/webhook',
        AuthorizationType: 'NONE',
        AuthorizerId: Match.absent(),
      });
    });

    it('requires IAM (SigV4) authorization on GET and DELETE /connections/{userId}', () => {
      for (const routeKey of ['GET /connections/{userId}', 'DELETE /connections/{userId}']) {
        template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
      }
    });

    it('sends each route to its own function', () => {
      expect(functionBehindRoute(template, 'GET /zoom/authorize')).toBe(fns.authorize);
      expect(functionBehindRoute(template, 'GET /zoom/callback')).toBe(fns.callback);
      expect(functionBehindRoute(template, 'GET /connections/{userId}')).toBe(fns.connections);
      expect(functionBehindRoute(template, 'DELETE /connections/{userId}')).toBe(fns.connections);
      expect(functionBehindRoute(template, 'POST /zoom/webhook')).toBe(fns.webhook);
    });

    it('does not enable CORS', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
    });

    it('throttles the default stage with the configured limits', () => {
      template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
    });

    it('writes JSON access logs that never contain paths or query strings (codes, states, user ids)', () => {
      const [stage] = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'));
      const format = stage?.Properties.AccessLogSettings.Format as string;
      const fields = JSON.parse(format) as Record<string, string>;
      expect(fields).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey' });
      for (const field of Object.values(fields)) {
        expect(field).not.toMatch(/\$context\.(path|resourcePath)|querystring|requestOverride/i);
      }
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    });
  });

  describe('functions', () => {
    it('runs every function on Node.js 24, ARM64, with active tracing and JSON logs to its own log group', () => {
      const functions = template.findResources('AWS::Lambda::Function');
      expect(Object.keys(functions).sort()).toEqual(Object.values(fns).sort());
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          MemorySize: 512,
          LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', LogGroup: { Ref: expect.any(String) } },
        });
        const logGroup = template.findResources('AWS::Logs::LogGroup')[fn.Properties.LoggingConfig.LogGroup.Ref];
        expect(logGroup?.Properties.RetentionInDays).toBe(30);
      }
    });

    it('ends every API-facing function inside API Gateway’s 30 s integration timeout', () => {
      for (const id of [fns.authorize, fns.callback, fns.connections, fns.webhook]) {
        expect(functionProperties(template, id).Timeout).toBeLessThan(30);
      }
      expect(functionProperties(template, fns.callback).Timeout).toBeGreaterThanOrEqual(20);
      for (const id of [fns.authorize, fns.connections]) {
        expect(functionProperties(template, id).Timeout).toBeLessThanOrEqual(10);
      }
    });

    it('gives up on a webhook delivery soon after Zoom has (Zoom waits 3 s, then retries)', () => {
      const timeout = functionProperties(template, fns.webhook).Timeout;
      expect(timeout).toBeGreaterThanOrEqual(3);
      expect(timeout).toBeLessThanOrEqual(5);
    });

    it('gives the background jobs a minute, which the queue and the schedule are sized for', () => {
      expect(functionProperties(template, fns.webhookWorker).Timeout).toBe(WEBHOOK_WORKER.timeout.toSeconds());
      expect(functionProperties(template, fns.healthSync).Timeout).toBe(60);
    });

    it('bundles each handler as a minified ESM module with source maps and the AWS SDK inside', () => {
      const assemblyDir = synthesized.app.synth().directory;
      for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties.Handler).toBe('index.handler');
        expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBe('--enable-source-maps');
        const assetHash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
        const assetDir = path.join(assemblyDir, `asset.${assetHash}`);
        expect(readdirSync(assetDir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
        const bundle = readFileSync(path.join(assetDir, 'index.mjs'), 'utf8');
        // CommonJS dependencies inside the ESM bundle call `require`; the banner provides it.
        expect(bundle.startsWith('import { createRequire')).toBe(true);
        expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//);
      }
    });

    it('gives every function the runtime configuration it reads, with one redirect URI and table name', () => {
      const redirectUri = template.toJSON().Outputs.ZoomRedirectUri.Value;
      for (const id of Object.values(fns)) {
        expect(functionProperties(template, id).Environment.Variables).toMatchObject({
          ZOOM_REDIRECT_URI: redirectUri,
          ZOOM_AUTHORIZE_URL: 'https://zoom.us/oauth/authorize',
          RECALL_REGION: 'us-east-1',
          RECALL_ZOOM_OAUTH_APP_ID: CDK_JSON_CONTEXT.recallZoomOAuthAppId,
          RETURN_URL_ALLOWLIST: (CDK_JSON_CONTEXT.returnUrlAllowlist as string[]).join(','),
          POWERTOOLS_SERVICE_NAME: 'recall-zoom-connect',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          TABLE_NAME: { Ref: table },
          APP_SECRET_ID: { Ref: appSecret },
        });
      }
    });

    it('binds to each function exactly the signing key, bus and queue it uses', () => {
      const bound = (name: FunctionName) =>
        ['SIGNING_KEY_SECRET_ID', 'EVENT_BUS_NAME', 'WEBHOOK_QUEUE_URL'].filter(
          (variable) => variable in functionProperties(template, fns[name]).Environment.Variables,
        );
      expect(bound('authorize')).toEqual(['SIGNING_KEY_SECRET_ID']);
      expect(bound('callback')).toEqual(['EVENT_BUS_NAME']);
      expect(bound('connections')).toEqual(['EVENT_BUS_NAME']);
      expect(bound('webhook')).toEqual(['WEBHOOK_QUEUE_URL']);
      expect(bound('webhookWorker')).toEqual(['EVENT_BUS_NAME']);
      expect(bound('healthSync')).toEqual(['EVENT_BUS_NAME']);

      const variables = (name: FunctionName) => functionProperties(template, fns[name]).Environment.Variables;
      expect(variables('authorize').SIGNING_KEY_SECRET_ID).toEqual({ Ref: signingKey });
      // Ref of a bus is its name; Ref of a queue is its URL.
      for (const name of ['callback', 'connections', 'webhookWorker', 'healthSync'] as const) {
        expect(variables(name).EVENT_BUS_NAME).toEqual({ Ref: eventBus });
      }
      expect(variables('webhook').WEBHOOK_QUEUE_URL).toEqual({ Ref: webhookQueue });
    });

    it('gives every function an environment the shared runtime config accepts at init', () => {
      // Deploy-time values CloudFormation fills in; everything else is checked exactly as synthesized.
      const deployed: Record<string, string> = {
        TABLE_NAME: 'Test-StateTable-ABC',
        ZOOM_REDIRECT_URI: 'https://abc123.execute-api.us-east-1.amazonaws.com/zoom/callback',
        APP_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:recall-zoom-connect/app-AbCdEf',
        SIGNING_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKey-GhIjKl',
        EVENT_BUS_NAME: 'Test-connections',
        WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/Test-WebhookQueue-ABC',
      };
      for (const [name, id] of Object.entries(fns)) {
        const variables = functionProperties(template, id).Environment.Variables;
        const env = Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : deployed[key]]),
        );
        expect(Object.values(env)).not.toContain(undefined);
        const config = loadConfig(env);
        expect(config.tableName).toBe(deployed.TABLE_NAME);
        expect(config.secrets).toEqual({
          source: 'secrets-manager',
          appSecretId: deployed.APP_SECRET_ID,
          ...(name === 'authorize' ? { signingKeySecretId: deployed.SIGNING_KEY_SECRET_ID } : {}),
        });
        expect(config.eventBusName).toBe(
          ['callback', 'connections', 'webhookWorker', 'healthSync'].includes(name) ? deployed.EVENT_BUS_NAME : undefined,
        );
        expect(config.webhookQueueUrl).toBe(name === 'webhook' ? deployed.WEBHOOK_QUEUE_URL : undefined);
      }
    });

    it('never puts a secret value in a function environment', () => {
      for (const id of Object.values(fns)) {
        const variables = functionProperties(template, id).Environment.Variables;
        for (const name of ['RECALL_API_KEY', 'ZOOM_CLIENT_ID', 'ZOOM_WEBHOOK_SECRET_TOKEN', 'CONNECT_SIGNING_KEY']) {
          expect(variables).not.toHaveProperty(name);
        }
        expect(JSON.stringify(variables)).not.toContain('REPLACE_ME');
      }
    });
  });

  describe('table', () => {
    it('is on-demand, expires items by TTL, keeps point-in-time recovery and is protected from deletion', () => {
      template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      template.hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }],
          TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
          Replicas: [
            Match.objectLike({
              DeletionProtectionEnabled: true,
              PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            }),
          ],
        }),
      });
    });

    it('indexes connections by Zoom identity and by status, as the repositories expect', () => {
      const indexes = [TABLE_SCHEMA.zoomIdentityIndex, TABLE_SCHEMA.statusIndex];
      expect(indexes.map(({ name }) => name)).toEqual(['byZoomIdentity', 'byStatus']);
      const [globalTable] = Object.values(template.findResources('AWS::DynamoDB::GlobalTable'));
      const attributes = globalTable?.Properties.AttributeDefinitions as { AttributeName: string; AttributeType: string }[];
      expect(attributes.sort((a, b) => a.AttributeName.localeCompare(b.AttributeName))).toEqual(
        ['pk', 'status', 'zoomIdentity'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      );
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        GlobalSecondaryIndexes: indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
      });
    });
  });

  describe('webhook queue', () => {
    const queueProperties = (id: string) => template.findResources('AWS::SQS::Queue')[id]?.Properties;

    it('keeps verified events for the worker four days, encrypted, and dead-letters them after 5 receives', () => {
      template.resourceCountIs('AWS::SQS::Queue', 2);
      expect(queueProperties(webhookQueue)).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 4 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] }, maxReceiveCount: 5 },
      });
    });

    it('hides a record in flight for at least six worker timeouts plus the batching window', () => {
      const { timeout, maxBatchingWindow } = WEBHOOK_WORKER;
      expect(queueProperties(webhookQueue)?.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * functionProperties(template, fns.webhookWorker).Timeout + maxBatchingWindow.toSeconds(),
      );
      expect(functionProperties(template, fns.webhookWorker).Timeout).toBe(timeout.toSeconds());
    });

    it('keeps dead letters 14 days, longer than the source queue (their age counts from the first enqueue)', () => {
      expect(queueProperties(deadLetterQueue)).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 14 * 24 * 3600,
      });
      expect(queueProperties(deadLetterQueue)?.RedrivePolicy).toBeUndefined();
    });

    it('refuses any request to either queue that is not over TLS', () => {
      for (const queue of [webhookQueue, deadLetterQueue]) {
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queue }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 'sqs:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                Resource: { 'Fn::GetAtt': [queue, 'Arn'] },
              }),
            ]),
          },
        });
      }
    });

    it('feeds the worker batches of 10 with partial batch failures, at bounded concurrency', () => {
      template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [webhookQueue, 'Arn'] },
        FunctionName: { Ref: fns.webhookWorker },
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: WEBHOOK_WORKER.maxBatchingWindow.toSeconds(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: WEBHOOK_WORKER.maxConcurrency },
      });
      expect(WEBHOOK_WORKER.maxBatchingWindow.toSeconds()).toBeLessThanOrEqual(5);
    });

    it('raises an alarm as soon as one event waits in the dead-letter queue', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 1);
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [deadLetterQueue, 'QueueName'] } }],
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmDescription: Match.stringLikeRegexp('dead-letter queue'),
      });
    });
  });

  describe('events and schedule', () => {
    it('creates one lifecycle event bus, named after the stack', () => {
      template.resourceCountIs('AWS::Events::EventBus', 1);
      template.hasResourceProperties('AWS::Events::EventBus', { Name: 'Test-connections' });
    });

    it('runs the health sync every 15 minutes by default, and drops a run that could not start in time', () => {
      template.resourceCountIs('AWS::Events::Rule', 1);
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(15 minutes)',
        State: 'ENABLED',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [fns.healthSync, 'Arn'] },
            RetryPolicy: { MaximumEventAgeInSeconds: 15 * 60 },
          }),
        ],
      });
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        FunctionName: { 'Fn::GetAtt': [fns.healthSync, 'Arn'] },
        Principal: 'events.amazonaws.com',
        SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('HealthSyncSchedule'), 'Arn'] },
      });
    });
  });

  describe('secrets', () => {
    it('creates the app secret under the configured name with placeholders only, and keeps it on stack deletion', () => {
      template.hasResource('AWS::SecretsManager::Secret', {
        DeletionPolicy: 'Retain',
        Properties: Match.objectLike({
          Name: 'recall-zoom-connect/app',
          SecretString: JSON.stringify({
            recallApiKey: 'REPLACE_ME',
            zoomClientId: 'REPLACE_ME',
            zoomWebhookSecretToken: 'REPLACE_ME',
          }),
        }),
      });
    });

    it('generates a 64-character signing key whose secret string is the key itself', () => {
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        GenerateSecretString: {
          PasswordLength: 64,
          ExcludePunctuation: true,
          SecretStringTemplate: Match.absent(),
          GenerateStringKey: Match.absent(),
        },
      });
    });
  });

  describe('IAM', () => {
    it('scopes DynamoDB access to the table and its indexes, and gives the webhook function none', () => {
      const dynamodb = policyStatements(template).filter(({ statement }) =>
        actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
      );
      const tableUsers = [fns.authorize, fns.callback, fns.connections, fns.webhookWorker, fns.healthSync];
      expect([...new Set(dynamodb.map(({ role }) => role))].sort()).toEqual(tableUsers.map(roleOf).sort());
      for (const fn of tableUsers) {
        expect(rolesAllowed(template, 'dynamodb:PutItem').has(roleOf(fn))).toBe(true);
        expect(rolesAllowed(template, 'dynamodb:Query').has(roleOf(fn))).toBe(true);
      }
      for (const { statement } of dynamodb) {
        expect(resourcesOf(statement)).toEqual([
          { 'Fn::GetAtt': [table, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/*']] },
        ]);
      }
    });

    it('lets each function read only the secrets it uses: the signing key is for authorize alone', () => {
      const readers = rolesAllowed(template, 'secretsmanager:GetSecretValue');
      expect(readers.get(roleOf(fns.authorize))).toEqual([{ Ref: appSecret }, { Ref: signingKey }]);
      for (const fn of [fns.callback, fns.connections, fns.webhook, fns.webhookWorker, fns.healthSync]) {
        expect(readers.get(roleOf(fn))).toEqual([{ Ref: appSecret }]);
      }
      expect(readers.size).toBe(6);
    });

    it('lets only the webhook function send to the webhook queue, and only the worker consume it', () => {
      const queueArn = { 'Fn::GetAtt': [webhookQueue, 'Arn'] };
      expect(rolesAllowed(template, 'sqs:SendMessage')).toEqual(new Map([[roleOf(fns.webhook), [queueArn]]]));
      for (const action of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']) {
        expect(rolesAllowed(template, action)).toEqual(new Map([[roleOf(fns.webhookWorker), [queueArn]]]));
      }
      const sqs = policyStatements(template).filter(({ statement }) =>
        actionsOf(statement).some((action) => action.startsWith('sqs:')),
      );
      expect(sqs.length).toBeGreaterThan(0);
      for (const { statement } of sqs) expect(resourcesOf(statement)).toEqual([queueArn]);
      // Nothing reads or writes the dead-letter queue but SQS's redrive and ops.
      expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain(deadLetterQueue);
    });

    it('lets exactly the functions that change connections publish events, and only to the bus', () => {
      const publishers = rolesAllowed(template, 'events:PutEvents');
      const busArn = { 'Fn::GetAtt': [eventBus, 'Arn'] };
      expect(publishers).toEqual(
        new Map([fns.callback, fns.connections, fns.webhookWorker, fns.healthSync].map((fn) => [roleOf(fn), [busArn]])),
      );
      expect(publishers.has(roleOf(fns.authorize))).toBe(false);
      expect(publishers.has(roleOf(fns.webhook))).toBe(false);
    });

    it('grants "*" only for X-Ray, which has no resource-level permissions', () => {
      const wildcard = policyStatements(template).filter(({ statement }) => resourcesOf(statement).includes('*'));
      expect(wildcard.length).toBeGreaterThan(0);
      for (const { statement } of wildcard) {
        expect(actionsOf(statement).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    });

    it('attaches no managed policy to any role', () => {
      for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    });
  });

  describe('outputs', () => {
    it('prints the redirect URI derived from the API endpoint', () => {
      template.hasOutput('ZoomRedirectUri', {
        Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('HttpApi'), 'ApiEndpoint'] }, '/zoom/callback']] },
      });
    });

    it('prints the webhook URL and which two Zoom console fields it goes in', () => {
      template.hasOutput('ZoomWebhookUrl', {
        Description: Match.stringLikeRegexp('Event notification endpoint URL.*Deauthorization endpoint URL'),
        Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('HttpApi'), 'ApiEndpoint'] }, '/zoom/webhook']] },
      });
    });

    it('prints the event bus the product subscribes to and the dead-letter queue ops watch', () => {
      template.hasOutput('EventBusName', { Value: { Ref: eventBus } });
      template.hasOutput('EventBusArn', { Value: { 'Fn::GetAtt': [eventBus, 'Arn'] } });
      template.hasOutput('WebhookDeadLetterQueueUrl', {
        Description: Match.stringLikeRegexp('redrive'),
        Value: { Ref: deadLetterQueue },
      });
    });

    it('prints where ops find the secrets and the IAM-authorized connections endpoint, but no secret value', () => {
      template.hasOutput('AppSecretName', { Value: 'recall-zoom-connect/app' });
      template.hasOutput('SigningKeySecretArn', { Value: { Ref: signingKey } });
      template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'ApiEndpoint'] } });
      template.hasOutput('ConnectionsEndpoint', {
        Description: Match.stringLikeRegexp('IAM-authorized.*SigV4'),
        Value: { 'Fn::Join': ['', [Match.anyValue(), '/connections']] },
      });
      template.hasOutput('ConnectionsInvokeArn', {
        Value: { 'Fn::Join': ['', Match.arrayWith([':execute-api:', '/$default/*/connections/*'])] },
      });
      expect(JSON.stringify(template.toJSON().Outputs)).not.toContain('REPLACE_ME');
    });
  });

  it('warns at synth while the cdk.json placeholders are still in place', () => {
    const annotations = Annotations.fromStack(synthesized.stack);
    annotations.hasWarning('/Test', Match.stringLikeRegexp('recallZoomOAuthAppId is still the placeholder'));
    annotations.hasWarning('/Test', Match.stringLikeRegexp('returnUrlAllowlist still contains the example'));
  });

  describe('cdk-nag', () => {
    it('passes the AwsSolutions checks with no unacknowledged error or warning', () => {
      const report = new AwsSolutionsChecks().validateScope(synthesized.stack);
      expect(report.violations).toEqual([]);
    });

    it('gives every acknowledged rule a reason', () => {
      const acknowledged = acknowledgments(synthesized.stack);
      expect(acknowledged.map(({ id }) => id.replace(/^Annotation::/, '')).sort()).toEqual(
        [
          // X-Ray, for every function.
          ...Object.keys(fns).map(() => 'AwsSolutions-IAM5[Resource::*]'),
          // The table's indexes, for every function but the webhook.
          ...Object.keys(fns)
            .filter((name) => name !== 'webhook')
            .map(() => `AwsSolutions-IAM5[Resource::<${table}.Arn>/index/*]`),
          // The three routes that cannot carry AWS credentials: the browser's two, and Zoom's.
          'AwsSolutions-APIG4',
          'AwsSolutions-APIG4',
          'AwsSolutions-APIG4',
          'AwsSolutions-SMG4',
          'AwsSolutions-SMG4',
        ].sort(),
      );
      for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(60);
      const webhookRoute = acknowledged.find(({ path }) => path.includes('POST--zoom--webhook'));
      expect(webhookRoute?.reason).toMatch(/x-zm-signature/);
    });
  });
});

describe('RecallZoomConnectStack with a custom domain', () => {
  const customDomain = {
    domainName: 'connect.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666',
  };
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({
      customDomain,
      recallZoomOAuthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
      returnUrlAllowlist: ['https://app.acme.test/settings/'],
      healthSyncMinutes: '5',
    });
  });

  it('uses the custom domain in the redirect URI it prints and gives to every function', () => {
    const { template, stack } = synthesized;
    template.hasOutput('ZoomRedirectUri', { Value: 'https://connect.example.com/zoom/callback' });
    const ids = Object.values(functionIds(stack));
    expect(ids).toHaveLength(6);
    for (const id of ids) {
      expect(functionProperties(template, id).Environment.Variables.ZOOM_REDIRECT_URI).toBe(
        'https://connect.example.com/zoom/callback',
      );
    }
  });

  it('uses the custom domain in the webhook URL it prints', () => {
    synthesized.template.hasOutput('ZoomWebhookUrl', { Value: 'https://connect.example.com/zoom/webhook' });
  });

  it('runs the health sync at the configured interval', () => {
    const { template, stack } = synthesized;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(stack.jobs.healthSyncFunction), 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 5 * 60 },
        }),
      ],
    });
  });

  it('serves the API on the domain with the imported certificate', () => {
    const { template } = synthesized;
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: customDomain.domainName,
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: customDomain.certificateArn, EndpointType: 'REGIONAL' })],
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::ApiMapping', {
      DomainName: Match.anyValue(),
      Stage: Match.anyValue(),
    });
    template.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    template.hasOutput('ApiUrl', { Value: 'https://connect.example.com' });
    template.hasOutput('CustomDomainTarget', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'RegionalDomainName'] } });
  });

  it('does not warn about placeholders once the app id and return URLs are set', () => {
    Annotations.fromStack(synthesized.stack).hasNoWarning('/Test', Match.stringLikeRegexp('placeholder|example'));
  });

  it('still passes the AwsSolutions checks', () => {
    expect(new AwsSolutionsChecks().validateScope(synthesized.stack).violations).toEqual([]);
  });
});

describe('RecallZoomConnectStack with an existing app secret', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({ existingAppSecretName: 'prod/recall-zoom-connect' });
  });

  it('creates only the signing key and reads the existing app secret by name', () => {
    const { template, stack } = synthesized;
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: Match.anyValue() });
    template.hasOutput('AppSecretName', { Value: 'prod/recall-zoom-connect' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ APP_SECRET_ID: 'prod/recall-zoom-connect' }) },
    });
    const statements = policyStatements(template)
      .map(({ statement }) => statement)
      .filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue'));
    const existingSecretArns = statements
      .flatMap(resourcesOf)
      .filter((resource) => JSON.stringify(resource).includes('prod/recall-zoom-connect'));
    // Imported by name, the ARN ends in Secrets Manager's random suffix: matched by "-??????", never by "*".
    // One statement per function: all six read the app secret.
    expect(existingSecretArns).toHaveLength(6);
    expect(JSON.stringify(existingSecretArns)).toContain('secret:prod/recall-zoom-connect-??????');
    expect(JSON.stringify(existingSecretArns)).not.toContain('*');
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});
