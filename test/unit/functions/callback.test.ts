import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '../../../functions/shared/crypto.js';
import { ConnectionEventDetailSchema, EVENT_SOURCE } from '../../../functions/shared/events.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { FakeRecallFetch, credential } from '../../helpers/fake-recall-fetch.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

const BUS = 'recall-zoom-connect-events';
useAwsFunctionEnv();
process.env.EVENT_BUS_NAME = BUS;
// Logs and metrics on: some tests assert on them; the capture keeps them out of the test output.
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const recall = new FakeRecallFetch();
vi.stubGlobal('fetch', recall.fetch);
const ddb = mockClient(DynamoDBClient);
const eventBridge = mockClient(EventBridgeClient);
let handler: (typeof import('../../../functions/callback/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/callback/handler.js'));
});
afterAll(() => {
  delete process.env.EVENT_BUS_NAME;
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

const STATE = 'state-from-zoom-redirect-0123456789abcdefghijklmnop';
const STATE_ID = sha256Hex(STATE);
const COOKIE_NAME = `zc_${STATE_ID.slice(0, 16)}`;
const NONCE = 'browser-binding-nonce';
const CODE = 'one-time-zoom-code-XYZ';
const RETURN_TO = 'https://app.example.com/settings/?tab=zoom';
const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';

const stateItem = (overrides: Record<string, AttributeValue> = {}): Record<string, AttributeValue> => ({
  pk: { S: `STATE#${STATE_ID}` },
  userId: { S: 'user-42' },
  returnTo: { S: RETURN_TO },
  codeVerifier: { S: 'verifier-abc' },
  bindingHash: { S: sha256Hex(NONCE) },
  expiresAt: { N: String(Math.floor(Date.now() / 1000) + 300) },
  reauthCount: { N: '0' },
  correlationId: { S: 'corr-1' },
  ...overrides,
});

const connectionItem = (userId: string, credentialId: string, status = 'connected'): Record<string, AttributeValue> => ({
  pk: { S: `USER#${userId}` },
  userId: { S: userId },
  status: { S: status },
  recallCredentialId: { S: credentialId },
  zoomAccountId: { NULL: true },
  zoomUserId: { S: 'zu-1' },
  zoomIdentity: { S: 'user#zu-1' },
  oauthAppId: { S: APP },
  connectedAt: { S: '2026-11-01T00:00:00.000Z' },
  updatedAt: { S: '2026-11-01T00:00:00.000Z' },
});

beforeEach(() => {
  recall.reset();
  ddb.reset();
  ddb.on(DeleteItemCommand).resolves({ Attributes: stateItem() });
  ddb.on(PutItemCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(UpdateItemCommand).resolves({});
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
  secretsManager = mockSecretsManager();
  output = captureOutput();
});
afterEach(() => {
  output.restore();
});

let secretsManager: ReturnType<typeof mockSecretsManager>;
let output: CapturedOutput;
const emitted = () => metricsOf(output.emf());
const SERVICE = { service: 'recall-zoom-connect' };

/** A handler with nothing cached yet: a fresh module instance, as a cold start gets. */
async function coldHandler(): Promise<typeof handler> {
  vi.resetModules();
  return (await import('../../../functions/callback/handler.js')).handler;
}

/** Every entry sent to EventBridge, its detail parsed by the published schema. */
const publishedEvents = () =>
  eventBridge.commandCalls(PutEventsCommand).flatMap((call) =>
    (call.args[0].input.Entries ?? []).map((entry) => ({
      EventBusName: entry.EventBusName,
      Source: entry.Source,
      DetailType: entry.DetailType,
      detail: ConnectionEventDetailSchema.parse(JSON.parse(String(entry.Detail))),
    })),
  );
const publishedTypes = () => publishedEvents().map(({ detail }) => `${detail.type} ${detail.userId}`);

async function callback(
  query: Record<string, string>,
  cookies: string[] | undefined = [`${COOKIE_NAME}=${NONCE}`],
): Promise<APIGatewayProxyStructuredResultV2> {
  const event = httpEvent({ path: '/zoom/callback', query, ...(cookies ? { cookies } : {}) });
  return (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
}

const outcomeOf = (response: APIGatewayProxyStructuredResultV2) => {
  const url = new URL(String(response.headers?.location));
  return { url, connect: url.searchParams.get('zoom_connect'), reason: url.searchParams.get('reason') };
};

const creates = () => recall.requests.filter((r) => r.method === 'POST');

describe('GET /zoom/callback', () => {
  it('exchanges the code at Recall, records the connection and lands on zoom_connect=connected', async () => {
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(302);
    expect(String(response.headers?.location)).toBe(`${RETURN_TO}&zoom_connect=connected`);
    expect(recall.requests).toEqual([
      {
        method: 'POST',
        path: CREDENTIALS,
        authorization: `Token ${SECRETS.recallApiKey}`,
        contentType: 'application/json',
        body: {
          oauth_app: APP,
          authorization_code: { code: CODE, redirect_uri: AWS_FUNCTION_ENV.ZOOM_REDIRECT_URI, code_verifier: 'verifier-abc' },
        },
      },
    ]);
    const put = ddb.commandCalls(PutItemCommand)[0]?.args[0].input.Item;
    expect(put?.pk?.S).toBe('USER#user-42');
    expect(put?.status?.S).toBe('connected');
    expect(put?.recallCredentialId?.S).toBe('cred-1');
    expect(put?.zoomIdentity?.S).toBe('user#zu-1');
    // Happy path budget: consume the state and write the record, nothing more.
    expect(ddb.calls()).toHaveLength(2);
    expect(response.cookies?.[0]).toMatch(new RegExp(`^${COOKIE_NAME}=; Max-Age=0; Path=/zoom/callback`));
    // ...and one PutEvents: `connected`, after the write, carrying the attempt's correlation id.
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    expect(publishedEvents()).toEqual([
      {
        EventBusName: BUS,
        Source: EVENT_SOURCE,
        DetailType: 'Zoom connection connected.v1',
        detail: {
          schemaVersion: 1,
          type: 'connected',
          userId: 'user-42',
          status: 'connected',
          recallCredentialId: 'cred-1',
          zoomAccountId: null,
          zoomUserId: 'zu-1',
          occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
          correlationId: 'corr-1',
        },
      },
    ]);
  });

  it.each([
    ['PutEvents throws', () => eventBridge.on(PutEventsCommand).rejects(new Error('AccessDeniedException'))],
    ['PutEvents rejects the entry', () => eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1 })],
  ])('still lands on zoom_connect=connected when %s', async (_case, failPublishing) => {
    failPublishing();
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE });

    expect(String(response.headers?.location)).toBe(`${RETURN_TO}&zoom_connect=connected`);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(1);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(1);
  });

  it('publishes `replaced` for the user when their own credential for the same Zoom identity changed', async () => {
    ddb.on(PutItemCommand).resolves({ Attributes: connectionItem('user-42', 'cred-old') });
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(publishedTypes()).toEqual(['connected user-42', 'replaced user-42']);
    expect(publishedEvents()[1]?.detail).toMatchObject({
      recallCredentialId: 'cred-1',
      previousRecallCredentialId: 'cred-old',
      correlationId: 'corr-1',
    });
  });

  it('publishes only `connected` on a reconnect after a disconnect (the product already heard the old id end)', async () => {
    ddb.on(PutItemCommand).resolves({ Attributes: connectionItem('user-42', 'cred-old', 'disconnected') });
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    await callback({ code: CODE, state: STATE });

    expect(publishedTypes()).toEqual(['connected user-42']);
  });

  it('consumes the state with one conditional delete bound to the cookie and expiry', async () => {
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    await callback({ code: CODE, state: STATE });

    const input = ddb.commandCalls(DeleteItemCommand)[0]?.args[0].input;
    expect(input?.Key?.pk?.S).toBe(`STATE#${STATE_ID}`);
    expect(input?.ConditionExpression).toBe('attribute_exists(#pk) AND #binding = :binding AND #exp > :now');
    expect(input?.ExpressionAttributeValues?.[':binding']?.S).toBe(sha256Hex(NONCE));
  });

  it('treats a Recall 2xx that returns the existing credential as connected (update in place)', async () => {
    ddb.on(PutItemCommand).resolves({ Attributes: connectionItem('user-42', 'cred-existing') });
    recall.on(() => ({ status: 200, body: credential('cred-existing', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(creates()).toHaveLength(1);
    expect(recall.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    // Same credential as before: nothing was replaced.
    expect(publishedTypes()).toEqual(['connected user-42']);
  });

  it.each([
    ['user', { conflicting_zoom_user_id: 'zu-1' }, 'user_id=zu-1', { user_id: 'zu-1' }],
    ['account', { conflicting_zoom_account_id: 'za-9' }, 'account_id=za-9', { account_id: 'za-9' }],
  ])(
    'resolves a %s-level conflict: list by oauth_app + Zoom id, delete by Recall id, create again',
    async (_level, conflictBody, filter, identity) => {
      let created = 0;
      recall
        .on((r) =>
          r.method === 'POST' && created++ === 0 ? { status: 400, body: { detail: 'already exists', ...conflictBody } } : undefined,
        )
        .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-new', identity) } : undefined))
        .on((r) =>
          r.method === 'GET' ? { status: 200, body: { next: null, results: [credential('cred-old', identity)] } } : undefined,
        )
        .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
      const zoomIdentity = 'user_id' in identity ? 'user#zu-1' : 'account#za-9';
      ddb.on(QueryCommand).resolves({
        Items: [{ ...connectionItem('user-7', 'cred-old'), zoomIdentity: { S: zoomIdentity } }],
      });

      const response = await callback({ code: CODE, state: STATE });

      expect(outcomeOf(response).connect).toBe('connected');
      expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST ${CREDENTIALS}`,
        `GET ${CREDENTIALS}?oauth_app=${APP}&${filter}`,
        `DELETE ${CREDENTIALS}cred-old/`,
        `POST ${CREDENTIALS}`,
      ]);
      // The other product user of the same Zoom identity now points at the new credential.
      const repoint = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
      expect(repoint?.Key?.pk?.S).toBe('USER#user-7');
      expect(repoint?.ExpressionAttributeValues?.[':to']?.S).toBe('cred-new');
      expect(repoint?.ExpressionAttributeValues?.[':from']?.S).toBe('cred-old');
      // The product hears of both: the user connected, the sharer moved to the new credential.
      expect(publishedTypes()).toEqual(['connected user-42', 'replaced user-7']);
      expect(publishedEvents()[1]?.detail).toMatchObject({
        status: 'connected',
        recallCredentialId: 'cred-new',
        previousRecallCredentialId: 'cred-old',
        correlationId: 'corr-1',
      });
    },
  );

  it('sends the user back to Zoom with a fresh state when Recall says the code was spent during the conflict', async () => {
    let created = 0;
    recall
      .on((r) =>
        r.method === 'POST'
          ? created++ === 0
            ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } }
            : { status: 400, body: { detail: `invalid_grant for code ${CODE}` } }
          : undefined,
      )
      .on((r) => (r.method === 'GET' ? { status: 200, body: { next: null, results: [credential('cred-old', { user_id: 'zu-1' })] } } : undefined))
      .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
    ddb.on(QueryCommand).resolves({ Items: [connectionItem('user-7', 'cred-old')] });
    ddb.on(UpdateItemCommand).resolves({ Attributes: connectionItem('user-7', 'cred-old', 'unhealthy') });

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(302);
    const location = new URL(String(response.headers?.location));
    expect(`${location.origin}${location.pathname}`).toBe('https://zoom.us/oauth/authorize');
    const newState = location.searchParams.get('state');
    expect(newState).not.toBe(STATE);
    const saved = ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input.Item);
    expect(saved).toHaveLength(1);
    expect(saved[0]?.pk?.S).toBe(`STATE#${sha256Hex(newState ?? '')}`);
    expect(saved[0]?.reauthCount?.N).toBe('1');
    expect(saved[0]?.userId?.S).toBe('user-42');
    // Old cookie cleared, new one set.
    expect(response.cookies).toHaveLength(2);
    // The sharer's record no longer claims a credential that is gone.
    const marked = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(marked?.ExpressionAttributeValues?.[':status']?.S).toBe('unhealthy');
    expect(publishedEvents()).toEqual([
      expect.objectContaining({
        DetailType: 'Zoom connection unhealthy.v1',
        detail: expect.objectContaining({
          type: 'unhealthy',
          userId: 'user-7',
          status: 'unhealthy',
          recallCredentialId: 'cred-old',
          correlationId: 'corr-1',
        }),
      }),
    ]);
  });

  it('re-authorizes at most once: a second spent code ends with reason=code_rejected', async () => {
    ddb.on(DeleteItemCommand).resolves({ Attributes: stateItem({ reauthCount: { N: '1' } }) });
    let created = 0;
    recall
      .on((r) =>
        r.method === 'POST'
          ? created++ === 0
            ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } }
            : { status: 400, body: { detail: 'invalid_grant' } }
          : undefined,
      )
      .on((r) => (r.method === 'GET' ? { status: 200, body: { next: null, results: [] } } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'code_rejected' });
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });

  it('lands on reason=code_rejected when Recall rejects the code outright (invalid grant), without logging the code', async () => {
    recall.on(() => ({ status: 400, body: { detail: `Invalid Grant: code ${CODE} is invalid` } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'code_rejected' });
    expect(String(response.headers?.location)).not.toContain(CODE);
    expect(creates()).toHaveLength(1);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });

  it('lands on reason=recall_unavailable when Recall answers 503', async () => {
    recall.on(() => ({ status: 503, body: { detail: 'overloaded' } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('lands on reason=recall_rejected when Recall refuses the API key', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_rejected' });
  });

  it.each(['access_denied', undefined])(
    'lands on zoom_connect=denied when Zoom returns no code (error=%s) and never calls Recall',
    async (error) => {
      const response = await callback({ state: STATE, ...(error ? { error } : {}) });

      expect(String(response.headers?.location)).toBe(`${RETURN_TO}&zoom_connect=denied`);
      expect(recall.requests).toHaveLength(0);
    },
  );

  it('answers a 400 page for a replayed or forged state and never calls Recall', async () => {
    ddb.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetItemCommand).resolves({});

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(400);
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).toContain('already been used');
    expect(response.body).not.toContain(CODE);
    expect(recall.requests).toHaveLength(0);
  });

  it('refuses a callback from a browser without the binding cookie, keeps the state, and never calls Recall', async () => {
    ddb.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetItemCommand).resolves({ Item: stateItem() });

    const response = await callback({ code: CODE, state: STATE }, []);

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'browser_mismatch' });
    expect(ddb.commandCalls(DeleteItemCommand)[0]?.args[0].input.ExpressionAttributeValues?.[':binding']?.S).toBe('-');
    expect(ddb.commandCalls(DeleteItemCommand)).toHaveLength(1);
    expect(recall.requests).toHaveLength(0);
  });

  it('sends the hash of a wrong binding cookie, so another browser\'s cookie cannot match', async () => {
    ddb.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetItemCommand).resolves({ Item: stateItem() });

    const response = await callback({ code: CODE, state: STATE }, [`${COOKIE_NAME}=someone-elses-nonce`]);

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'browser_mismatch' });
    const sent = ddb.commandCalls(DeleteItemCommand)[0]?.args[0].input.ExpressionAttributeValues?.[':binding']?.S;
    expect(sent).toBe(sha256Hex('someone-elses-nonce'));
    expect(recall.requests).toHaveLength(0);
  });

  it('lands on reason=state_expired for an expired state and never calls Recall', async () => {
    ddb.on(DeleteItemCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetItemCommand).resolves({ Item: stateItem({ expiresAt: { N: String(Math.floor(Date.now() / 1000) - 1) } }) });

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'state_expired' });
    expect(recall.requests).toHaveLength(0);
  });

  it.each([
    ['without state', { code: CODE }],
    ['with an oversized code', { code: 'x'.repeat(5000), state: STATE }],
  ])('answers a 400 page for a callback %s', async (_case, query) => {
    const response = await callback(query);

    expect(response.statusCode).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });

  it('releases the old credential when the user switches to another Zoom identity nobody else uses', async () => {
    ddb.on(PutItemCommand).resolves({
      Attributes: { ...connectionItem('user-42', 'cred-other'), zoomIdentity: { S: 'user#zu-old' } },
    });
    recall
      .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined))
      .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toContain(`DELETE ${CREDENTIALS}cred-other/`);
    expect(publishedTypes()).toEqual(['connected user-42', 'replaced user-42']);
    expect(publishedEvents()[1]?.detail.previousRecallCredentialId).toBe('cred-other');
  });
});

