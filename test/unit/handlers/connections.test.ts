import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { connectionKey } from '../../../functions/core/table-schema.js';
import { filledSecret } from '../../helpers/aws.js';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { handlerHarness, type HandlerOf } from '../../helpers/handler-harness.js';
import { recordItem, storedConnection } from '../../helpers/records.js';

// Set as a careless deployment might: this function must still never call EventBridge.
const h = handlerHarness('connections', { env: { EVENT_BUS_NAME: 'recall-zoom-connect-events' }, table: true });
const { ddb, eventBridge, recall } = h;

/** The events the writes hold in the outbox: the function itself never calls EventBridge. */
const publishedEvents = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return h.table.outboxEvents().map((detail) => ({ DetailType: detailTypeOf(detail.type), detail }));
};
const storedRecord = async (userId: string) => storedConnection(await h.table.get(connectionKey(userId)));

async function call(method: 'GET' | 'DELETE' | 'POST', userId: string, handler: HandlerOf<'connections'> = h.handler) {
  recall.on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
  return handler(
    httpEvent({
      method,
      path: `/connections/${encodeURIComponent(userId)}`,
      routeKey: `${method} /connections/{userId}`,
      pathParameters: { userId },
    }),
  );
}

describe('GET /connections/{userId}', () => {
  it('returns the connection with its Recall credential and Zoom ids', async () => {
    await h.table.put(recordItem('user-42', 'connected'));

    const response = await call('GET', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(response.body))).toEqual({
      userId: 'user-42',
      status: 'connected',
      recallCredentialId: 'cred-1',
      zoomAccountId: 'za-1',
      zoomUserId: 'zu-1',
      oauthAppId: AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID,
      connectedAt: '2026-11-01T00:00:00.000Z',
      updatedAt: '2026-11-01T00:00:00.000Z',
    });
    expect(ddb.commandCalls(GetItemCommand)[0]?.args[0].input.ConsistentRead).toBe(true);
    // Reading changes nothing, so it announces nothing.
    expect(publishedEvents()).toEqual([]);
  });

  it('returns 404 JSON for a user who never connected', async () => {
    const response = await call('GET', 'nobody');

    expect(response.statusCode).toBe(404);
    expect(response.headers?.['content-type']).toContain('application/json');
  });

  it('refuses an oversized user id with a 400 and no lookup', async () => {
    const response = await call('GET', 'u'.repeat(300));

    expect(response.statusCode).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('DELETE /connections/{userId}', () => {
  it('marks the connection disconnected, then deletes the Recall credential nobody else uses', async () => {
    await h.table.put(recordItem('user-42', 'connected'));

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(String(response.body)).status).toBe('disconnected');
    expect(recall.requests).toEqual([
      expect.objectContaining({
        method: 'DELETE',
        path: '/api/v2/zoom-oauth-credentials/cred-1/',
        authorization: `Token ${SECRETS.recallApiKey}`,
      }),
    ]);
    expect(await storedRecord('user-42')).toMatchObject({ status: 'disconnected', recallCredentialId: 'cred-1' });
    // The `disconnected` event rides in that write (the outbox): the function never calls EventBridge.
    expect(publishedEvents()).toEqual([
      {
        DetailType: 'Zoom connection disconnected.v1',
        detail: {
          schemaVersion: 1,
          eventId: expect.any(String),
          type: 'disconnected',
          userId: 'user-42',
          status: 'disconnected',
          recallCredentialId: 'cred-1',
          zoomAccountId: 'za-1',
          zoomUserId: 'zu-1',
          occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        },
      },
    ]);
  });

  it('publishes `disconnected` for a revoked connection it ends, without deleting the credential (already gone)', async () => {
    await h.table.put(recordItem('user-42', 'revoked'));

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(recall.requests).toHaveLength(0);
    expect(publishedEvents().map(({ detail }) => detail.type)).toEqual(['disconnected']);
  });

  it.each([
    ['keeps the Recall credential while another connected user of the same Zoom identity relies on it', ['connected'], []],
    ['deletes the credential when the only other users sharing it are disconnected or revoked', ['disconnected', 'revoked'], ['DELETE']],
  ] as const)('%s', async (_case, others, recallCalls) => {
    await h.table.put(recordItem('user-42', 'connected'), ...others.map((status, i) => recordItem(`user-${7 + i}`, status)));

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(recall.requests.map((r) => r.method)).toEqual(recallCalls);
  });

  it('is idempotent: an already disconnected user gets 200 and nothing is deleted twice', async () => {
    await h.table.put(recordItem('user-42', 'disconnected'));

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
    expect(publishedEvents()).toEqual([]);
  });

  it('leaves a connection that changed meanwhile alone (a reconnect wins over a stale disconnect)', async () => {
    // The function reads the record on cred-1; a reconnect onto cred-2 lands before its write.
    await h.table.put(recordItem('user-42', 'connected', 'cred-1'));
    h.table.beforeNextWrite(() => h.table.put(recordItem('user-42', 'connected', 'cred-2')));

    const response = await call('DELETE', 'user-42');

    expect(JSON.parse(String(response.body))).toMatchObject({ status: 'connected', recallCredentialId: 'cred-2' });
    expect(await storedRecord('user-42')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-2' });
    expect(recall.requests).toHaveLength(0);
    expect(publishedEvents()).toEqual([]);
  });

  it('returns 404 for a user who never connected', async () => {
    const response = await call('DELETE', 'nobody');

    expect(response.statusCode).toBe(404);
  });

  it('answers 405 for other methods', async () => {
    const response = await call('POST', 'user-42');

    expect(response.statusCode).toBe(405);
  });
});

describe('/connections/{userId} before ops filled in the secrets', () => {
  it('answers DELETE with a 503 JSON that says so, before changing anything', async () => {
    // Prepare: a cold function and a Recall API key secret still holding the placeholder.
    filledSecret(h.secretsManager, 'recallApiKey', 'REPLACE_ME');
    await h.table.put(recordItem('user-42', 'connected'));

    // Act
    const response = await call('DELETE', 'user-42', await h.cold());

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['content-type']).toContain('application/json');
    expect(JSON.parse(String(response.body))).toEqual({ error: 'The service is not configured yet.' });
    expect(await storedRecord('user-42')).toMatchObject({ status: 'connected' });
    expect(recall.requests).toHaveLength(0);
    expect(publishedEvents()).toEqual([]);
  });

  it('still answers GET, which needs no secret', async () => {
    h.secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await h.table.put(recordItem('user-42', 'connected'));

    const response = await call('GET', 'user-42', await h.cold());

    expect(response.statusCode).toBe(200);
  });
});
