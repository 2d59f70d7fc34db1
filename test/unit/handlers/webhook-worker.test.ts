import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { logger } from '../../../functions/core/logger.js';
import { connectionKey } from '../../../functions/core/table-schema.js';
import { AWS_FUNCTION_ENV } from '../../helpers/env.js';
import { type Answer, credential as recallCredential, type RecordedRequest } from '../../helpers/fake-recall-fetch.js';
import { handlerHarness, type HandlerOf } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { recordItem, storedConnection } from '../../helpers/records.js';
import { queueMessageBody, recordRawRequests, sqsEvent } from '../../helpers/zoom-webhook.js';

// Metrics on: some tests assert on them. The worker is not given the signing key; it publishes through the outbox.
let raw!: ReturnType<typeof recordRawRequests>;
const h = handlerHarness('webhook-worker', {
  env: { SIGNING_KEY_SECRET_ID: undefined, EVENT_BUS_NAME: 'recall-zoom-connect' },
  metrics: true,
  table: true,
  fetch: (recallFetch) => (raw = recordRawRequests(recallFetch)).fetch,
});
const { ddb, eventBridge, recall } = h;
beforeEach(() => {
  raw.requests.length = 0;
});

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const FORWARD_PATH = `/api/v2/zoom-oauth-apps/${APP}/webhook`;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const DEAUTHORIZED_AT = '2026-11-30T17:59:58.000Z';
const RECEIVED_AT = '2026-11-30T18:00:00.000Z';
const BEFORE = '2026-11-01T00:00:00.000Z';
const AFTER = '2026-11-30T18:05:00.000Z';

/** A Recall credential created before the deauthorization (unless `createdAt` says otherwise). */
const credential = (id: string, identity: { user_id?: string; account_id?: string }, createdAt = BEFORE) => ({
  ...recallCredential(id, identity),
  created_at: createdAt,
});

/** A record of Zoom account za-1, for `identity` (`user#zu-1` by default), connected before the deauthorization. */
const item = (
  userId: string,
  status: 'connected' | 'unhealthy' | 'revoked' | 'disconnected',
  credentialId: string,
  { identity = 'user#zu-1', connectedAt = BEFORE }: { identity?: string; connectedAt?: string } = {},
) =>
  recordItem(userId, status, credentialId, {
    zoomUserId: identity.startsWith('user#') ? identity.slice('user#'.length) : null,
    zoomIdentity: identity,
    connectedAt,
    updatedAt: connectedAt,
  });
/** The table holds these records. */
const table = (...items: ReturnType<typeof item>[]) => h.table.put(...items);
const stored = async (userId: string) => storedConnection(await h.table.get(connectionKey(userId)));
const storedAttributes = async (userId: string) => Object.keys((await h.table.get(connectionKey(userId))) ?? {});
const ZOOM_DATA = ['zoomAccountId', 'zoomUserId', 'zoomIdentity'];

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

const run = (...bodies: string[]) => runWith(h.handler, ...bodies);
const runWith = (handler: HandlerOf<'webhook-worker'>, ...bodies: string[]) =>
  handler(sqsEvent(bodies.map((body, i) => ({ messageId: `msg-${i + 1}`, body }))));

/** The records the worker wrote to. */
const updated = () => ddb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.Key?.pk?.S);
const deletes = () => recall.requests.filter((r) => r.method === 'DELETE').map((r) => r.path);
const forwards = () => raw.requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === FORWARD_PATH);
/** The events the revoke writes stored in the outbox; the worker itself never calls EventBridge. */
const published = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return h.table.outboxEvents().map((detail) => ({ DetailType: detailTypeOf(detail.type), Detail: detail }));
};
const emitted = () => h.emitted();

describe('app_deauthorized from a user-level app', () => {
  it('revokes every connection of the Zoom user, publishes revoked, deletes the credential, and forwards', async () => {
    // Prepare: two product users share the Zoom user's credential; a Zoom account colleague has their own
    await table(item('user-42', 'connected', 'cred-1'), item('user-7', 'unhealthy', 'cred-1'), item('user-9', 'connected', 'cred-9', { identity: 'user#zu-2' }));
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
    expect(updated().sort()).toEqual([connectionKey('user-42'), connectionKey('user-7')]);
    for (const userId of ['user-42', 'user-7']) {
      // With retention, revoked and nothing else: the Zoom ids stay.
      expect(await stored(userId)).toMatchObject({ status: 'revoked', recallCredentialId: 'cred-1', zoomUserId: 'zu-1', zoomAccountId: 'za-1' });
    }
    expect(await stored('user-9')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-9' });
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
    await table(item('user-42', 'connected', 'cred-1'), item('user-5', 'disconnected', 'cred-0'));
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });

    const result = await run(queueMessageBody(deauthBody({ retention })));

    expect(result.batchItemFailures).toEqual([]);
    // The connected record is revoked, the disconnected one stays so: both without their Zoom ids.
    expect(await stored('user-42')).toMatchObject({ status: 'revoked', updatedAt: expect.not.stringMatching(BEFORE) });
    expect(await stored('user-5')).toMatchObject({ status: 'disconnected', updatedAt: expect.not.stringMatching(BEFORE) });
    for (const userId of ['user-42', 'user-5']) {
      expect((await storedAttributes(userId)).filter((name) => ZOOM_DATA.includes(name))).toEqual([]);
    }
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
    await table(item('user-42', 'connected', 'cred-1'), item('user-5', 'disconnected', 'cred-0'));
    recallAnswers();

    await run(queueMessageBody(deauthBody({ retention })));

    expect(updated()).toEqual([connectionKey('user-42')]);
    expect(await stored('user-42')).toMatchObject({ status: 'revoked', zoomAccountId: 'za-1', zoomUserId: 'zu-1', zoomIdentity: 'user#zu-1' });
    // The `revoked` event keeps them too: copied from the record by the write.
    expect(published().map((e) => [e.Detail.userId, e.Detail.zoomUserId])).toEqual([['user-42', 'zu-1']]);
  });
});

