import { CfnResource, Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_SOURCE } from '../../../functions/adapters/event-publisher.js';
import {
  EVENTS_ENDPOINT_MAX_EVENT_AGE,
  EVENTS_ENDPOINT_RETRY_ATTEMPTS,
  LIFECYCLE_EVENT_SOURCE,
} from '../../../lib/constructs/events-endpoint.js';
import {
  acknowledgments,
  actionsOf,
  DEPLOYABLE,
  findingsIgnoringAcknowledgements,
  functionBehindRoute,
  logicalId,
  nagViolations,
  policyStatements,
  resourcesOf,
  roleOf,
  type Synthesized,
  synthesize,
} from './helpers.js';

/*
 * The two ways a product outside AWS reaches the service: lifecycle events POSTed to its HTTPS endpoint by an
 * EventBridge API destination (`eventsEndpoint`), and /connections with its own JWTs (`connectionsAuth`). Each
 * synth skips bundling; a synth takes seconds on a busy machine, hence the hooks' generous timeouts.
 */
const SYNTH_TIMEOUT_MS = 120_000;

const ENDPOINT_URL = 'https://api.acme.test/hooks/zoom-connect';

const onlyResource = (template: Template, type: string): { id: string; properties: Record<string, unknown> } => {
  const resources = Object.entries(template.findResources(type));
  expect(resources).toHaveLength(1);
  const [id, resource] = resources[0] as [string, { Properties: Record<string, unknown> }];
  return { id, properties: resource.Properties };
};

/** The logical id of an L2 construct whose CloudFormation resource is not its `defaultChild` (ApiDestination, Connection). */
const cfnId = (construct: IConstruct): string => {
  const child = construct.node.children.find((c): c is CfnResource => c instanceof CfnResource);
  if (!child) throw new Error(`${construct.node.path} has no CloudFormation resource`);
  return Stack.of(construct).resolve(child.logicalId) as string;
};

/** The acknowledged cdk-nag findings match exactly what the packs would report, and nothing is left open. */
function expectNagClean(synthesized: Synthesized): void {
  expect(nagViolations(synthesized.app)).toEqual([]);
  const order = (a: { id: string; path: string }, b: { id: string; path: string }) =>
    `${a.id} ${a.path}`.localeCompare(`${b.id} ${b.path}`);
  const acknowledged = acknowledgments(synthesized.app).map(({ id, path }) => ({ id, path }));
  expect(acknowledged.sort(order)).toEqual(findingsIgnoringAcknowledgements(synthesized.app).sort(order));
}

