import {
  type AttributeValue,
  DynamoDBClient,
  QueryCommand,
  type UpdateItemCommandInput,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { SQSBatchResponse } from 'aws-lambda';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../../functions/core/logger.js';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, useAwsFunctionEnv } from '../../helpers/env.js';
import { type Answer, credential as recallCredential, FakeRecallFetch, type RecordedRequest } from '../../helpers/fake-recall-fetch.js';
import { outboxEventsOf } from '../../helpers/outbox.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';
import { queueMessageBody, recordRawRequests, sqsEvent } from '../../helpers/zoom-webhook.js';

useAwsFunctionEnv();
// Metrics on: some tests assert on them; the capture keeps them out of the test output.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
delete process.env.SIGNING_KEY_SECRET_ID;
process.env.EVENT_BUS_NAME = 'recall-zoom-connect';
const recall = new FakeRecallFetch();
const raw = recordRawRequests(recall.fetch);
vi.stubGlobal('fetch', raw.fetch);
const ddb = mockClient(DynamoDBClient);
const eventBridge = mockClient(EventBridgeClient);
let handler: (typeof import('../../../functions/handlers/webhook-worker/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/handlers/webhook-worker/handler.js'));
});

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const FORWARD_PATH = `/api/v2/zoom-oauth-apps/${APP}/webhook`;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const DEAUTHORIZED_AT = '2026-11-30T17:59:58.000Z';
const RECEIVED_AT = '2026-11-30T18:00:00.000Z';
const BEFORE = '2026-11-01T00:00:00.000Z';
const AFTER = '2026-11-30T18:05:00.000Z';

type Item = Record<string, AttributeValue>;

/** A Recall credential created before the deauthorization (unless `createdAt` says otherwise). */
const credential = (id: string, identity: { user_id?: string; account_id?: string }, createdAt = BEFORE) => ({
  ...recallCredential(id, identity),
  created_at: createdAt,
});

function item(
  userId: string,
  status: string,
  credentialId: string,
  { identity = 'user#zu-1', connectedAt = BEFORE }: { identity?: string; connectedAt?: string } = {},
): Item {
  return {
    pk: { S: `USER#${userId}` },
    userId: { S: userId },
    status: { S: status },
    recallCredentialId: { S: credentialId },
    zoomAccountId: { S: 'za-1' },
    zoomUserId: identity.startsWith('user#') ? { S: identity.slice(5) } : { NULL: true },
    zoomIdentity: { S: identity },
    oauthAppId: { S: APP },
    connectedAt: { S: connectedAt },
    updatedAt: { S: connectedAt },
  };
}

/**
 * The table as the worker sees it: `byZoomIdentity` answers from `items`, and UpdateItem applies what it was
 * asked (status, removals) to the stored item and answers ALL_NEW.
 */
function table(items: Item[]): void {
  const stored = new Map(items.map((it) => [it.pk?.S ?? '', { ...it }]));
  ddb.on(QueryCommand).callsFake((input: { ExpressionAttributeValues: Record<string, AttributeValue> }) => ({
    Items: [...stored.values()].filter((it) => it.zoomIdentity?.S === input.ExpressionAttributeValues[':value']?.S),
  }));
  ddb.on(UpdateItemCommand).callsFake((input: UpdateItemCommandInput) => {
    const current = { ...stored.get(input.Key?.pk?.S ?? '') };
    const values = input.ExpressionAttributeValues ?? {};
    if (input.UpdateExpression?.includes('#status = :revoked')) current.status = { S: 'revoked' };
    current.updatedAt = values[':now'] ?? { S: '' };
    if (input.UpdateExpression?.includes('REMOVE')) {
      for (const [placeholder, name] of Object.entries(input.ExpressionAttributeNames ?? {})) {
        if (placeholder.startsWith('#zoom')) delete current[name];
      }
    }
    stored.set(input.Key?.pk?.S ?? '', current);
    return { Attributes: current };
  });
}

