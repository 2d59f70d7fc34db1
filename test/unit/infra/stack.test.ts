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
  let fns: { authorize: string; callback: string; connections: string };
  let table: string;
  let appSecret: string;
  let signingKey: string;

  beforeAll(() => {
    synthesized = synthesize({}, true);
    ({ template } = synthesized);
    const { api, state } = synthesized.stack;
    fns = {
      authorize: logicalId(api.authorizeFunction),
      callback: logicalId(api.callbackFunction),
      connections: logicalId(api.connectionsFunction),
    };
    table = logicalId(state.table);
    appSecret = logicalId(state.appSecret);
    signingKey = logicalId(state.signingKeySecret);
  });

  describe('HTTP API', () => {
    it('exposes exactly the four routes of the design', () => {
      const routeKeys = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map(
        (route) => route.Properties.RouteKey as string,
      );
      expect(routeKeys.sort()).toEqual([
        'DELETE /connections/{userId}',
        'GET /connections/{userId}',
        'GET /zoom/authorize',
        'GET /zoom/callback',
      ]);
    });

    it('leaves the browser routes /zoom/authorize and /zoom/callback open to unauthenticated callers', () => {
      for (const routeKey of ['GET /zoom/authorize', 'GET /zoom/callback']) {
        template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'NONE' });
      }
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

    it('ends the callback well inside API Gateway’s 30 s integration timeout', () => {
      expect(functionProperties(template, fns.callback).Timeout).toBeLessThan(30);
      expect(functionProperties(template, fns.callback).Timeout).toBeGreaterThanOrEqual(20);
      for (const id of [fns.authorize, fns.connections]) {
        expect(functionProperties(template, id).Timeout).toBeLessThanOrEqual(10);
      }
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

    it('gives every function the runtime configuration it reads, with one redirect URI', () => {
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
      const signingKeyReaders = Object.entries(fns)
        .filter(([, id]) => 'SIGNING_KEY_SECRET_ID' in functionProperties(template, id).Environment.Variables)
        .map(([name]) => name);
      expect(signingKeyReaders).toEqual(['authorize']);
      expect(functionProperties(template, fns.authorize).Environment.Variables.SIGNING_KEY_SECRET_ID).toEqual({
        Ref: signingKey,
      });
    });

    it('gives every function an environment the shared runtime config accepts at init', () => {
      // Deploy-time values CloudFormation fills in; everything else is checked exactly as synthesized.
      const deployed: Record<string, string> = {
        TABLE_NAME: 'Test-StateTable-ABC',
        ZOOM_REDIRECT_URI: 'https://abc123.execute-api.us-east-1.amazonaws.com/zoom/callback',
        APP_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:recall-zoom-connect/app-AbCdEf',
        SIGNING_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:SigningKey-GhIjKl',
      };
      for (const [name, id] of Object.entries(fns)) {
        const variables = functionProperties(template, id).Environment.Variables;
        const env = Object.fromEntries(
          Object.entries(variables).map(([key, value]) => [key, typeof value === 'string' ? value : deployed[key]]),
        );
        expect(loadConfig(env).secrets).toEqual({
          source: 'secrets-manager',
          appSecretId: deployed.APP_SECRET_ID,
          ...(name === 'authorize' ? { signingKeySecretId: deployed.SIGNING_KEY_SECRET_ID } : {}),
        });
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

    it('indexes connections by Zoom identity as the repositories expect', () => {
      const index = TABLE_SCHEMA.zoomIdentityIndex;
      template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        AttributeDefinitions: Match.arrayWith([{ AttributeName: index.partitionKey, AttributeType: 'S' }]),
        GlobalSecondaryIndexes: [
          {
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: 'HASH' },
              { AttributeName: index.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
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
    it('scopes DynamoDB access to the table and its indexes', () => {
      const dynamodb = policyStatements(template).filter(({ statement }) =>
        actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
      );
      expect(new Set(dynamodb.map(({ role }) => role)).size).toBe(3);
      for (const { statement } of dynamodb) {
        expect(resourcesOf(statement)).toEqual([
          { 'Fn::GetAtt': [table, 'Arn'] },
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/*']] },
        ]);
      }
    });

    it('lets each function read only the secrets it uses: the signing key is for authorize alone', () => {
      const readers = new Map<string, unknown[]>();
      for (const { role, statement } of policyStatements(template)) {
        if (!actionsOf(statement).includes('secretsmanager:GetSecretValue')) continue;
        readers.set(role, [...(readers.get(role) ?? []), ...resourcesOf(statement)]);
      }
      const roleOf = (fn: string) => functionProperties(template, fn).Role['Fn::GetAtt'][0];
      expect(readers.get(roleOf(fns.authorize))).toEqual([{ Ref: appSecret }, { Ref: signingKey }]);
      expect(readers.get(roleOf(fns.callback))).toEqual([{ Ref: appSecret }]);
      expect(readers.get(roleOf(fns.connections))).toEqual([{ Ref: appSecret }]);
      expect(readers.size).toBe(3);
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
          ...['Authorize', 'Callback', 'Connections'].flatMap(() => [
            'AwsSolutions-IAM5[Resource::*]',
            `AwsSolutions-IAM5[Resource::<${table}.Arn>/index/*]`,
          ]),
          'AwsSolutions-APIG4',
          'AwsSolutions-APIG4',
          'AwsSolutions-SMG4',
          'AwsSolutions-SMG4',
        ].sort(),
      );
      for (const { reason } of acknowledged) expect(reason.length).toBeGreaterThan(60);
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
    });
  });

  it('uses the custom domain in the redirect URI it prints and gives to every function', () => {
    const { template, stack } = synthesized;
    template.hasOutput('ZoomRedirectUri', { Value: 'https://connect.example.com/zoom/callback' });
    for (const fn of [stack.api.authorizeFunction, stack.api.callbackFunction, stack.api.connectionsFunction]) {
      expect(functionProperties(template, logicalId(fn)).Environment.Variables.ZOOM_REDIRECT_URI).toBe(
        'https://connect.example.com/zoom/callback',
      );
    }
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
    expect(existingSecretArns).toHaveLength(3);
    expect(JSON.stringify(existingSecretArns)).toContain('secret:prod/recall-zoom-connect-??????');
    expect(JSON.stringify(existingSecretArns)).not.toContain('*');
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});