describe('eventsEndpoint: lifecycle events to the product over HTTPS', () => {
  let synthesized: Synthesized;
  let template: Template;

  beforeAll(() => {
    synthesized = synthesize({
      ...DEPLOYABLE,
      eventsEndpoint: { url: ENDPOINT_URL, headerName: 'x-acme-zoom-events', rateLimitPerSecond: 5 },
    });
    ({ template } = synthesized);
  }, SYNTH_TIMEOUT_MS);

  it('routes every lifecycle event on the service bus to the API destination, delivering the detail unchanged', () => {
    expect(LIFECYCLE_EVENT_SOURCE).toBe(EVENT_SOURCE);
    const rule = synthesized.stack.eventsEndpoint!.rule;
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(synthesized.stack.messaging.eventBus) },
      EventPattern: { source: [EVENT_SOURCE] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [cfnId(synthesized.stack.eventsEndpoint!.apiDestination), 'Arn'] },
          InputPath: '$.detail',
          RetryPolicy: {
            MaximumRetryAttempts: EVENTS_ENDPOINT_RETRY_ATTEMPTS,
            MaximumEventAgeInSeconds: EVENTS_ENDPOINT_MAX_EVENT_AGE.toSeconds(),
          },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(synthesized.stack.eventsEndpoint!.deadLetterQueue), 'Arn'] } },
        }),
      ],
    });
    // EventBridge's ceilings: the longest an endpoint may be down before an event is parked.
    expect(EVENTS_ENDPOINT_RETRY_ATTEMPTS).toBe(185);
    expect(EVENTS_ENDPOINT_MAX_EVENT_AGE.toSeconds()).toBe(86_400);
    expect(logicalId(rule)).toMatch(/^EventsEndpointRule/);
  });

  it('POSTs to the configured https URL at the configured rate, through the connection', () => {
    const { properties } = onlyResource(template, 'AWS::Events::ApiDestination');
    expect(properties).toEqual({
      ConnectionArn: { 'Fn::GetAtt': [cfnId(synthesized.stack.eventsEndpoint!.connection), 'Arn'] },
      Description: expect.any(String),
      HttpMethod: 'POST',
      InvocationEndpoint: ENDPOINT_URL,
      InvocationRateLimitPerSecond: 5,
    });
  });

  it('sends a secret generated into Secrets Manager in the configured header, and the template never holds its value', () => {
    const secret = logicalId(synthesized.stack.eventsEndpoint!.headerSecret);
    // This secret itself (the signing and state keys are generated secrets too): generated, and no value given.
    const { Properties } = template.findResources('AWS::SecretsManager::Secret')[secret] ?? {};
    expect(Properties?.GenerateSecretString).toEqual({ PasswordLength: 64, ExcludePunctuation: true });
    expect(Properties).not.toHaveProperty('SecretString');
    const { properties } = onlyResource(template, 'AWS::Events::Connection');
    expect(properties.AuthorizationType).toBe('API_KEY');
    expect(properties.AuthParameters).toEqual({
      ApiKeyAuthParameters: {
        ApiKeyName: 'x-acme-zoom-events',
        // A dynamic reference CloudFormation resolves at deploy time, never a literal.
        ApiKeyValue: { 'Fn::Join': ['', ['{{resolve:secretsmanager:', { Ref: secret }, ':SecretString:::}}']] },
      },
    });
  });

  it('lets the rule invoke only this destination, and only EventBridge (for this rule) write to the dead-letter queue', () => {
    const targetRole = (template.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: [EVENT_SOURCE] } } }));
    const roleArn = (Object.values(targetRole)[0]?.Properties.Targets[0].RoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const statements = policyStatements(template).filter(({ role }) => role === roleArn);
    expect(statements.map(({ statement }) => [actionsOf(statement), resourcesOf(statement)])).toEqual([
      [['events:InvokeApiDestination'], [{ 'Fn::GetAtt': [cfnId(synthesized.stack.eventsEndpoint!.apiDestination), 'Arn'] }]],
    ]);
    const queue = logicalId(synthesized.stack.eventsEndpoint!.deadLetterQueue);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(synthesized.stack.eventsEndpoint!.rule), 'Arn'] } } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
  });

  it('alarms on the first dead letter, notifying the alarm topic, and prints where ops find the secret, connection and queue', () => {
    const queue = logicalId(synthesized.stack.eventsEndpoint!.deadLetterQueue);
    const topic = cfnId(synthesized.stack.monitoring.alarmTopic);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'Test-EventsEndpointDeadLetters',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [{ Ref: topic }],
      OKActions: [{ Ref: topic }],
    });
    template.hasOutput('EventsHeaderSecretArn', {
      Description: Match.stringLikeRegexp('x-acme-zoom-events'),
      Value: { Ref: logicalId(synthesized.stack.eventsEndpoint!.headerSecret) },
    });
    template.hasOutput('EventsConnectionName', { Value: { Ref: cfnId(synthesized.stack.eventsEndpoint!.connection) } });
    template.hasOutput('EventsDeadLetterQueueUrl', { Value: { Ref: queue } });
  });

  it('passes both cdk-nag packs, each acknowledgement matching a finding', () => {
    expectNagClean(synthesized);
    expect(
      acknowledgments(synthesized.app)
        .filter(({ path }) => path.includes('/EventsEndpoint/'))
        .map(({ id }) => id)
        .sort(),
    ).toEqual(['AwsSolutions-SMG4', 'AwsSolutions-SQS3', 'Serverless-SQSRedrivePolicy']);
  });
});

describe('without eventsEndpoint', () => {
  it('creates no connection, destination, header secret or rule to the product', () => {
    const { template, stack } = synthesize({ ...DEPLOYABLE });
    expect(stack.eventsEndpoint).toBeUndefined();
    template.resourceCountIs('AWS::Events::Connection', 0);
    template.resourceCountIs('AWS::Events::ApiDestination', 0);
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('EventsHeaderSecretArn');
  }, SYNTH_TIMEOUT_MS);
});