const list = (results: unknown[]): Answer => ({ status: 200, body: { next: null, results } });
const isList = (r: RecordedRequest, filter: string) =>
  r.method === 'GET' && r.path.startsWith(CREDENTIALS) && r.path.includes(filter);

/** Recall: lists per filter, deletes answering `deleteStatus`, the webhook endpoint answering `forward`. */
function recallAnswers({
  byUser = [],
  byAccount = [],
  deleteStatus = 204,
  forward = { status: 200, body: {} },
}: { byUser?: unknown[]; byAccount?: unknown[]; deleteStatus?: number; forward?: Answer } = {}): void {
  recall
    .on((r) => (isList(r, 'user_id=') ? list(byUser) : undefined))
    .on((r) => (isList(r, 'account_id=') ? list(byAccount) : undefined))
    .on((r) => (r.method === 'DELETE' ? { status: deleteStatus } : undefined))
    .on((r) => (r.method === 'POST' && r.path === FORWARD_PATH ? forward : undefined));
}

function deauthBody({
  retention,
  userId = 'zu-1',
  accountId = 'za-1',
}: { retention?: string | boolean; userId?: string; accountId?: string } = {}): string {
  return JSON.stringify({
    event: 'app_deauthorized',
    event_ts: Date.parse(DEAUTHORIZED_AT),
    payload: {
      account_id: accountId,
      user_id: userId,
      signature: '827edc3452044f0bc86bdd5684afb7d1e6becfa1a767f24df1b287853cf73000',
      deauthorization_time: DEAUTHORIZED_AT,
      client_id: 'ADZ9k9bTWmGUoUbECUKU_a',
      ...(retention === undefined ? {} : { user_data_retention: retention }),
    },
  });
}

async function run(...bodies: string[]): Promise<SQSBatchResponse> {
  const event = sqsEvent(bodies.map((body, i) => ({ messageId: `msg-${i + 1}`, body })));
  return (await handler(event, context)) as SQSBatchResponse;
}

const updates = () => ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input);
const deletes = () => recall.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
const forwards = () => raw.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === FORWARD_PATH);
/**
 * The events the revoke writes hold in the outbox (each write finds the record as the table held it); the worker
 * itself never calls EventBridge.
 */
const published = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return outboxEventsOf(updates(), (input) => item(String(input.Key?.pk?.S).slice('USER#'.length), 'connected', 'cred')).map(
    (detail) => ({ DetailType: detailTypeOf(detail.type), Detail: detail }),
  );
};

beforeEach(() => {
  recall.reset();
  raw.requests.length = 0;
  ddb.reset();
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
  secretsManager = mockSecretsManager();
  output = captureOutput();
});
afterEach(() => {
  output.restore();
});
afterAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

let secretsManager: ReturnType<typeof mockSecretsManager>;
let output: CapturedOutput;
const emitted = () => metricsOf(output.emf());

