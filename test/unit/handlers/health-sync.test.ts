import { type AttributeValue, DynamoDBClient, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { ScheduledEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { FakeRecallFetch, credential } from '../../helpers/fake-recall-fetch.js';
import { outboxEventsOf } from '../../helpers/outbox.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

useAwsFunctionEnv();
// Set as a careless deployment might: this function must still never call EventBridge.
process.env.EVENT_BUS_NAME = 'recall-zoom-connect-events';
// Metrics on: some tests assert on them; the capture keeps them out of the test output.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const recall = new FakeRecallFetch();
vi.stubGlobal('fetch', recall.fetch);
const ddb = mockClient(DynamoDBClient);
const eventBridge = mockClient(EventBridgeClient);
let handler: (typeof import('../../../functions/handlers/health-sync/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/handlers/health-sync/handler.js'));
});
afterAll(() => {
  delete process.env.EVENT_BUS_NAME;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
let output: CapturedOutput;
const emitted = () => metricsOf(output.emf());

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';

const record = (userId: string, status: string, credentialId: string, zoomUserId = 'zu-1'): Record<string, AttributeValue> => ({
  pk: { S: `USER#${userId}` },
  userId: { S: userId },
  status: { S: status },
  recallCredentialId: { S: credentialId },
  zoomAccountId: { S: 'za-1' },
  zoomUserId: { S: zoomUserId },
  zoomIdentity: { S: `user#${zoomUserId}` },
  oauthAppId: { S: APP },
  connectedAt: { S: '2026-11-01T00:00:00.000Z' },
  updatedAt: { S: '2026-11-01T00:00:00.000Z' },
});

const scheduledEvent: ScheduledEvent = {
  version: '0',
  id: 'c2f3b9a0-0000-4000-8000-000000000001',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-30T18:00:00Z',
  region: 'us-west-2',
  resources: ['arn:aws:events:us-west-2:123456789012:rule/health-sync'],
  detail: {},
};

const run = () => handler(scheduledEvent, context);

/**
 * The events the status writes hold in the outbox (each write finds the record with its Zoom ids). The function
 * itself never calls EventBridge.
 */
const publishedEvents = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return outboxEventsOf(ddb.commandCalls(UpdateItemCommand).map((call) => call.args[0].input), (input) =>
    record(String(input.Key?.pk?.S).slice('USER#'.length), 'connected', 'cred'),
  ).map((detail) => ({ DetailType: detailTypeOf(detail.type), detail }));
};

beforeEach(() => {
  recall.reset();
  ddb.reset();
  eventBridge.reset();
  mockSecretsManager();
  ddb.on(QueryCommand).resolves({ Items: [] });
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
  output = captureOutput();
});
afterEach(() => {
  output.restore();
});

describe('health sync (scheduled)', () => {
  it('marks connections on a credential Recall lists as unhealthy, and publishes `unhealthy`', async () => {
    // Prepare
    recall.on((r) =>
      r.path.startsWith(`${CREDENTIALS}?`)
        ? { status: 200, body: { next: null, results: [{ ...credential('cred-bad', { user_id: 'zu-1' }), status: 'unhealthy' }] } }
        : undefined,
    );
    ddb.on(QueryCommand, { IndexName: 'byZoomIdentity' }).resolves({ Items: [record('user-42', 'connected', 'cred-bad')] });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'unhealthy', 'cred-bad') });

    // Act
    const summary = await run();

    // Assess
    expect(summary).toMatchObject({ unhealthy: 1, markedUnhealthy: 1, healthyAgain: 0, stillGone: 0, failed: 0 });
    expect(recall.requests[0]).toMatchObject({
      method: 'GET',
      path: `${CREDENTIALS}?oauth_app=${APP}&status=unhealthy`,
      authorization: `Token ${SECRETS.recallApiKey}`,
    });
    const lookup = ddb.commandCalls(QueryCommand, { IndexName: 'byZoomIdentity' })[0]?.args[0].input;
    expect(lookup?.ExpressionAttributeValues?.[':value']?.S).toBe('user#zu-1');
    const update = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.Key?.pk?.S).toBe('USER#user-42');
    expect(update?.ExpressionAttributeValues?.[':status']?.S).toBe('unhealthy');
    expect(update?.ExpressionAttributeValues?.[':cred']?.S).toBe('cred-bad');
    expect(publishedEvents()).toEqual([
      {
        DetailType: 'Zoom connection unhealthy.v1',
        detail: expect.objectContaining({
          schemaVersion: 1,
          type: 'unhealthy',
          userId: 'user-42',
          status: 'unhealthy',
          recallCredentialId: 'cred-bad',
          zoomUserId: 'zu-1',
        }),
      },
    ]);
  });

  it('moves unhealthy connections back to connected when Recall reports the credential healthy again', async () => {
    recall
      .on((r) => (r.path.startsWith(`${CREDENTIALS}?`) ? { status: 200, body: { next: null, results: [] } } : undefined))
      .on((r) => (r.path === `${CREDENTIALS}cred-1/` ? { status: 200, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));
    ddb.on(QueryCommand, { IndexName: 'byStatus' }).resolves({ Items: [record('user-42', 'unhealthy', 'cred-1')] });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'connected', 'cred-1') });

    const summary = await run();

    expect(summary).toMatchObject({ unhealthy: 0, healthyAgain: 1 });
    const statusQuery = ddb.commandCalls(QueryCommand, { IndexName: 'byStatus' })[0]?.args[0].input;
    expect(statusQuery?.ExpressionAttributeValues?.[':value']?.S).toBe('unhealthy');
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${CREDENTIALS}?oauth_app=${APP}&status=unhealthy`,
      `GET ${CREDENTIALS}cred-1/`,
    ]);
    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input.ExpressionAttributeValues?.[':status']?.S).toBe('connected');
    expect(publishedEvents()).toEqual([
      expect.objectContaining({
        DetailType: 'Zoom connection healthy_again.v1',
        detail: expect.objectContaining({ type: 'healthy_again', userId: 'user-42', status: 'connected' }),
      }),
    ]);
  });

  it('keeps a connection unhealthy when its credential is gone at Recall (404)', async () => {
    recall
      .on((r) => (r.path.startsWith(`${CREDENTIALS}?`) ? { status: 200, body: { next: null, results: [] } } : undefined))
      .on((r) => (r.path === `${CREDENTIALS}cred-gone/` ? { status: 404, body: { detail: 'Not found.' } } : undefined));
    ddb.on(QueryCommand, { IndexName: 'byStatus' }).resolves({ Items: [record('user-42', 'unhealthy', 'cred-gone')] });

    const summary = await run();

    expect(summary).toMatchObject({ stillGone: 1, healthyAgain: 0 });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(publishedEvents()).toEqual([]);
  });

  it('fails the run (an invocation error for alarms) when Recall refuses the list, changing nothing', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));

    await expect(run()).rejects.toThrow('Recall list answered 401');
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('health sync: metrics', () => {
  const unhealthyListed = () =>
    recall.on((r) =>
      r.path.startsWith(`${CREDENTIALS}?`)
        ? { status: 200, body: { next: null, results: [{ ...credential('cred-bad', { user_id: 'zu-1' }), status: 'unhealthy' }] } }
        : undefined,
    );

  it('counts the records marked unhealthy, and reports zero healthy-again rather than nothing', async () => {
    unhealthyListed();
    ddb.on(QueryCommand, { IndexName: 'byZoomIdentity' }).resolves({
      Items: [record('user-1', 'connected', 'cred-bad'), record('user-2', 'connected', 'cred-bad')],
    });
    ddb.on(UpdateItemCommand)
      .resolvesOnce({ Attributes: record('user-1', 'unhealthy', 'cred-bad') })
      .resolves({ Attributes: record('user-2', 'unhealthy', 'cred-bad') });

    await run();

    const metrics = emitted();
    expect(metricSum(metrics, 'HealthSyncMarkedUnhealthy')).toBe(2);
    expect(metrics.map((metric) => metric.name)).toContain('HealthSyncHealthyAgain');
    expect(metricSum(metrics, 'HealthSyncHealthyAgain')).toBe(0);
    expect(metricSum(metrics, 'RecallCall')).toBe(1);
  });

  it('counts the records healthy again', async () => {
    recall
      .on((r) => (r.path.startsWith(`${CREDENTIALS}?`) ? { status: 200, body: { next: null, results: [] } } : undefined))
      .on((r) => (r.path === `${CREDENTIALS}cred-1/` ? { status: 200, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));
    ddb.on(QueryCommand, { IndexName: 'byStatus' }).resolves({ Items: [record('user-42', 'unhealthy', 'cred-1')] });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'connected', 'cred-1') });

    await run();

    expect(metricSum(emitted(), 'HealthSyncHealthyAgain')).toBe(1);
    expect(metricSum(emitted(), 'HealthSyncMarkedUnhealthy')).toBe(0);
  });

  it('still writes the Recall metrics of a run that failed', async () => {
    recall.on(() => ({ status: 503, body: {}, headers: { 'retry-after': '0' } }));

    await expect(run()).rejects.toThrow('Recall list answered 503');

    expect(metricSum(emitted(), 'RecallCall')).toBe(3);
    expect(metricSum(emitted(), 'RecallFailure')).toBe(1);
    expect(metricSum(emitted(), 'HealthSyncMarkedUnhealthy')).toBe(0);
  });
});