describe('connectionsAuth: jwt with scopes', () => {
  let synthesized: Synthesized;
  let template: Template;
  const issuer = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123';

  beforeAll(() => {
    synthesized = synthesize({
      ...DEPLOYABLE,
      connectionsAuth: {
        type: 'jwt',
        issuer,
        audience: ['4d3c2b1a0example', 'second-client'],
        scopes: { read: 'zoom-connections/read', write: 'zoom-connections/write' },
      },
    });
    ({ template } = synthesized);
  }, SYNTH_TIMEOUT_MS);

  it("checks tokens with API Gateway's JWT authorizer for the issuer and audiences, from the Authorization header", () => {
    const { id, properties } = onlyResource(template, 'AWS::ApiGatewayV2::Authorizer');
    expect(properties).toEqual({
      ApiId: { Ref: logicalId(synthesized.stack.api.httpApi) },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: issuer, Audience: ['4d3c2b1a0example', 'second-client'] },
      Name: 'connections-jwt',
    });
    for (const [routeKey, scope] of [
      ['GET /connections/{userId}', 'zoom-connections/read'],
      ['DELETE /connections/{userId}', 'zoom-connections/write'],
    ]) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: id },
        AuthorizationScopes: [scope],
      });
      expect(functionBehindRoute(template, routeKey as string)).toBe(logicalId(synthesized.stack.api.connectionsFunction));
    }
  });

  it('leaves every other route as it was, and grants nothing new to the connections function', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')).map((route) => [
      route.Properties.RouteKey,
      route.Properties.AuthorizationType,
    ]);
    expect(routes.sort()).toEqual(
      [
        ['DELETE /connections/{userId}', 'JWT'],
        ['GET /connections/{userId}', 'JWT'],
        ['GET /zoom/authorize', 'NONE'],
        ['GET /zoom/callback', 'NONE'],
        ['POST /zoom/webhook', 'NONE'],
      ].sort(),
    );
    const iamSynth = synthesize({ ...DEPLOYABLE });
    const grants = (s: Synthesized) =>
      policyStatements(s.template)
        .filter(({ role }) => role === roleOf(s.template, logicalId(s.stack.api.connectionsFunction)))
        .flatMap(({ statement }) => actionsOf(statement))
        .sort();
    expect(grants(synthesized)).toEqual(grants(iamSynth));
  }, SYNTH_TIMEOUT_MS);

  it('describes bearer tokens in the outputs, and prints no execute-api ARN nobody needs', () => {
    template.hasOutput('ConnectionsEndpoint', {
      Description: Match.stringLikeRegexp(`Bearer.*${issuer}.*zoom-connections/read.*zoom-connections/write`),
    });
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('ConnectionsInvokeArn');
  });

  it('passes both cdk-nag packs (the routes are authorized), each acknowledgement matching a finding', () => {
    expectNagClean(synthesized);
  });
});

describe('connectionsAuth: jwt without scopes, and iam', () => {
  it('requires only a valid token when no scopes are configured', () => {
    const { template } = synthesize({
      ...DEPLOYABLE,
      connectionsAuth: JSON.stringify({ type: 'jwt', issuer: 'https://acme.eu.auth0.com/', audience: 'https://zoom-connect.acme.test' }),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      JwtConfiguration: { Issuer: 'https://acme.eu.auth0.com/', Audience: ['https://zoom-connect.acme.test'] },
    });
    for (const routeKey of ['GET /connections/{userId}', 'DELETE /connections/{userId}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: 'JWT',
        AuthorizationScopes: Match.absent(),
      });
    }
  }, SYNTH_TIMEOUT_MS);

  it('keeps IAM on both routes, with no authorizer resource, when connectionsAuth is iam', () => {
    const { template } = synthesize({ ...DEPLOYABLE, connectionsAuth: { type: 'iam' } });
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    for (const routeKey of ['GET /connections/{userId}', 'DELETE /connections/{userId}']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: routeKey, AuthorizationType: 'AWS_IAM' });
    }
    template.hasOutput('ConnectionsInvokeArn', Match.anyValue());
  }, SYNTH_TIMEOUT_MS);
});