describe('app_deauthorized from a user-level app', () => {
  it('revokes every connection of the Zoom user, publishes revoked, deletes the credential, and forwards', async () => {
    // Prepare: two product users share the Zoom user's credential; a Zoom account colleague has their own
    table([item('user-42', 'connected', 'cred-1'), item('user-7', 'unhealthy', 'cred-1'), item('user-9', 'connected', 'cred-9', { identity: 'user#zu-2' })]);
    recallAnswers({
      byUser: [credential('cred-1', { user_id: 'zu-1', account_id: 'za-1' })],
      // Listing by account in a user-level app also returns the colleague's credential: it must survive.
      byAccount: [
        credential('cred-1', { user_id: 'zu-1', account_id: 'za-1' }),
        credential('cred-9', { user_id: 'zu-2', account_id: 'za-1' }),
      ],
    });

    // Act
    const result = await run(queueMessageBody(deauthBody({ retention: 'true' }), { receivedAt: RECEIVED_AT }));

    // Assess
    expect(result).toEqual({ batchItemFailures: [] });
    expect(updates().map((u) => u.Key?.pk?.S).sort()).toEqual(['USER#user-42', 'USER#user-7']);
    for (const update of updates()) {
      expect(update.UpdateExpression).toMatch(/^SET #status = :revoked, #updated = :now, #obEntry = :obEntry, .* ADD #obSeq :obOne$/);
      expect(update.ConditionExpression).toBe(
        '#cred = :cred AND #status IN (:connected, :unhealthy) AND #connectedAt <= :cutoff',
      );
      expect(update.ExpressionAttributeValues?.[':cred']).toEqual({ S: 'cred-1' });
      expect(update.ExpressionAttributeValues?.[':cutoff']).toEqual({ S: DEAUTHORIZED_AT });
    }
    expect(published().map((e) => [e.DetailType, e.Detail.userId, e.Detail.status, e.Detail.zoomUserId])).toEqual(
      expect.arrayContaining([
        ['Zoom connection revoked.v1', 'user-42', 'revoked', 'zu-1'],
        ['Zoom connection revoked.v1', 'user-7', 'revoked', 'zu-1'],
      ]),
    );
    expect(published()).toHaveLength(2);
    expect(deletes()).toEqual([`${CREDENTIALS}cred-1/`]);
    expect(recall.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual([
      `${CREDENTIALS}?oauth_app=${APP}&user_id=zu-1`,
      `${CREDENTIALS}?oauth_app=${APP}&account_id=za-1`,
    ]);
    expect(forwards()).toHaveLength(1);
  });

  it.each([
    ['"false"', 'false'],
    ['false', false],
    ['absent', undefined],
    ['"no"', 'no'],
  ])('removes the Zoom ids from the records when user_data_retention is %s', async (_label, retention) => {
    table([item('user-42', 'connected', 'cred-1'), item('user-5', 'disconnected', 'cred-0')]);
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });

    const result = await run(queueMessageBody(deauthBody({ retention })));

    expect(result.batchItemFailures).toEqual([]);
    const [revoke, scrub] = [
      updates().find((u) => u.Key?.pk?.S === 'USER#user-42'),
      updates().find((u) => u.Key?.pk?.S === 'USER#user-5'),
    ];
    expect(revoke?.UpdateExpression).toMatch(/^SET #status = :revoked, #updated = :now, .* REMOVE #zoom0, #zoom1, #zoom2 ADD #obSeq :obOne$/);
    expect(scrub?.UpdateExpression).toBe('SET #updated = :now REMOVE #zoom0, #zoom1, #zoom2');
    expect(Object.values(revoke?.ExpressionAttributeNames ?? {})).toEqual(
      expect.arrayContaining(['zoomAccountId', 'zoomUserId', 'zoomIdentity']),
    );
    // The event tells the product who was revoked, without the Zoom ids it must no longer keep.
    expect(published().map((e) => e.Detail)).toEqual([
      expect.objectContaining({ userId: 'user-42', status: 'revoked', zoomAccountId: null, zoomUserId: null }),
    ]);
    // cred-0 was released when user-5 disconnected: no second delete for it.
    expect(deletes()).toEqual([`${CREDENTIALS}cred-1/`]);
  });

  it.each([
    ['the string "true"', 'true'],
    ['the boolean true', true],
  ])('keeps the Zoom ids when user_data_retention is %s', async (_label, retention) => {
    table([item('user-42', 'connected', 'cred-1'), item('user-5', 'disconnected', 'cred-0')]);
    recallAnswers();

    await run(queueMessageBody(deauthBody({ retention })));

    expect(updates().map((u) => u.Key?.pk?.S)).toEqual(['USER#user-42']);
    expect(updates()[0]?.UpdateExpression).not.toContain('REMOVE');
    // The `revoked` event keeps them too: copied from the record by the write.
    expect(published().map((e) => [e.Detail.userId, e.Detail.zoomUserId])).toEqual([['user-42', 'zu-1']]);
  });
});

describe('app_deauthorized from an account-level app', () => {
  it('revokes the connections keyed by the Zoom account and deletes its credential', async () => {
    table([
      item('user-42', 'connected', 'cred-a', { identity: 'account#za-1' }),
      item('user-8', 'connected', 'cred-a', { identity: 'account#za-1' }),
    ]);
    recallAnswers({ byAccount: [credential('cred-a', { account_id: 'za-1' })] });

    // The admin who removed the app is the event's user_id; the account is what the records are keyed by.
    const result = await run(queueMessageBody(deauthBody({ retention: 'false', userId: 'zu-admin' })));

    expect(result.batchItemFailures).toEqual([]);
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':value']?.S)).toEqual([
      'user#zu-admin',
      'account#za-1',
    ]);
    expect(updates().map((u) => u.Key?.pk?.S).sort()).toEqual(['USER#user-42', 'USER#user-8']);
    expect(published().map((e) => e.Detail.userId).sort()).toEqual(['user-42', 'user-8']);
    expect(deletes()).toEqual([`${CREDENTIALS}cred-a/`]);
    expect(forwards()).toHaveLength(1);
  });
});