describe('GET /zoom/callback: metrics', () => {
  const created = () => recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

  it('counts ConnectCompleted and one metered Recall call, tagged with the attempt\'s correlation id', async () => {
    created();

    await callback({ code: CODE, state: STATE });

    const metrics = emitted();
    expect(metricSum(metrics, 'ConnectCompleted')).toBe(1);
    expect(metricSum(metrics, 'RecallCall')).toBe(1);
    expect(metricSum(metrics, 'ConnectFailed')).toBe(0);
    expect(metrics.find((metric) => metric.name === 'RecallLatency')).toMatchObject({ unit: 'Milliseconds' });
    expect(metrics.every((metric) => metric.namespace === 'RecallZoomConnect')).toBe(true);
    expect(metrics[0]?.metadata).toEqual({ correlationId: 'corr-1' });
    expect(output.text()).not.toContain(CODE);
  });

  it('counts ConnectDenied when the user declined at Zoom', async () => {
    await callback({ state: STATE, error: 'access_denied' });

    expect(metricSum(emitted(), 'ConnectDenied')).toBe(1);
    expect(metricSum(emitted(), 'RecallCall')).toBe(0);
  });

  it('counts ConflictResolved for a conflict deleted and created again', async () => {
    let creates = 0;
    recall
      .on((r) => (r.method === 'POST' && creates++ === 0 ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } } : undefined))
      .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-new', { user_id: 'zu-1' }) } : undefined))
      .on((r) => (r.method === 'GET' ? { status: 200, body: { next: null, results: [credential('cred-old', { user_id: 'zu-1' })] } } : undefined))
      .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));

    await callback({ code: CODE, state: STATE });

    expect(metricSum(emitted(), 'ConflictResolved')).toBe(1);
    expect(metricSum(emitted(), 'ConnectCompleted')).toBe(1);
    expect(metricSum(emitted(), 'RecallCall')).toBe(4);
  });

  it('counts a Reauthorization when the code was spent resolving a conflict', async () => {
    let creates = 0;
    recall
      .on((r) =>
        r.method === 'POST'
          ? creates++ === 0
            ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } }
            : { status: 400, body: { detail: 'invalid_grant' } }
          : undefined,
      )
      .on((r) => (r.method === 'GET' ? { status: 200, body: { next: null, results: [] } } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\//);
    expect(metricSum(emitted(), 'Reauthorization')).toBe(1);
    expect(metricSum(emitted(), 'ConnectFailed')).toBe(0);
  });

  it('counts RecallRetry for a 429 that was retried', async () => {
    let creates = 0;
    recall.on((r) =>
      r.method === 'POST'
        ? creates++ === 0
          ? { status: 429, body: {}, headers: { 'retry-after': '0' } }
          : { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }
        : undefined,
    );

    await callback({ code: CODE, state: STATE });

    expect(metricSum(emitted(), 'RecallRetry')).toBe(1);
    expect(metricSum(emitted(), 'RecallCall')).toBe(2);
    expect(metricSum(emitted(), 'RecallFailure')).toBe(0);
  });

  const failures: Array<[string, () => void, string]> = [
    ['Recall rejects the code', () => recall.on(() => ({ status: 400, body: { detail: `bad code ${CODE}` } })), 'code_rejected'],
    ['Recall answers 503', () => recall.on(() => ({ status: 503, body: { detail: 'overloaded' } })), 'recall_unavailable'],
    ['Recall refuses the API key', () => recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } })), 'recall_rejected'],
    [
      'the state expired',
      () => {
        ddb.on(DeleteItemCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
        ddb.on(GetItemCommand).resolves({ Item: stateItem({ expiresAt: { N: '1' } }) });
      },
      'state_expired',
    ],
    [
      'another browser came back',
      () => {
        ddb.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
        ddb.on(GetItemCommand).resolves({ Item: stateItem() });
      },
      'browser_mismatch',
    ],
    [
      'the record cannot be written',
      () => {
        created();
        ddb.on(PutItemCommand).rejects(new Error('InternalServerError'));
      },
      'internal',
    ],
  ];

  it.each(failures)('counts ConnectFailed, in total and by reason, when %s', async (_case, prepare, reason) => {
    prepare();

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason });
    const metrics = emitted();
    expect(metricSum(metrics, 'ConnectFailed')).toBe(1);
    expect(metricSum(metrics, 'ConnectFailed', { ...SERVICE, reason })).toBe(1);
    expect(metricSum(metrics, 'ConnectCompleted')).toBe(0);
    expect(output.text()).not.toContain(CODE);
    expect(output.text()).not.toContain(STATE);
  });

  it('counts RecallFailure when Recall is unavailable', async () => {
    recall.on(() => ({ status: 503, body: { detail: 'overloaded' } }));

    await callback({ code: CODE, state: STATE });

    expect(metricSum(emitted(), 'RecallFailure')).toBe(1);
  });

  it('counts nothing for a replayed state (a 400 page, not an attempt)', async () => {
    ddb.on(DeleteItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb.on(GetItemCommand).resolves({});

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(400);
    expect(emitted()).toEqual([]);
  });

  it('counts ConnectFailed with reason=internal for a 500 page (the state could not be read)', async () => {
    ddb.on(DeleteItemCommand).rejects(new Error('ServiceUnavailable'));

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(500);
    expect(metricSum(emitted(), 'ConnectFailed', { ...SERVICE, reason: 'internal' })).toBe(1);
  });

  it('counts EventPublishFailed for lifecycle events the bus did not take', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1 });
    created();

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(metricSum(emitted(), 'EventPublishFailed')).toBe(1);
  });
});

