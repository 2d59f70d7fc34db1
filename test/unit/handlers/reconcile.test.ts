import {
  type AttributeValue,
  DeleteItemCommand,
  DynamoDBClient,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ScheduledEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { credential, FakeRecallFetch } from '../../helpers/fake-recall-fetch.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

const recall = new FakeRecallFetch();
vi.stubGlobal('fetch', recall.fetch);
const ddb = mockClient(DynamoDBClient);

/** Each test imports the handler afresh: it reads RECONCILE_FIX at init. */
async function importHandler(env: Record<string, string> = {}) {
  vi.resetModules();
  useAwsFunctionEnv();
  Object.assign(process.env, env);
  return (await import('../../../functions/handlers/reconcile/handler.js')).handler;
}

const record = (userId: string, status: string, credentialId: string, zoomUserId: string): Record<string, AttributeValue> => ({
  pk: { S: `USER#${userId}` },
  userId: { S: userId },
  status: { S: status },
  recallCredentialId: { S: credentialId },
  zoomAccountId: { S: 'za-1' },
  zoomUserId: { S: zoomUserId },
  zoomIdentity: { S: `user#${zoomUserId}` },
  oauthAppId: { S: APP },
  connectedAt: { S: HOUR_AGO },
  updatedAt: { S: HOUR_AGO },
});

const scheduledEvent: ScheduledEvent = {
  version: '0',
  id: 'c2f3b9a0-0000-4000-8000-000000000002',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-30T18:00:00Z',
  region: 'us-west-2',
  resources: ['arn:aws:events:us-west-2:123456789012:rule/reconcile'],
  detail: {},
};

/** Recall lists one credential in use, one orphan; the table has a record on the first and one on a gone credential. */
function scriptOrphanAndDangling(): void {
  recall
    .on((r) =>
      r.method === 'GET' && r.path.startsWith(`${CREDENTIALS}?`)
        ? {
            status: 200,
            body: {
              next: null,
              results: [
                { ...credential('cred-used', { user_id: 'zu-1' }), created_at: HOUR_AGO },
                { ...credential('cred-orphan', { user_id: 'zu-2' }), created_at: HOUR_AGO },
              ],
            },
          }
        : undefined,
    )
    .on((r) => (r.path === `${CREDENTIALS}cred-gone/` ? { status: 404, body: { detail: 'Not found.' } } : undefined))
    .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
  ddb.on(QueryCommand, { IndexName: 'byStatus', ExpressionAttributeValues: { ':value': { S: 'connected' } } }).resolves({
    Items: [record('user-1', 'connected', 'cred-used', 'zu-1'), record('user-2', 'connected', 'cred-gone', 'zu-3')],
  });
}

let output: CapturedOutput;
const emitted = () => metricsOf(output.emf());
const summaryLines = () => output.logs().filter((line) => line.message.startsWith('Reconcile finished'));

beforeEach(() => {
  recall.reset();
  ddb.reset();
  mockSecretsManager();
  ddb.on(QueryCommand).resolves({ Items: [] });
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
  output = captureOutput();
});
afterEach(() => {
  output.restore();
  delete process.env.RECONCILE_FIX;
});
afterAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

describe('reconcile (scheduled)', () => {
  it('reports by default: one summary line and the counts as metrics, and changes nothing', async () => {
    // Prepare
    scriptOrphanAndDangling();
    const handler = await importHandler();

    // Act
    const report = await handler(scheduledEvent, context);

    // Assess
    expect(report).toMatchObject({ fix: false, problems: 2, unresolved: 2, actions: [] });
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${CREDENTIALS}?oauth_app=${APP}`,
      `GET ${CREDENTIALS}cred-gone/`,
    ]);
    expect(recall.requests[0]?.authorization).toBe(`Token ${SECRETS.recallApiKey}`);
    // The records come from the status index, never a scan; nothing is written, no lock taken.
    const statuses = ddb.commandCalls(QueryCommand).map((call) => call.args[0].input);
    expect(statuses.map((input) => [input.IndexName, input.ExpressionAttributeValues?.[':value']?.S]).sort()).toEqual([
      ['byStatus', 'connected'],
      ['byStatus', 'unhealthy'],
    ]);
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual(['QueryCommand', 'QueryCommand']);
    expect(summaryLines()).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'Reconcile finished with problems left',
        fix: false,
        orphans: ['cred-orphan'],
        danglingRecords: ['user-2'],
      }),
    ]);
    expect(metricSum(emitted(), 'ReconcileOrphans')).toBe(1);
    expect(metricSum(emitted(), 'ReconcileDanglingRecords')).toBe(1);
    expect(metricSum(emitted(), 'ReconcileRepaired')).toBe(0);
    expect(output.text()).not.toContain(SECRETS.recallApiKey);
  });

  it('repairs with RECONCILE_FIX=true: deletes the orphan and marks the dangling record, each under its lock', async () => {
    // Prepare
    scriptOrphanAndDangling();
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-2', 'unhealthy', 'cred-gone', 'zu-3') });
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).resolves({});
    const handler = await importHandler({ RECONCILE_FIX: 'true' });

    // Act
    const report = await handler(scheduledEvent, context);

    // Assess
    expect(report).toMatchObject({ fix: true, problems: 2, unresolved: 0 });
    expect(recall.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`${CREDENTIALS}cred-orphan/`]);
    const locks = ddb.commandCalls(PutItemCommand).map((call) => call.args[0].input.Item?.pk?.S);
    expect(locks).toEqual(['LOCK#user#zu-3', 'LOCK#user#zu-2']);
    expect(ddb.commandCalls(DeleteItemCommand).map((call) => call.args[0].input.Key?.pk?.S)).toEqual(locks);
    const update = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.Key?.pk?.S).toBe('USER#user-2');
    expect(update?.ExpressionAttributeValues?.[':status']?.S).toBe('unhealthy');
    expect(update?.ExpressionAttributeValues?.[':cred']?.S).toBe('cred-gone');
    expect(summaryLines()).toEqual([expect.objectContaining({ level: 'INFO', message: 'Reconcile finished', repaired: 2 })]);
    expect(metricSum(emitted(), 'ReconcileRepaired')).toBe(2);
  });

  it('lists at most 30 times a minute, leaving Recall’s other 30 to the callbacks', async () => {
    // Prepare: every listing is 20 pages long (the client's cap)
    recall.on((r) => {
      if (!r.path.startsWith(`${CREDENTIALS}?`)) return undefined;
      const page = Number(new URLSearchParams(r.path.split('?')[1]).get('cursor') ?? 0);
      return { status: 200, body: { next: `${page + 1}`, results: [] } };
    });
    const handler = await importHandler();

    // Act: the first run lists 20 pages; the second may list only 10 more within the minute, and its deadline is
    // nearer than the budget's next free slot
    await handler(scheduledEvent, context);
    const second = handler(scheduledEvent, context);

    // Assess
    await expect(second).rejects.toThrow('30/min budget');
    expect(recall.requests).toHaveLength(30);
    expect(output.logs()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'Reconcile failed' }));
  });

  it('fails the run (an invocation error for alarms) when Recall refuses the list, changing nothing', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));
    const handler = await importHandler({ RECONCILE_FIX: 'true' });

    await expect(handler(scheduledEvent, context)).rejects.toThrow('Recall list answered 401');
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});