describe('redelivery (Zoom retries, SQS redelivers)', () => {
  it('changes nothing more once the event was applied with retention: deletes meet 404, the forward repeats', async () => {
    // Prepare: the state the first delivery left
    table([item('user-42', 'revoked', 'cred-1'), item('user-7', 'revoked', 'cred-1')]);
    recallAnswers({ deleteStatus: 404 });

    // Act
    const result = await run(queueMessageBody(deauthBody({ retention: 'true' })));

    // Assess
    expect(result.batchItemFailures).toEqual([]);
    expect(updates()).toEqual([]);
    expect(published()).toEqual([]);
    expect(deletes()).toEqual([`${CREDENTIALS}cred-1/`]);
    expect(forwards()).toHaveLength(1);
  });

  it('changes nothing more once the event was applied without retention (the records left every index)', async () => {
    table([]);
    recallAnswers({ deleteStatus: 404 });

    const result = await run(queueMessageBody(deauthBody({ retention: 'false' })));

    expect(result.batchItemFailures).toEqual([]);
    expect(updates()).toEqual([]);
    expect(published()).toEqual([]);
    expect(deletes()).toEqual([]);
    expect(forwards()).toHaveLength(1);
  });

  it('still deletes a credential the first delivery left behind (it failed between the records and Recall)', async () => {
    table([]);
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });

    await run(queueMessageBody(deauthBody({ retention: 'false' })));

    expect(deletes()).toEqual([`${CREDENTIALS}cred-1/`]);
  });

  it('leaves a connection made after the deauthorization alone, however late the event is redelivered', async () => {
    // The user connected again after revoking: a new credential, a new record.
    table([item('user-42', 'connected', 'cred-2', { connectedAt: AFTER })]);
    recallAnswers({ byUser: [credential('cred-2', { user_id: 'zu-1' }, AFTER)] });

    const result = await run(queueMessageBody(deauthBody({ retention: 'false' })));

    expect(result.batchItemFailures).toEqual([]);
    expect(updates()).toEqual([]);
    expect(deletes()).toEqual([]);
    expect(published()).toEqual([]);
    expect(forwards()).toHaveLength(1);
  });

  it('fails the record (for SQS to retry) and does not forward when the table cannot be updated', async () => {
    table([item('user-42', 'connected', 'cred-1')]);
    ddb.on(UpdateItemCommand).rejects(new Error('ProvisionedThroughputExceeded'));
    recallAnswers();

    const result = await run(queueMessageBody(deauthBody({ retention: 'true' })));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    expect(forwards()).toEqual([]);
  });
});