describe('app_deauthorized from an account-level app', () => {
  it('revokes the connections keyed by the Zoom account and deletes its credential', async () => {
    await table(
      item('user-42', 'connected', 'cred-a', { identity: 'account#za-1' }),
      item('user-8', 'connected', 'cred-a', { identity: 'account#za-1' }),
    );
    recallAnswers({ byAccount: [credential('cred-a', { account_id: 'za-1' })] });

    // The admin who removed the app is the event's user_id; the account is what the records are keyed by.
    const result = await run(queueMessageBody(deauthBody({ retention: 'false', userId: 'zu-admin' })));

    expect(result.batchItemFailures).toEqual([]);
    expect(ddb.commandCalls(QueryCommand).map((c) => c.args[0].input.ExpressionAttributeValues?.[':value']?.S)).toEqual([
      'user#zu-admin',
      'account#za-1',
    ]);
    expect(updated().sort()).toEqual([connectionKey('user-42'), connectionKey('user-8')]);
    expect((await stored('user-8')).status).toBe('revoked');
    expect(published().map((e) => e.Detail.userId).sort()).toEqual(['user-42', 'user-8']);
    expect(deletes()).toEqual([`${CREDENTIALS}cred-a/`]);
    expect(forwards()).toHaveLength(1);
  });
});

describe('redelivery (Zoom retries, SQS redelivers)', () => {
  it.each([
    // The records the first delivery left revoked, and Recall's credential already deleted.
    ['with retention: deletes meet 404, the forward repeats', 'true', [item('user-42', 'revoked', 'cred-1'), item('user-7', 'revoked', 'cred-1')], [`${CREDENTIALS}cred-1/`]],
    // The records left every index with their Zoom ids: the worker finds nothing to change.
    ['without retention (the records left every index)', 'false', [], []],
  ])('changes nothing more once the event was applied %s', async (_case, retention, records, deleted) => {
    await table(...records);
    recallAnswers({ deleteStatus: 404 });

    const result = await run(queueMessageBody(deauthBody({ retention })));

    expect(result.batchItemFailures).toEqual([]);
    expect(updated()).toEqual([]);
    expect(published()).toEqual([]);
    expect(deletes()).toEqual(deleted);
    expect(forwards()).toHaveLength(1);
  });

  it('still deletes a credential the first delivery left behind (it failed between the records and Recall)', async () => {
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });

    await run(queueMessageBody(deauthBody({ retention: 'false' })));

    expect(deletes()).toEqual([`${CREDENTIALS}cred-1/`]);
  });

  it('leaves a connection made after the deauthorization alone, however late the event is redelivered', async () => {
    // The user connected again after revoking: a new credential, a new record.
    await table(item('user-42', 'connected', 'cred-2', { connectedAt: AFTER }));
    recallAnswers({ byUser: [credential('cred-2', { user_id: 'zu-1' }, AFTER)] });

    const result = await run(queueMessageBody(deauthBody({ retention: 'false' })));

    expect(result.batchItemFailures).toEqual([]);
    expect(await stored('user-42')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-2', zoomUserId: 'zu-1' });
    expect(deletes()).toEqual([]);
    expect(published()).toEqual([]);
    expect(forwards()).toHaveLength(1);
  });

  it('fails the record (for SQS to retry) and does not forward when the table cannot be updated', async () => {
    await table(item('user-42', 'connected', 'cred-1'));
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
    await table(item('user-42', 'connected', 'cred-1'));
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
    await table(item('user-42', 'connected', 'cred-1'));
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })] });
    await run(queueMessageBody(deauthBody()));
    const readsBefore = h.secretsManager.commandCalls(GetSecretValueCommand).length;
    recall.reset();
    recallAnswers({ byUser: [credential('cred-1', { user_id: 'zu-1' })], forward: { status: 401, body: { detail: 'Invalid signature' } } });

    // Act: a refused forward, then another deauthorization.
    await run(queueMessageBody('{"event":"meeting.started"}'));
    await run(queueMessageBody(deauthBody()));

    // Assess
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).length).toBe(readsBefore);
  });
});

describe('before ops filled in the secrets', () => {
  it('fails a deauthorization with one Service misconfigured line while the Recall API key is a placeholder', async () => {
    // Prepare: a cold worker (nothing cached, logging errors) and a Recall API key secret that is still the placeholder.
    const cold = await h.cold({ POWERTOOLS_LOG_LEVEL: 'INFO' });
    h.secretsManager.reset();
    h.secretsManager.on(GetSecretValueCommand).resolves({ SecretString: 'REPLACE_ME' });
    await table(item('user-42', 'connected', 'cred-1'));
    recallAnswers();

    // Act
    const result = await runWith(cold, queueMessageBody(deauthBody()));

    // Assess: SQS retries it (and dead-letters it in the end); the log says exactly what to fix.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'msg-1' }]);
    expect(h.output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'Service misconfigured',
        secret: AWS_FUNCTION_ENV.RECALL_API_KEY_SECRET_ID,
        fields: ['recallApiKey'],
        messageId: 'msg-1',
      }),
    ]);
  });
});
