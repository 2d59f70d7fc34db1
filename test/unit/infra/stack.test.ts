import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../../functions/core/config.js';
import { lockKey } from '../../../functions/core/table-schema.js';
import { FILLED_SECRET_NAMES, FILLED_SECRETS, type FilledSecret } from '../../../functions/core/filled-secrets.js';
import { SECRETS_EXTENSION_DEFAULT_PORT } from '../../../functions/adapters/secrets-extension.js';
import { TABLE_SCHEMA } from '../../../functions/core/table-schema.js';
import {
  CALLBACK_ANSWER_MARGIN_MS,
  ROUTE_THROTTLE_DEFAULTS,
  RUNTIME_SETTINGS,
  THROTTLED_ROUTES,
  type ThrottledRoute,
} from '../../../lib/config.js';
import { RECONCILE_TIMEOUT, SCHEDULED_DELIVERY_RETRIES, WEBHOOK_WORKER } from '../../../lib/constructs/lifecycle-jobs.js';
import { projectPath } from '../../../lib/constructs/service-function.js';
import {
  actionsOf,
  acknowledgments,
  CDK_JSON_CONTEXT,
  type FunctionName,
  functionBehindRoute,
  findingsIgnoringAcknowledgements,
  functionProperties,
  logicalId,
  nagViolations,
  policyStatements,
  resourcesOf,
  roleOf,
  rolesAllowed,
  type Statement,
  stringsIn,
  SYNTH_TIMEOUT_MS,
  synthesize,
  useCdkJsonStack,
} from './helpers.js';
import { OUTBOX_STREAM } from '../../../lib/constructs/outbox-publisher.js';

const isXRayStatement = (statement: Statement) =>
  JSON.stringify(actionsOf(statement).sort()) === JSON.stringify(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);

/** How `grantsOf` writes a resource allowed only on the identity locks: `<resource> on LOCK#*`. */
const LOCKS_ONLY = ` on ${lockKey('*')}`;

/**
 * The role's grants as action -> the resources it is allowed on, every list sorted. The one condition any grant
 * may carry narrows a table action to the identity locks (`dynamodb:LeadingKeys`); such a resource reads
 * `<resource> on LOCK#*`.
 */
function grantsOf(template: Template, role: string): Record<string, string[]> {
  const grants: Record<string, string[]> = {};
  for (const { role: holder, statement } of policyStatements(template)) {
    if (holder !== role) continue;
    expect(statement.Effect).toBe('Allow');
    const suffix = statement.Condition === undefined ? '' : LOCKS_ONLY;
    if (suffix) {
      expect(statement.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [lockKey('*')] } });
      for (const action of actionsOf(statement)) expect(action).toMatch(/^dynamodb:(PutItem|DeleteItem)$/);
    }
    for (const action of actionsOf(statement)) {
      const resources = resourcesOf(statement).map((resource) => `${JSON.stringify(resource)}${suffix}`);
      grants[action] = [...(grants[action] ?? []), ...resources].sort();
    }
  }
  return grants;
}

/*
 * The stack as `cdk synth` builds it from cdk.json (shared with the other infrastructure files), which every test
 * here reads; the bundles come from the run's one bundled synth (bundled-synth.ts). Alarms and the dashboard, the API edge variants and the config schema have their own
 * files.
 */