describe('forwarding to Recall', () => {
  it('sends every event to the OAuth app webhook byte for byte, with the Zoom headers and no API key', async () => {
    // Prepare: bytes that a re-serialization would change
    const body = Buffer.from('{ "event":"meeting.started" ,"payload": {"topic":"Réunion – ü"}}', 'utf8');
    recallAnswers();

    // Act
    const result = await run(
      queueMessageBody(body, {
        timestamp: '1796061599',
        signature: `v0=${'cd'.repeat(32)}`,
        contentType: 'application/json; charset=utf-8',
      }),
    );

    // Assess
    expect(result.batchItemFailures).toEqual([]);
    const [forward] = forwards();
    expect(forward?.url).toBe(`https://us-west-2.recall.ai${FORWARD_PATH}`);
    expect(Buffer.from(forward?.body ?? new Uint8Array()).equals(body)).toBe(true);
    expect(forward?.headers.get('x-zm-signature')).toBe(`v0=${'cd'.repeat(32)}`);
    expect(forward?.headers.get('x-zm-request-timestamp')).toBe('1796061599');
    expect(forward?.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(forward?.headers.get('authorization')).toBeNull();
  });

  it('only forwards events other than app_deauthorized: no table or credential calls', async () => {
    recallAnswers();

    const result = await run(queueMessageBody('{"event":"meeting.started","payload":{"account_id":"za-1"}}'));

    expect(result.batchItemFailures).toEqual([]);
    expect(ddb.calls()).toEqual([]);
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`POST ${FORWARD_PATH}`]);
  });

  it('forwards endpoint.url_validation too', async () => {
    recallAnswers();

    await run(queueMessageBody('{"event":"endpoint.url_validation","payload":{"plainToken":"abc"}}'));

    expect(forwards()).toHaveLength(1);
  });

  it('sends application/json when Zoom sent no content-type', async () => {
    recallAnswers();

    await run(queueMessageBody('{"event":"meeting.started"}', { contentType: null }));

    expect(forwards()[0]?.headers.get('content-type')).toBe('application/json');
  });

  it('fails only the record whose forward got a 5xx; the others in the batch succeed', async () => {
    let forwarded = 0;
    recall.on((r) => {
      if (r.method !== 'POST') return undefined;
      forwarded++;
      return forwarded === 2 ? { status: 500, body: { detail: 'server error' } } : { status: 200, body: {} };
    });

    const result = await run(
      queueMessageBody('{"event":"meeting.started"}'),
      queueMessageBody('{"event":"meeting.ended"}'),
      queueMessageBody('{"event":"recording.completed"}'),
    );

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-2' }] });
    expect(forwards()).toHaveLength(3);
  });

  it('retries a 503 within the budget, then fails the record for SQS to retry', async () => {
    recallAnswers({ forward: { status: 503, body: {}, headers: { 'retry-after': '0' } } });

    const result = await run(queueMessageBody('{"event":"meeting.started"}'));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    expect(forwards()).toHaveLength(3);
  });

  it('fails the record on a 4xx, without retrying, and logs an error pointing at the webhook secret', async () => {
    recallAnswers({ forward: { status: 401, body: { detail: 'Invalid signature' } } });
    const error = vi.spyOn(logger, 'error');

    const result = await run(queueMessageBody('{"event":"meeting.started"}'));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    expect(forwards()).toHaveLength(1);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('webhook secret'), expect.objectContaining({ status: 401 }));
    error.mockRestore();
  });
});