describe('GET /zoom/callback before ops filled in the secrets', () => {
  it('lands on reason=misconfigured with one clear log line when the Recall API key is a placeholder', async () => {
    // Prepare
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: SECRETS.zoomClientId }),
    });
    const cold = await coldHandler();

    // Act
    const response = (await cold(
      httpEvent({ path: '/zoom/callback', query: { code: CODE, state: STATE }, cookies: [`${COOKIE_NAME}=${NONCE}`] }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(302);
    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'misconfigured' });
    expect(recall.requests).toHaveLength(0);
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'Service misconfigured',
        secret: AWS_FUNCTION_ENV.APP_SECRET_ID,
        fields: ['recallApiKey'],
        correlationId: 'corr-1',
      }),
    ]);
    expect(output.text()).not.toContain(SECRETS.zoomClientId);
    expect(metricSum(emitted(), 'ConnectFailed', { ...SERVICE, reason: 'misconfigured' })).toBe(1);
  });
});

describe('GET /zoom/callback across a Recall API key rotation', () => {
  it('reads the API key again after Recall refuses it (401), so the next callback uses the rotated key', async () => {
    // Prepare: a warm container holds the old key; ops have rotated it and Recall revoked the old one.
    const cold = await coldHandler();
    const event = () =>
      httpEvent({ path: '/zoom/callback', query: { code: CODE, state: STATE }, cookies: [`${COOKIE_NAME}=${NONCE}`] });
    recall.on((r) =>
      r.authorization === `Token ${SECRETS.recallApiKey}`
        ? { status: 401, body: { detail: 'Invalid token.' } }
        : { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) },
    );
    const rotated = 'recall-api-key-after-the-rotation-42';
    const first = (await cold(event(), context)) as APIGatewayProxyStructuredResultV2;
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: rotated, zoomClientId: SECRETS.zoomClientId }),
    });

    // Act: the next callback, well within the 5-minute secrets cache.
    const second = (await cold(event(), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(outcomeOf(first)).toMatchObject({ connect: 'error', reason: 'recall_rejected' });
    expect(outcomeOf(second).connect).toBe('connected');
    expect(recall.requests.map((r) => r.authorization)).toEqual([`Token ${SECRETS.recallApiKey}`, `Token ${rotated}`]);
    expect(output.logs().map((line) => line.message)).toContain(
      'Recall refused the API key (401): check recallApiKey in the app secret; it is read again on the next call',
    );
    expect(output.text()).not.toContain(SECRETS.recallApiKey);
    expect(output.text()).not.toContain(rotated);
  });
});