describe('RecallZoomConnectStack with the cdk.json configuration', () => {
  const cdk = useCdkJsonStack();
  let table: string;
  /** The secrets ops fill in, by name. */
  let filled: Record<FilledSecret, string>;
  let signingKey: string;
  let stateKey: string;
  let webhookQueue: string;
  let deadLetterQueue: string;
  let eventBus: string;

  // Synth bundles every function with esbuild: generous, for a machine busy with the integration tests.
  beforeAll(() => {
    const { state, messaging } = cdk.synthesized.stack;
    table = logicalId(state.table);
    filled = {
      recallApiKey: logicalId(state.secrets.recallApiKey),
      zoomClientId: logicalId(state.secrets.zoomClientId),
      zoomWebhookSecretToken: logicalId(state.secrets.zoomWebhookSecretToken),
    };
    signingKey = logicalId(state.signingKeySecret);
    stateKey = logicalId(state.stateKeySecret);
    webhookQueue = logicalId(messaging.webhookQueue);
    deadLetterQueue = logicalId(messaging.webhookDeadLetterQueue);
    eventBus = logicalId(messaging.eventBus);
  }, SYNTH_TIMEOUT_MS);

  describe('HTTP API', () => {
    it('exposes exactly the five routes of the design', () => {
      const routeKeys = Object.values(cdk.template.findResources('AWS::ApiGatewayV2::Route')).map(
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
        cdk.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'NONE' });
      }
    });

    it('leaves POST /zoom/webhook without an authorizer, since Zoom signs its requests instead', () => {
      cdk.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: 'POST /zoom/webhook',
        AuthorizationType: 'NONE',
        AuthorizerId: Match.absent(),
      });
    });

    it('requires IAM (SigV4) authorization on GET and DELETE /connections/{userId}', () => {
      for (const routeKey of ['GET /connections/{userId}', 'DELETE /connections/{userId}']) {
        cdk.template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
      }
    });

    it('sends each route to its own function', () => {
      expect(functionBehindRoute(cdk.template, 'GET /zoom/authorize')).toBe(cdk.fns.authorize);
      expect(functionBehindRoute(cdk.template, 'GET /zoom/callback')).toBe(cdk.fns.callback);
      expect(functionBehindRoute(cdk.template, 'GET /connections/{userId}')).toBe(cdk.fns.connections);
      expect(functionBehindRoute(cdk.template, 'DELETE /connections/{userId}')).toBe(cdk.fns.connections);
      expect(functionBehindRoute(cdk.template, 'POST /zoom/webhook')).toBe(cdk.fns.webhook);
    });

    it('does not enable CORS', () => {
      cdk.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { CorsConfiguration: Match.absent() });
    });

    it('throttles each of the five routes with its own bucket, at the defaults, over the stage default', () => {
      const stages = Object.entries(cdk.template.findResources('AWS::ApiGatewayV2::Stage'));
      expect(stages).toHaveLength(1);
      const [stageId, stage] = stages[0] as [string, { Properties: Record<string, unknown>; DependsOn?: string[] }];
      expect(stage.Properties).toMatchObject({
        StageName: '$default',
        AutoDeploy: true,
        DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      });
      const routes = cdk.template.findResources('AWS::ApiGatewayV2::Route');
      const routeKeys = Object.values(routes).map((route) => route.Properties.RouteKey as string);
      expect(Object.keys(stage.Properties.RouteSettings as object).sort()).toEqual(routeKeys.sort());
      expect(stage.Properties.RouteSettings).toEqual(
        Object.fromEntries(
          (Object.keys(THROTTLED_ROUTES) as ThrottledRoute[]).flatMap((route) =>
            THROTTLED_ROUTES[route].map((key) => [
              key,
              { ThrottlingRateLimit: ROUTE_THROTTLE_DEFAULTS[route].rateLimit, ThrottlingBurstLimit: ROUTE_THROTTLE_DEFAULTS[route].burstLimit },
            ]),
          ),
        ),
      );
      // Route settings name routes, which must exist before the stage is created.
      expect(stage.DependsOn ?? [], stageId).toEqual(expect.arrayContaining(Object.keys(routes)));
    });

    it('keeps the execute-api endpoint, the only way in without a custom domain', () => {
      cdk.template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: false });
    });

    it('writes JSON access logs that never contain paths or query strings (codes, states, user ids)', () => {
      const [stage] = Object.values(cdk.template.findResources('AWS::ApiGatewayV2::Stage'));
      const format = stage?.Properties.AccessLogSettings.Format as string;
      const fields = JSON.parse(format) as Record<string, string>;
      expect(fields).toMatchObject({ requestId: '$context.requestId', routeKey: '$context.routeKey' });
      for (const field of Object.values(fields)) {
        expect(field).not.toMatch(/\$context\.(path|resourcePath)|querystring|requestOverride/i);
      }
    });

    it('sends the access logs to their own log group, kept the configured 30 days', () => {
      const [stage] = Object.values(cdk.template.findResources('AWS::ApiGatewayV2::Stage'));
      const accessLogs = logicalId(cdk.synthesized.stack.api.accessLogs);
      expect(stage?.Properties.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': [accessLogs, 'Arn'] });
      expect(cdk.template.findResources('AWS::Logs::LogGroup')[accessLogs]?.Properties.RetentionInDays).toBe(30);
    });

    it('keeps every log group, the eight functions\' and the access logs, for the configured 30 days', () => {
      const groups = Object.values(cdk.template.findResources('AWS::Logs::LogGroup'));
      expect(groups).toHaveLength(9);
      for (const group of groups) expect(group.Properties.RetentionInDays).toBe(30);
    });
  });

  describe('functions', () => {
    it('runs every function on Node.js 24, ARM64, with active tracing and JSON logs to its own log group', () => {
      const functions = cdk.template.findResources('AWS::Lambda::Function');
      expect(Object.keys(functions).sort()).toEqual(Object.values(cdk.fns).sort());
      for (const fn of Object.values(functions)) {
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          TracingConfig: { Mode: 'Active' },
          LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', LogGroup: { Ref: expect.any(String) } },
        });
        const logGroup = cdk.template.findResources('AWS::Logs::LogGroup')[fn.Properties.LoggingConfig.LogGroup.Ref];
        expect(logGroup?.Properties.RetentionInDays).toBe(30);
      }
    });

    it('gives the two functions a user waits on 1,024 MB (CPU-bound cold starts) and the others 512 MB', () => {
      const memory = Object.fromEntries(
        Object.entries(cdk.fns).map(([name, id]) => [name, functionProperties(cdk.template, id).MemorySize]),
      );
      expect(memory).toEqual({
        authorize: 1024,
        callback: 1024,
        connections: 512,
        webhook: 512,
        webhookWorker: 512,
        healthSync: 512,
        reconcile: 512,
        outboxPublisher: 512,
      });
    });

    it('ends every API-facing function inside API Gateway’s 30 s integration timeout', () => {
      for (const id of [cdk.fns.authorize, cdk.fns.callback, cdk.fns.connections, cdk.fns.webhook]) {
        expect(functionProperties(cdk.template, id).Timeout).toBeLessThan(30);
      }
      expect(functionProperties(cdk.template, cdk.fns.callback).Timeout).toBeGreaterThanOrEqual(20);
      for (const id of [cdk.fns.authorize, cdk.fns.connections]) {
        expect(functionProperties(cdk.template, id).Timeout).toBeLessThanOrEqual(10);
      }
    });

    it('gives up on a webhook delivery soon after Zoom has (Zoom waits 3 s, then retries)', () => {
      const timeout = functionProperties(cdk.template, cdk.fns.webhook).Timeout;
      expect(timeout).toBeGreaterThanOrEqual(3);
      expect(timeout).toBeLessThanOrEqual(5);
    });

    it('gives the background jobs a minute, which the queue and the schedule are sized for, and reconcile five', () => {
      expect(functionProperties(cdk.template, cdk.fns.webhookWorker).Timeout).toBe(WEBHOOK_WORKER.timeout.toSeconds());
      expect(functionProperties(cdk.template, cdk.fns.healthSync).Timeout).toBe(60);
      // A listing paced to 30 calls a minute, confirmations and repairs: minutes, not seconds, and never overlapping
      // the next run (at least 10 minutes apart).
      expect(functionProperties(cdk.template, cdk.fns.reconcile).Timeout).toBe(RECONCILE_TIMEOUT.toSeconds());
      expect(RECONCILE_TIMEOUT.toMinutes()).toBe(5);
    });

    /** The deployed bundle of a function (from the run's bundled synth) and the `sources` of its source map. */
    const assetOf = (id: string) => {
      const assemblyDir = inject('bundledAssemblyDir');
      const bundled = JSON.parse(readFileSync(path.join(assemblyDir, 'Test.template.json'), 'utf8')) as {
        Resources: Record<string, { Properties: { Code: { S3Key: string } } }>;
      };
      const assetHash = bundled.Resources[id]?.Properties.Code.S3Key.replace(/\.zip$/, '');
      const assetDir = path.join(assemblyDir, `asset.${assetHash}`);
      const map = JSON.parse(readFileSync(path.join(assetDir, 'index.mjs.map'), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      return { files: readdirSync(assetDir).sort(), bundle: readFileSync(path.join(assetDir, 'index.mjs'), 'utf8'), map };
    };
    const isAwsSdk = (source: string) => /node_modules\/@(aws-sdk|smithy)\//.test(source);

    it('bundles each handler as a minified ESM module, names kept, with a source map beside it and the AWS SDK inside', () => {
      for (const id of Object.values(cdk.fns)) {
        expect(functionProperties(cdk.template, id).Handler).toBe('index.handler');
        const { files, bundle, map } = assetOf(id);
        expect(files).toEqual(['index.mjs', 'index.mjs.map']);
        // For offline symbolication: file names and lines, not the sources.
        expect(map.sources.length).toBeGreaterThan(10);
        expect(map.sourcesContent).toBeUndefined();
        // CommonJS dependencies inside the ESM bundle call `require`; the banner provides it.
        expect(bundle.startsWith('import { createRequire')).toBe(true);
        expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//);
        // keepNames: a minified function keeps its name (every handler loads its config with this one).
        expect(bundle).toContain('"loadConfig"');
      }
    });

    it('starts Node without --enable-source-maps, which parses the map on every cold start', () => {
      for (const id of Object.values(cdk.fns)) {
        expect(functionProperties(cdk.template, id).Environment.Variables).not.toHaveProperty('NODE_OPTIONS');
      }
    });

    it('leaves the AWS SDK out of authorize entirely (secrets come through the extension), and in the others', () => {
      expect(assetOf(cdk.fns.authorize).map.sources.filter(isAwsSdk)).toEqual([]);
      for (const name of ['callback', 'connections', 'webhook', 'webhookWorker', 'healthSync', 'reconcile'] as const) {
        expect(assetOf(cdk.fns[name]).map.sources.some(isAwsSdk), name).toBe(true);
      }
    });

    it('attaches the Parameters and Secrets extension to authorize only, on the port its runtime reads', () => {
      const authorize = functionProperties(cdk.template, cdk.fns.authorize);
      // The pinned version 1.0.103, for ARM64, in the stack's region (CDK maps each region to AWS's layer there).
      expect(authorize.Layers).toEqual([{ 'Fn::FindInMap': [expect.any(String), { Ref: 'AWS::Region' }, '1x0x103xarm64'] }]);
      const [layerMap] = (authorize.Layers?.[0] as { 'Fn::FindInMap': [string] })['Fn::FindInMap'];
      const layerArns = (cdk.template.toJSON().Mappings as Record<string, Record<string, Record<string, string>>>)[layerMap];
      for (const region of ['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1']) {
        expect(layerArns?.[region]?.['1x0x103xarm64']).toMatch(
          new RegExp(`^arn:aws:lambda:${region}:\\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\\d+$`),
        );
      }
      expect(authorize.Environment.Variables).toMatchObject({
        // CDK's name for the variable, and the runtime's default port (secrets-extension.ts) held to the same value.
        PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(SECRETS_EXTENSION_DEFAULT_PORT),
        // The runtime caches and re-reads on rotation itself; a second cache would hide a rotated key.
        PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED: 'false',
        PARAMETERS_SECRETS_EXTENSION_LOG_LEVEL: 'warn',
      });
      // The token the extension requires is the function's own AWS_SESSION_TOKEN, which Lambda sets: never the stack.
      expect(authorize.Environment.Variables).not.toHaveProperty('AWS_SESSION_TOKEN');
      for (const name of ['callback', 'connections', 'webhook', 'webhookWorker', 'healthSync', 'reconcile'] as const) {
        const { Layers, Environment } = functionProperties(cdk.template, cdk.fns[name]);
        expect(Layers, name).toBeUndefined();
        const extensionVariables = Object.keys(Environment.Variables).filter((key) =>
          /^(PARAMETERS_SECRETS|SECRETS_MANAGER|SSM_PARAMETER)/.test(key),
        );
        expect(extensionVariables, name).toEqual([]);
      }
    });

    it('gives every function the runtime configuration it reads, with one redirect URI', () => {
      const redirectUri = cdk.template.toJSON().Outputs.ZoomRedirectUri.Value;
      for (const id of Object.values(cdk.fns)) {
        expect(functionProperties(cdk.template, id).Environment.Variables).toMatchObject({
          ZOOM_REDIRECT_URI: redirectUri,
          ZOOM_AUTHORIZE_URL: 'https://zoom.us/oauth/authorize',
          RECALL_REGION: 'us-east-1',
          RECALL_ZOOM_OAUTH_APP_ID: CDK_JSON_CONTEXT.recallZoomOAuthAppId,
          RETURN_URL_ALLOWLIST: (CDK_JSON_CONTEXT.returnUrlAllowlist as string[]).join(','),
          POWERTOOLS_SERVICE_NAME: 'recall-zoom-connect',
          POWERTOOLS_LOG_LEVEL: 'INFO',
          // How every function calls Recall, from the deploy config's defaults.
          RECALL_TIMEOUT_MS: '5000',
          RECALL_MAX_ATTEMPTS: '3',
          RECALL_BACKOFF_BASE_MS: '200',
          RECALL_BACKOFF_MAX_MS: '4000',
        });
      }
    });

    it('gives the callback its deadline and reconcile its settings, and no other function either', () => {
      const variables = (name: FunctionName) => functionProperties(cdk.template, cdk.fns[name]).Environment.Variables;
      for (const [name, id] of Object.entries(cdk.fns)) {
        const own = Object.keys(variables(name as FunctionName)).filter((key) =>
          ['CALLBACK_DEADLINE_MS', 'RECONCILE_FIX', 'RECONCILE_ORPHAN_GRACE_SECONDS'].includes(key),
        );
        expect(own, id).toEqual(
          name === 'callback' ? ['CALLBACK_DEADLINE_MS'] : name === 'reconcile' ? ['RECONCILE_FIX', 'RECONCILE_ORPHAN_GRACE_SECONDS'] : [],
        );
      }
      expect(variables('callback').CALLBACK_DEADLINE_MS).toBe('20000');
      // Report only, unless the deploy config says otherwise.
      expect(variables('reconcile')).toMatchObject({ RECONCILE_FIX: 'false', RECONCILE_ORPHAN_GRACE_SECONDS: '900' });
    });

    it('gives authorize, and only authorize, the connect token lifetime cap; the callback no install landing unless configured', () => {
      const variables = (name: FunctionName) => functionProperties(cdk.template, cdk.fns[name]).Environment.Variables;
      for (const name of Object.keys(cdk.fns) as FunctionName[]) {
        expect(variables(name).CONNECT_TOKEN_MAX_TTL_SECONDS, name).toBe(name === 'authorize' ? '900' : undefined);
        expect(variables(name).INSTALL_LANDING_URL, name).toBeUndefined();
      }
    });

    it('ends the callback\'s own deadline early enough to answer before its Lambda timeout', () => {
      const { Timeout, Environment } = functionProperties(cdk.template, cdk.fns.callback);
      expect(Number(Environment.Variables.CALLBACK_DEADLINE_MS)).toBeLessThanOrEqual(Timeout * 1000 - CALLBACK_ANSWER_MARGIN_MS);
      expect(RUNTIME_SETTINGS.callbackDeadlineMs.max).toBeLessThanOrEqual(Timeout * 1000 - CALLBACK_ANSWER_MARGIN_MS);
    });

    it('binds to each function exactly the table, keys, bus and queue it uses', () => {
      const bound = (name: FunctionName) =>
        ['TABLE_NAME', 'SIGNING_KEY_SECRET_ID', 'STATE_KEY_SECRET_ID', 'EVENT_BUS_NAME', 'WEBHOOK_QUEUE_URL'].filter(
          (variable) => variable in functionProperties(cdk.template, cdk.fns[name]).Environment.Variables,
        );
      // Authorize keeps nothing server-side (the attempt is sealed in its cookie) and the webhook only queues: no table.
      expect(bound('authorize')).toEqual(['SIGNING_KEY_SECRET_ID', 'STATE_KEY_SECRET_ID']);
      // Only the outbox publisher is given the bus: every other function stores its events with its writes.
      expect(bound('callback')).toEqual(['TABLE_NAME', 'STATE_KEY_SECRET_ID']);
      expect(bound('connections')).toEqual(['TABLE_NAME']);
      expect(bound('webhook')).toEqual(['WEBHOOK_QUEUE_URL']);
      expect(bound('webhookWorker')).toEqual(['TABLE_NAME']);
      expect(bound('healthSync')).toEqual(['TABLE_NAME']);
      expect(bound('reconcile')).toEqual(['TABLE_NAME']);
      expect(bound('outboxPublisher')).toEqual(['TABLE_NAME', 'EVENT_BUS_NAME']);

      const variables = (name: FunctionName) => functionProperties(cdk.template, cdk.fns[name]).Environment.Variables;
      for (const name of ['callback', 'connections', 'webhookWorker', 'healthSync', 'reconcile', 'outboxPublisher'] as const) {
        expect(variables(name).TABLE_NAME).toEqual({ Ref: table });
      }
      expect(variables('authorize').SIGNING_KEY_SECRET_ID).toEqual({ Ref: signingKey });
      for (const name of ['authorize', 'callback'] as const) {
        expect(variables(name).STATE_KEY_SECRET_ID).toEqual({ Ref: stateKey });
      }
      // Ref of a bus is its name; Ref of a queue is its URL.
      expect(variables('outboxPublisher').EVENT_BUS_NAME).toEqual({ Ref: eventBus });
      expect(variables('webhook').WEBHOOK_QUEUE_URL).toEqual({ Ref: webhookQueue });
    });

    it('gives every function an environment the shared runtime config accepts at init', () => {
      // Deploy-time values CloudFormation fills in; everything else is checked exactly as synthesized.
      const deployed: Record<string, string> = {
        TABLE_NAME: 'Test-StateTable-ABC',
        ZOOM_REDIRECT_URI: 'https://abc123.execute-api.us-east-1.amazonaws.com/zoom/callback',
        RECALL_API_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:recall-zoom-connect/recall-api-key-AbCdEf',
        ZOOM_CLIENT_ID_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:recall-zoom-connect/zoom-client-id-AbCdEf',
        ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID:
          'arn:aws:secretsmanager:us-east-1:123456789012:secret:recall-zoom-connect/zoom-webhook-secret-token-AbCdEf',
        SIGNING_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKey-GhIjKl',
        STATE_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:StateKey-MnOpQr',
        EVENT_BUS_NAME: 'Test-connections',
        WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/Test-WebhookQueue-ABC',
      };
      for (const [name, id] of Object.entries(cdk.fns)) {
        const variables = functionProperties(cdk.template, id).Environment.Variables;
        const env = Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : deployed[key]]),
        );
        expect(Object.values(env)).not.toContain(undefined);
        const config = loadConfig(env);
        expect(config.tableName).toBe(['authorize', 'webhook'].includes(name) ? undefined : deployed.TABLE_NAME);
        expect(config.secrets).toEqual({
          source: 'secrets-manager',
          secretIds: {
            ...(['callback', 'connections', 'webhookWorker', 'healthSync', 'reconcile', 'outboxPublisher'].includes(name)
              ? { recallApiKey: deployed.RECALL_API_KEY_SECRET_ID }
              : {}),
            ...(['authorize', 'callback'].includes(name) ? { zoomClientId: deployed.ZOOM_CLIENT_ID_SECRET_ID } : {}),
            ...(name === 'webhook' ? { zoomWebhookSecretToken: deployed.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID } : {}),
          },
          ...(name === 'authorize' ? { signingKeySecretId: deployed.SIGNING_KEY_SECRET_ID } : {}),
          ...(['authorize', 'callback'].includes(name) ? { stateKeySecretId: deployed.STATE_KEY_SECRET_ID } : {}),
        });
        expect(config.eventBusName).toBe(
          name === 'outboxPublisher' ? deployed.EVENT_BUS_NAME : undefined,
        );
        expect(config.webhookQueueUrl).toBe(name === 'webhook' ? deployed.WEBHOOK_QUEUE_URL : undefined);
        expect(config.recall).toEqual({ timeoutMs: 5_000, maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 4_000 });
        expect(config.reconcile).toEqual({ fix: false, orphanGraceSeconds: 900 });
      }
    });

    it('gives each handler what it requires at init, and the extension to the one that reads secrets through it', () => {
      // What each handler's module scope calls (functions/handlers/<name>/handler.ts and the composition roots it builds
      // from, functions/handlers/composition/), against what the stack gives it: a handler that requires the table or
      // the state key fails every cold start without it.
      const directories: Record<FunctionName, string> = {
        authorize: 'authorize',
        callback: 'callback',
        connections: 'connections',
        webhook: 'webhook',
        webhookWorker: 'webhook-worker',
        healthSync: 'health-sync',
        reconcile: 'reconcile',
        outboxPublisher: 'outbox-publisher',
      };
      for (const [name, directory] of Object.entries(directories) as [FunctionName, string][]) {
        const source = withCompositionRoots(projectPath(`functions/handlers/${directory}/handler.ts`));
        const { Environment, Layers } = functionProperties(cdk.template, cdk.fns[name]);
        const has = (variable: string) => variable in Environment.Variables;
        expect(has('TABLE_NAME'), `${name}: TABLE_NAME`).toBe(source.includes('requireTableName(config)'));
        expect(has('STATE_KEY_SECRET_ID'), `${name}: STATE_KEY_SECRET_ID`).toBe(/requireStateKey\(config/.test(source));
        expect(Layers !== undefined, `${name}: extension layer`).toBe(source.includes('extensionSecretReader('));
      }
    });

    /** A handler's source followed by the composition roots it imports, directly or through another root. */
    function withCompositionRoots(file: string, seen = new Set<string>()): string {
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      const roots = [...source.matchAll(/from '((?:\.\.\/composition|\.)\/[\w-]+)\.js'/g)]
        .map(([, relative]) => path.resolve(path.dirname(file), `${relative}.ts`))
        .filter((root) => root.includes(`${path.sep}composition${path.sep}`) && !seen.has(root));
      return [source, ...roots.map((root) => withCompositionRoots(root, seen))].join('\n');
    }

    it('never puts a secret value in a function environment', () => {
      for (const id of Object.values(cdk.fns)) {
        const variables = functionProperties(cdk.template, id).Environment.Variables;
        const localOnly = ['RECALL_API_KEY', 'ZOOM_CLIENT_ID', 'ZOOM_WEBHOOK_SECRET_TOKEN', 'CONNECT_SIGNING_KEY', 'STATE_ENCRYPTION_KEY'];
        for (const name of localOnly) {
          expect(variables).not.toHaveProperty(name);
        }
        expect(JSON.stringify(variables)).not.toContain('REPLACE_ME');
      }
    });
  });

  describe('table', () => {
    it('is on-demand, expires items by TTL, keeps point-in-time recovery and is protected from deletion', () => {
      cdk.template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
      cdk.template.hasResource('AWS::DynamoDB::GlobalTable', {
        DeletionPolicy: 'RetainExceptOnCreate',
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

    it('indexes connections by Zoom identity and by status, and waiting outbox entries by age, as the repositories expect', () => {
      const indexes = [TABLE_SCHEMA.zoomIdentityIndex, TABLE_SCHEMA.statusIndex, TABLE_SCHEMA.outboxIndex];
      expect(indexes.map(({ name }) => name)).toEqual(['byZoomIdentity', 'byStatus', 'byOutbox']);
      const [globalTable] = Object.values(cdk.template.findResources('AWS::DynamoDB::GlobalTable'));
      const attributes = globalTable?.Properties.AttributeDefinitions as { AttributeName: string; AttributeType: string }[];
      expect(attributes.sort((a, b) => a.AttributeName.localeCompare(b.AttributeName))).toEqual(
        ['outboxPending', 'outboxSince', 'pk', 'status', 'zoomIdentity'].map((name) => ({ AttributeName: name, AttributeType: 'S' })),
      );
      cdk.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
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
    const queueProperties = (id: string) => cdk.template.findResources('AWS::SQS::Queue')[id]?.Properties;

    it('keeps verified events for the worker four days, encrypted, and dead-letters them after 5 receives', () => {
      cdk.template.resourceCountIs('AWS::SQS::Queue', 5);
      expect(queueProperties(webhookQueue)).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 4 * 24 * 3600,
        RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] }, maxReceiveCount: 5 },
      });
    });

    it('hides a record in flight for at least six worker timeouts plus the batching window', () => {
      const { timeout, maxBatchingWindow } = WEBHOOK_WORKER;
      expect(queueProperties(webhookQueue)?.VisibilityTimeout).toBeGreaterThanOrEqual(
        6 * functionProperties(cdk.template, cdk.fns.webhookWorker).Timeout + maxBatchingWindow.toSeconds(),
      );
      expect(functionProperties(cdk.template, cdk.fns.webhookWorker).Timeout).toBe(timeout.toSeconds());
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
        cdk.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
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
      cdk.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
      cdk.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [webhookQueue, 'Arn'] },
        FunctionName: { Ref: cdk.fns.webhookWorker },
        BatchSize: 10,
        MaximumBatchingWindowInSeconds: WEBHOOK_WORKER.maxBatchingWindow.toSeconds(),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: WEBHOOK_WORKER.maxConcurrency },
      });
      expect(WEBHOOK_WORKER.maxBatchingWindow.toSeconds()).toBeLessThanOrEqual(5);
    });
  });

  describe('lifecycle events: the outbox', () => {
    it('streams every table write with its old and new image, for the publisher to tell the entries a write added', () => {
      cdk.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      });
    });

    it('feeds the stream to the publisher with bisect on error, partial batch failures, bounded retry and an on-failure DLQ', () => {
      const { stack } = cdk.synthesized;
      cdk.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: { 'Fn::GetAtt': [table, 'StreamArn'] },
        FunctionName: { Ref: cdk.fns.outboxPublisher },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: OUTBOX_STREAM.batchSize,
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        MaximumRetryAttempts: OUTBOX_STREAM.retryAttempts,
        MaximumRecordAgeInSeconds: OUTBOX_STREAM.maxRecordAge.toSeconds(),
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.outbox.deadLetterQueue), 'Arn'] } } },
        // Only writes that left an entry waiting invoke it.
        FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ dynamodb: { NewImage: { outboxPending: { S: [{ exists: true }] } } } }) }] },
      });
      expect(OUTBOX_STREAM.retryAttempts).toBeGreaterThan(0);
      expect(OUTBOX_STREAM.retryAttempts).toBeLessThanOrEqual(10);
    });

    it('sweeps every 5 minutes for entries the stream left 3 minutes or more, with the same dead-letter queue', () => {
      const { stack } = cdk.synthesized;
      const queue = logicalId(stack.outbox.deadLetterQueue);
      cdk.template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'rate(5 minutes)',
        Targets: [
          Match.objectLike({
            Arn: { 'Fn::GetAtt': [cdk.fns.outboxPublisher, 'Arn'] },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } },
            RetryPolicy: { MaximumEventAgeInSeconds: 300, MaximumRetryAttempts: 2 },
          }),
        ],
      });
      expect(functionProperties(cdk.template, cdk.fns.outboxPublisher).Environment.Variables.OUTBOX_SWEEP_MIN_AGE_SECONDS).toBe('180');
      expect(functionProperties(cdk.template, cdk.fns.outboxPublisher).DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] } });
    });

    it('alarms while the outbox dead-letter queue holds anything', () => {
      const { stack } = cdk.synthesized;
      cdk.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: 'Test-OutboxDeadLetters',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack.outbox.deadLetterQueue), 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      });
    });
  });

  describe('events and schedules', () => {
    it('creates one lifecycle event bus, named after the stack', () => {
      cdk.template.resourceCountIs('AWS::Events::EventBus', 1);
      cdk.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'Test-connections' });
    });

    it('schedules exactly the two jobs and the outbox sweep, and gives only them a dead-letter queue (the others are invoked synchronously)', () => {
      cdk.template.resourceCountIs('AWS::Events::Rule', 3);
      for (const name of ['authorize', 'callback', 'connections', 'webhook', 'webhookWorker'] as const) {
        expect(functionProperties(cdk.template, cdk.fns[name]).DeadLetterConfig).toBeUndefined();
      }
    });

    describe.each([
      { job: 'health sync', name: 'healthSync', rule: 'HealthSyncSchedule', minutes: 15, expression: 'rate(15 minutes)' },
      { job: 'reconcile', name: 'reconcile', rule: 'ReconcileSchedule', minutes: 60, expression: 'rate(1 hour)' },
    ] as const)('the $job', ({ name, rule, minutes, expression }) => {
      const queueOf = () => {
        const { jobs } = cdk.synthesized.stack;
        return logicalId(name === 'healthSync' ? jobs.healthSyncDeadLetterQueue : jobs.reconcile.deadLetterQueue);
      };

      it(`runs every ${minutes} minutes by default, retries delivery within the interval, then dead-letters`, () => {
        cdk.template.hasResourceProperties('AWS::Events::Rule', {
          ScheduleExpression: expression,
          State: 'ENABLED',
          Targets: [
            Match.objectLike({
              Arn: { 'Fn::GetAtt': [cdk.fns[name], 'Arn'] },
              RetryPolicy: { MaximumEventAgeInSeconds: minutes * 60, MaximumRetryAttempts: SCHEDULED_DELIVERY_RETRIES },
              DeadLetterConfig: { Arn: { 'Fn::GetAtt': [queueOf(), 'Arn'] } },
            }),
          ],
        });
        cdk.template.hasResourceProperties('AWS::Lambda::Permission', {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': [cdk.fns[name], 'Arn'] },
          Principal: 'events.amazonaws.com',
          SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp(rule), 'Arn'] },
        });
      });

      it('dead-letters a run that failed Lambda\'s asynchronous retries into the same queue', () => {
        expect(functionProperties(cdk.template, cdk.fns[name]).DeadLetterConfig).toEqual({
          TargetArn: { 'Fn::GetAtt': [queueOf(), 'Arn'] },
        });
      });

      it('lets only its schedule put into its dead-letter queue, over TLS, encrypted', () => {
        expect(cdk.template.findResources('AWS::SQS::Queue')[queueOf()]?.Properties).toMatchObject({ SqsManagedSseEnabled: true });
        cdk.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueOf() }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
              Match.objectLike({
                Effect: 'Allow',
                Action: 'sqs:SendMessage',
                Principal: { Service: 'events.amazonaws.com' },
                Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp(rule), 'Arn'] } } },
              }),
            ]),
          },
        });
      });
    });
  });

  describe('secrets', () => {
    it('creates one secret per value ops fill in, named under the prefix, holding only the placeholder, kept on deletion', () => {
      const secrets = cdk.template.findResources('AWS::SecretsManager::Secret');
      const names = Object.fromEntries(
        Object.entries(filled).map(([name, id]) => [name, secrets[id]?.Properties.Name as string]),
      );
      expect(names).toEqual({
        recallApiKey: 'recall-zoom-connect/recall-api-key',
        zoomClientId: 'recall-zoom-connect/zoom-client-id',
        zoomWebhookSecretToken: 'recall-zoom-connect/zoom-webhook-secret-token',
      });
      for (const id of Object.values(filled)) {
        // The bare placeholder, not JSON: each secret holds one value.
        expect(secrets[id]?.Properties.SecretString).toBe('REPLACE_ME');
        expect(secrets[id]).toMatchObject({ DeletionPolicy: 'RetainExceptOnCreate', UpdateReplacePolicy: 'Retain' });
      }
    });

    it('generates the signing key and the state key: 64 letters and digits, the secret string the key itself', () => {
      const secrets = cdk.template.findResources('AWS::SecretsManager::Secret');
      expect(Object.keys(secrets).sort()).toEqual([...Object.values(filled), signingKey, stateKey].sort());
      for (const key of [signingKey, stateKey]) {
        // Exactly these settings: no template or key, so the SecretString is the 64 characters themselves.
        expect(secrets[key]?.Properties.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true });
        expect(secrets[key]?.Properties.SecretString).toBeUndefined();
      }
    });

    it('deletes the generated keys with the stack (a new stack generates new ones)', () => {
      const secrets = cdk.template.findResources('AWS::SecretsManager::Secret');
      for (const key of [signingKey, stateKey]) {
        expect(secrets[key]).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
      }
    });
  });

  describe('IAM: every function its own role, with exactly what it uses', () => {
    const ref = (id: string) => JSON.stringify({ Ref: id });
    const arn = (id: string) => JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] });
    let tableArn: string;
    let index: (name: string) => string;
    let recallApiKeyRef: string;
    let zoomClientIdRef: string;
    let webhookTokenRef: string;
    let signingKeyRef: string;
    let stateKeyRef: string;
    let webhookQueueArn: string;
    let healthSyncDeadLetterQueueArn: string;
    let eventBusArn: string;

    beforeAll(() => {
      const { stack } = cdk.synthesized;
      tableArn = arn(logicalId(stack.state.table));
      index = (name) =>
        JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack.state.table), 'Arn'] }, `/index/${name}`]] });
      recallApiKeyRef = ref(filled.recallApiKey);
      zoomClientIdRef = ref(filled.zoomClientId);
      webhookTokenRef = ref(filled.zoomWebhookSecretToken);
      signingKeyRef = ref(logicalId(stack.state.signingKeySecret));
      stateKeyRef = ref(logicalId(stack.state.stateKeySecret));
      webhookQueueArn = arn(logicalId(stack.messaging.webhookQueue));
      healthSyncDeadLetterQueueArn = arn(logicalId(stack.jobs.healthSyncDeadLetterQueue));
      eventBusArn = arn(logicalId(stack.messaging.eventBus));
    });

    /** What every function's role holds besides its own grants: its own log group, and X-Ray. */
    const baseline = (fn: string) => {
      const logGroup = arn(functionProperties(cdk.template, fn).LoggingConfig.LogGroup.Ref);
      return {
        'logs:CreateLogStream': [logGroup],
        'logs:PutLogEvents': [logGroup],
        'xray:PutTraceSegments': ['"*"'],
        'xray:PutTelemetryRecords': ['"*"'],
      };
    };
    /** The function's role allows exactly `own`, besides the baseline every role has. */
    const expectGrants = (fn: FunctionName, own: Record<string, string[]>) =>
      expect(grantsOf(cdk.template, roleOf(cdk.template, cdk.fns[fn]))).toEqual({ ...baseline(cdk.fns[fn]), ...own });
    /** Taking and releasing identity locks: a put and a delete of LOCK#<identity>, never of a connection record. */
    const identityLocks = () => ({
      'dynamodb:PutItem': [`${tableArn}${LOCKS_ONLY}`],
      'dynamodb:DeleteItem': [`${tableArn}${LOCKS_ONLY}`],
    });

    it('gives each of the eight functions a role of its own, assumable by Lambda only, with no managed policy', () => {
      const roles = Object.values(cdk.fns).map((fn) => roleOf(cdk.template, fn));
      expect(new Set(roles).size).toBe(8);
      const allRoles = cdk.template.findResources('AWS::IAM::Role');
      expect(Object.keys(allRoles).sort()).toEqual([...roles].sort());
      for (const role of Object.values(allRoles)) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
        expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
          { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
        ]);
      }
    });

    it('authorize: reads the Zoom client id, the signing key and the state key, and nothing else (no table, no Recall key)', () => {
      expectGrants('authorize', {
        'secretsmanager:GetSecretValue': [zoomClientIdRef, signingKeyRef, stateKeyRef].sort(),
      });
    });

    it('callback: uses a state once (put), reads and records connections under the identity lock, publishes nothing', () => {
      // It deletes nothing but its own lock: a used state is a conditional put, a record is updated, never removed.
      expectGrants('callback', {
        'dynamodb:GetItem': [tableArn],
        'dynamodb:PutItem': [tableArn],
        'dynamodb:UpdateItem': [tableArn],
        'dynamodb:DeleteItem': [`${tableArn}${LOCKS_ONLY}`],
        'dynamodb:Query': [index('byZoomIdentity')],
        'secretsmanager:GetSecretValue': [recallApiKeyRef, zoomClientIdRef, stateKeyRef].sort(),
      });
    });

    it('lets each secret be read by exactly the functions that read it, and the Recall API key by none that never call Recall', () => {
      const readers = (secret: string) =>
        Object.entries(cdk.fns)
          .filter(([, fn]) => (grantsOf(cdk.template, roleOf(cdk.template, fn))['secretsmanager:GetSecretValue'] ?? []).includes(ref(secret)))
          .map(([name]) => name)
          .sort();
      expect({
        recallApiKey: readers(filled.recallApiKey),
        zoomClientId: readers(filled.zoomClientId),
        zoomWebhookSecretToken: readers(filled.zoomWebhookSecretToken),
        signingKey: readers(signingKey),
        stateKey: readers(stateKey),
      }).toEqual({
        recallApiKey: ['callback', 'connections', 'healthSync', 'outboxPublisher', 'reconcile', 'webhookWorker'],
        zoomClientId: ['authorize', 'callback'],
        zoomWebhookSecretToken: ['webhook'],
        signingKey: ['authorize'],
        stateKey: ['authorize', 'callback'],
      });
      // Each function is told the id of exactly the secrets it may read, under the variable the runtime reads.
      for (const [name, fn] of Object.entries(cdk.fns)) {
        const variables = functionProperties(cdk.template, fn).Environment.Variables;
        const told = FILLED_SECRET_NAMES.filter((secret) => FILLED_SECRETS[secret].variable in variables);
        const allowed = FILLED_SECRET_NAMES.filter((secret) =>
          (grantsOf(cdk.template, roleOf(cdk.template, fn))['secretsmanager:GetSecretValue'] ?? []).includes(ref(filled[secret])),
        );
        expect(told, name).toEqual(allowed);
        for (const secret of told) expect(variables[FILLED_SECRETS[secret].variable]).toEqual({ Ref: filled[secret] });
      }
    });

    it('lets only authorize and the callback read the state key, every version stage of it (no condition)', () => {
      const readers = policyStatements(cdk.template).filter(
        ({ statement }) =>
          actionsOf(statement).includes('secretsmanager:GetSecretValue') && JSON.stringify(statement.Resource).includes(stateKey),
      );
      const authorizeAndCallback = [roleOf(cdk.template, cdk.fns.authorize), roleOf(cdk.template, cdk.fns.callback)];
      expect(readers.map(({ role }) => role).sort()).toEqual(authorizeAndCallback.sort());
      for (const { statement } of readers) {
        // The secret's own ARN: GetSecretValue on it covers AWSCURRENT and AWSPREVIOUS alike.
        expect(statement.Resource).toEqual({ Ref: stateKey });
        expect(statement.Condition).toBeUndefined();
      }
    });

    it('connections: reads and ends a connection, checks who else shares its credential, publishes nothing', () => {
      expectGrants('connections', {
        'dynamodb:GetItem': [tableArn],
        'dynamodb:UpdateItem': [tableArn],
        'dynamodb:Query': [index('byZoomIdentity')],
        'secretsmanager:GetSecretValue': [recallApiKeyRef],
      });
    });

    it('webhook: reads the webhook Secret Token alone and sends to the webhook queue, with no table access at all', () => {
      expectGrants('webhook', {
        'secretsmanager:GetSecretValue': [webhookTokenRef],
        'sqs:SendMessage': [webhookQueueArn],
      });
    });

    it('webhook worker: consumes the webhook queue, revokes by Zoom identity, publishes nothing', () => {
      expectGrants('webhookWorker', {
        'sqs:ReceiveMessage': [webhookQueueArn],
        'sqs:DeleteMessage': [webhookQueueArn],
        'sqs:GetQueueAttributes': [webhookQueueArn],
        'dynamodb:UpdateItem': [tableArn],
        'dynamodb:Query': [index('byZoomIdentity')],
        'secretsmanager:GetSecretValue': [recallApiKeyRef],
      });
    });

    it('health sync: queries by status and identity, updates statuses, publishes nothing, and may dead-letter its run', () => {
      expectGrants('healthSync', {
        'dynamodb:UpdateItem': [tableArn],
        'dynamodb:Query': [index('byStatus'), index('byZoomIdentity')].sort(),
        'secretsmanager:GetSecretValue': [recallApiKeyRef],
        'sqs:SendMessage': [healthSyncDeadLetterQueueArn],
      });
    });

    it('reconcile: queries by status and identity, updates records, takes and releases locks only, may dead-letter its run', () => {
      const reconcileDeadLetterQueueArn = arn(logicalId(cdk.synthesized.stack.jobs.reconcile.deadLetterQueue));
      expectGrants('reconcile', {
        'dynamodb:UpdateItem': [tableArn],
        ...identityLocks(),
        'dynamodb:Query': [index('byStatus'), index('byZoomIdentity')].sort(),
        'secretsmanager:GetSecretValue': [recallApiKeyRef],
        'sqs:SendMessage': [reconcileDeadLetterQueueArn],
      });
    });

    it('outbox publisher: reads its stream, publishes, removes entries, moves records under the identity lock, may dead-letter', () => {
      const { stack } = cdk.synthesized;
      const streamArn = JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.state.table), 'StreamArn'] });
      expectGrants('outboxPublisher', {
        'dynamodb:DescribeStream': [streamArn],
        'dynamodb:GetRecords': [streamArn],
        'dynamodb:GetShardIterator': [streamArn],
        'dynamodb:ListStreams': [streamArn],
        'dynamodb:GetItem': [tableArn],
        'dynamodb:UpdateItem': [tableArn],
        ...identityLocks(),
        'dynamodb:Query': [index('byOutbox'), index('byZoomIdentity')].sort(),
        'secretsmanager:GetSecretValue': [recallApiKeyRef],
        'events:PutEvents': [eventBusArn],
        // Twice: as the function's own dead-letter queue (a failed sweep run), and as the stream mapping's on-failure
        // destination, whose grant (SqsDlq) adds the two reads Lambda makes before it sends.
        'sqs:SendMessage': [arn(logicalId(stack.outbox.deadLetterQueue)), arn(logicalId(stack.outbox.deadLetterQueue))],
        'sqs:GetQueueAttributes': [arn(logicalId(stack.outbox.deadLetterQueue))],
        'sqs:GetQueueUrl': [arn(logicalId(stack.outbox.deadLetterQueue))],
      });
    });

    it('lets only the outbox publisher put events on the bus, and gives the bus no resource policy', () => {
      expect([...rolesAllowed(cdk.template, 'events:PutEvents').keys()]).toEqual([roleOf(cdk.template, cdk.fns.outboxPublisher)]);
      cdk.template.resourceCountIs('AWS::Events::EventBusPolicy', 0);
      expect(JSON.stringify(cdk.template.findResources('AWS::Events::EventBus'))).not.toContain('Policy');
    });

    it('narrows only lock actions with a condition, and only to keys that lockKey builds', () => {
      const conditioned = policyStatements(cdk.template).filter(({ statement }) => statement.Condition !== undefined);
      expect([...new Set(conditioned.map(({ role }) => role))].sort()).toEqual(
        [roleOf(cdk.template, cdk.fns.callback), roleOf(cdk.template, cdk.fns.reconcile), roleOf(cdk.template, cdk.fns.outboxPublisher)].sort(),
      );
      expect(lockKey('user#zu-1')).toBe('LOCK#user#zu-1');
      expect(lockKey('*')).toBe('LOCK#*');
    });

    it('has no "*" action and no wildcard resource anywhere but the X-Ray statement, which allows nothing narrower', () => {
      const statements = policyStatements(cdk.template);
      expect(statements.length).toBeGreaterThan(30);
      let xray = 0;
      for (const { statement } of statements) {
        for (const action of actionsOf(statement)) expect(action, JSON.stringify(statement)).not.toContain('*');
        if (isXRayStatement(statement)) {
          expect(statement.Resource).toBe('*');
          xray++;
          continue;
        }
        for (const part of stringsIn(statement.Resource)) expect(part, JSON.stringify(statement)).not.toContain('*');
      }
      expect(xray).toBe(8);
    });

    it('never grants anything on the webhook dead-letter queue: only SQS redrive and ops touch it', () => {
      const deadLetterQueue = logicalId(cdk.synthesized.stack.messaging.webhookDeadLetterQueue);
      expect(JSON.stringify(policyStatements(cdk.template))).not.toContain(deadLetterQueue);
    });
  });

  describe('outputs', () => {
    it('prints the redirect URI derived from the API endpoint', () => {
      cdk.template.hasOutput('ZoomRedirectUri', {
        Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('HttpApi'), 'ApiEndpoint'] }, '/zoom/callback']] },
      });
    });

    it('prints where connect links point: /zoom/authorize beside the redirect URI', () => {
      cdk.template.hasOutput('ConnectUrl', {
        Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('HttpApi'), 'ApiEndpoint'] }, '/zoom/authorize']] },
      });
    });

    it('prints the webhook URL and which two Zoom console fields it goes in', () => {
      cdk.template.hasOutput('ZoomWebhookUrl', {
        Description: Match.stringLikeRegexp('Event notification endpoint URL.*Deauthorization endpoint URL'),
        Value: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('HttpApi'), 'ApiEndpoint'] }, '/zoom/webhook']] },
      });
    });

    it('prints the event bus the product subscribes to and the dead-letter queue ops watch', () => {
      cdk.template.hasOutput('EventBusName', { Value: { Ref: eventBus } });
      cdk.template.hasOutput('EventBusArn', { Value: { 'Fn::GetAtt': [eventBus, 'Arn'] } });
      cdk.template.hasOutput('WebhookDeadLetterQueueUrl', {
        Description: Match.stringLikeRegexp('redrive'),
        Value: { Ref: deadLetterQueue },
      });
      // The redrive command docs/operating.md gives reads this output.
      cdk.template.hasOutput('WebhookDeadLetterQueueArn', {
        Description: Match.stringLikeRegexp('aws sqs start-message-move-task --source-arn <this>'),
        Value: { 'Fn::GetAtt': [deadLetterQueue, 'Arn'] },
      });
    });

    it('prints the reconcile function to invoke by hand, how to repair, and its dead-letter queue', () => {
      cdk.template.hasOutput('ReconcileFunctionName', {
        Description: Match.stringLikeRegexp('only reports.*npm run reconcile -- --fix'),
        Value: { Ref: cdk.fns.reconcile },
      });
      cdk.template.hasOutput('ReconcileDeadLetterQueueUrl', {
        Description: Match.stringLikeRegexp('purge'),
        Value: { Ref: logicalId(cdk.synthesized.stack.jobs.reconcile.deadLetterQueue) },
      });
    });

    it('prints where ops find the secrets and the IAM-authorized connections endpoint, but no secret value', () => {
      cdk.template.hasOutput('RecallApiKeySecretName', { Value: 'recall-zoom-connect/recall-api-key' });
      cdk.template.hasOutput('ZoomClientIdSecretName', { Value: 'recall-zoom-connect/zoom-client-id' });
      cdk.template.hasOutput('ZoomWebhookSecretTokenSecretName', { Value: 'recall-zoom-connect/zoom-webhook-secret-token' });
      cdk.template.hasOutput('SigningKeySecretArn', { Value: { Ref: signingKey } });
      cdk.template.hasOutput('StateKeySecretArn', {
        Description: Match.stringLikeRegexp('put-secret-value'),
        Value: { Ref: stateKey },
      });
      cdk.template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [Match.anyValue(), 'ApiEndpoint'] } });
      cdk.template.hasOutput('ConnectionsEndpoint', {
        Description: Match.stringLikeRegexp('IAM-authorized.*SigV4'),
        Value: { 'Fn::Join': ['', [Match.anyValue(), '/connections']] },
      });
      cdk.template.hasOutput('ConnectionsInvokeArn', {
        Value: { 'Fn::Join': ['', Match.arrayWith([':execute-api:', '/$default/*/connections/*'])] },
      });
      expect(JSON.stringify(cdk.template.toJSON().Outputs)).not.toContain('REPLACE_ME');
    });
  });

  it('warns at synth while the cdk.json placeholders are still in place', () => {
    const annotations = Annotations.fromStack(cdk.synthesized.stack);
    annotations.hasWarning('/Test', Match.stringLikeRegexp('recallZoomOAuthAppId is still the placeholder'));
    annotations.hasWarning('/Test', Match.stringLikeRegexp('returnUrlAllowlist still contains the example'));
    annotations.hasWarning('/Test', Match.stringLikeRegexp('Neither alarmEmail nor alarmTopicArn is set'));
  });

  describe('cdk-nag', () => {
    it('passes the AwsSolutions and Serverless checks over the whole app with nothing unacknowledged', () => {
      expect(nagViolations(cdk.synthesized.app)).toEqual([]);
    });

    it('acknowledges exactly the findings there are, each on the one resource flagged', () => {
      const acknowledged = acknowledgments(cdk.synthesized.app).map(({ id, path }) => ({ id, path }));
      const findings = findingsIgnoringAcknowledgements(cdk.synthesized.app);
      const order = (a: { id: string; path: string }, b: { id: string; path: string }) =>
        `${a.id} ${a.path}`.localeCompare(`${b.id} ${b.path}`);
      expect(acknowledged.sort(order)).toEqual(findings.sort(order));
    });

    it('acknowledges only these rules, each with a reason a reviewer can check', () => {
      const acknowledged = acknowledgments(cdk.synthesized.app);
      expect(acknowledged.map(({ id }) => id).sort()).toEqual(
        [
          // X-Ray, in the policy of every function's role.
          ...Object.keys(cdk.fns).map(() => 'AwsSolutions-IAM5[Resource::*]'),
          // The three routes that cannot carry AWS credentials: the browser's two, and Zoom's.
          ...['authorize', 'callback', 'webhook'].map(() => 'AwsSolutions-APIG4'),
          // The three third-party values, the shared link-signing key and the state key: rotated by the runbook, not a Lambda.
          ...['recallApiKey', 'zoomClientId', 'zoomWebhookSecretToken', 'signingKey', 'stateKey'].map(() => 'AwsSolutions-SMG4'),
          // The four API functions and the queue consumer are invoked synchronously.
          ...['authorize', 'callback', 'connections', 'webhook', 'webhookWorker'].map(() => 'Serverless-LambdaDLQ'),
          // SQS event sources have no on-failure destination; the queue's redrive policy does that.
          'Serverless-LambdaEventSourceMappingDestination',
          // The four dead-letter queues.
          'Serverless-SQSRedrivePolicy',
          'Serverless-SQSRedrivePolicy',
          'Serverless-SQSRedrivePolicy',
          'Serverless-SQSRedrivePolicy',
        ].sort(),
      );
      for (const { id, reason } of acknowledged) {
        expect(reason, id).toMatch(/^[A-Z].{60,400}[.)]$/s);
      }
      const webhookRoute = acknowledged.find(({ path }) => path.includes('POST--zoom--webhook'));
      expect(webhookRoute?.reason).toMatch(/x-zm-signature/);
    });
  });
});