describe('unusable messages', () => {
  it.each([
    ['not JSON', 'not json'],
    ['another version', JSON.parse(JSON.stringify(queueMessageBody('{"event":"x"}'))).replace('"v":1', '"v":2')],
    ['no signature header', JSON.stringify({ ...JSON.parse(queueMessageBody('{"event":"x"}')), headers: { 'x-zm-request-timestamp': '1' } })],
    ['a body that is not base64', JSON.stringify({ ...JSON.parse(queueMessageBody('{"event":"x"}')), bodyBase64: '%%%' })],
    ['a body that is not a Zoom event', queueMessageBody('{"payload":{}}')],
    ['app_deauthorized naming no Zoom identity', queueMessageBody('{"event":"app_deauthorized","payload":{"client_id":"c"}}')],
  ])('fails a message with %s, and only that one', async (_label, body) => {
    recallAnswers();
    const error = vi.spyOn(logger, 'error');

    const result = await run(body, queueMessageBody('{"event":"meeting.started"}'));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'msg-1' }] });
    expect(forwards()).toHaveLength(1);
    expect(error).toHaveBeenCalledWith(expect.stringContaining('Unusable webhook message'), expect.anything());
    error.mockRestore();
  });
});

describe('metrics', () => {
  it('counts DeauthorizationProcessed once the deauthorization is applied, even when the forward then fails', async () => {
    table([item('user-42', 'connected', 'cred-1')]);
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })], forward: { status: 503, body: {}, headers: { 'retry-after': '0' } } });

    const result = await run(queueMessageBody(deauthBody()));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
    const metrics = emitted();
    expect(metricSum(metrics, 'DeauthorizationProcessed')).toBe(1);
    // list by user, list by account, delete, and three forward attempts (two retried, the last unavailable)
    expect(metricSum(metrics, 'RecallCall')).toBe(6);
    expect(metricSum(metrics, 'RecallRetry')).toBe(2);
    expect(metricSum(metrics, 'RecallFailure')).toBe(1);
  });

  it('counts no deauthorization for other events', async () => {
    recallAnswers();

    await run(queueMessageBody('{"event":"meeting.started"}'));

    expect(metricSum(emitted(), 'DeauthorizationProcessed')).toBe(0);
    expect(metricSum(emitted(), 'RecallCall')).toBe(1);
  });

  it('keeps the cached API key when Recall refuses a forward (a 401 there is about the webhook secret)', async () => {
    // Prepare: a deauthorization has the key read and cached.
    table([item('user-42', 'connected', 'cred-1')]);
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });
    await run(queueMessageBody(deauthBody()));
    const readsBefore = secretsManager.commandCalls(GetSecretValueCommand).length;
    recall.reset();
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })], forward: { status: 401, body: { detail: 'Invalid signature' } } });

    // Act: a refused forward, then another deauthorization.
    await run(queueMessageBody('{"event":"meeting.started"}'));
    await run(queueMessageBody(deauthBody()));

    // Assess
    expect(secretsManager.commandCalls(GetSecretValueCommand).length).toBe(readsBefore);
  });
});

describe('before ops filled in the secrets', () => {
  it('fails a deauthorization with one Service misconfigured line while the Recall API key is a placeholder', async () => {
    // Prepare: a cold worker (nothing cached) and a Recall API key secret that is still the placeholder.
    process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
    vi.resetModules();
    const cold = (await import('../../../functions/handlers/webhook-worker/handler.js')).handler;
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'REPLACE_ME' });
    table([item('user-42', 'connected', 'cred-1')]);
    recallAnswers();

    try {
      // Act
      const result = (await cold(sqsEvent([{ messageId: 'msg-1', body: queueMessageBody(deauthBody()) }]), context)) as SQSBatchResponse;

      // Assess: SQS retries it (and dead-letters it in the end); the log says exactly what to fix.
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
      const errors = output.logs().filter((line) => line.level === 'ERROR');
      expect(errors).toEqual([
        expect.objectContaining({
          message: 'Service misconfigured',
          secret: AWS_FUNCTION_ENV.RECALL_API_KEY_SECRET_ID,
          fields: ['recallApiKey'],
          messageId: 'msg-1',
        }),
      ]);
    } finally {
      process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    }
  });
});
