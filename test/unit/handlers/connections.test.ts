import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { filledSecret, mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { FakeRecallFetch } from '../../helpers/fake-recall-fetch.js';
import { outboxEventsOf } from '../../helpers/outbox.js';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';

useAwsFunctionEnv();
// Set as a careless deployment might: this function must still never call EventBridge.
process.env.EVENT_BUS_NAME = 'recall-zoom-connect-events';
const recall = new FakeRecallFetch();
vi.stubGlobal('fetch', recall.fetch);
const ddb = mockClient(DynamoDBClient);
const eventBridge = mockClient(EventBridgeClient);
let handler: (typeof import('../../../functions/handlers/connections/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/handlers/connections/handler.js'));
});
afterAll(() => {
  delete process.env.EVENT_BUS_NAME;
});

const record = (userId: string, status: string, credentialId = 'cred-1'): Record<string, AttributeValue> => ({
  pk: { S: `USER#${userId}` },
  userId: { S: userId },
  status: { S: status },
  recallCredentialId: { S: credentialId },
  zoomAccountId: { S: 'za-1' },
  zoomUserId: { S: 'zu-1' },
  zoomIdentity: { S: 'user#zu-1' },
  oauthAppId: { S: AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID },
  connectedAt: { S: '2026-11-01T00:00:00.000Z' },
  updatedAt: { S: '2026-11-01T00:00:00.000Z' },
});

beforeEach(() => {
  recall.reset();
  recall.on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
  ddb.reset();
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
  mockSecretsManager();
});

/** The events the writes hold in the outbox; each write finds user-42's record with its Zoom ids. */
const publishedEvents = () =>
  outboxEventsOf(
    ddb.commandCalls(UpdateItemCommand).map((call) => call.args[0].input),
    () => record('user-42', 'connected'),
  ).map((detail) => ({ DetailType: detailTypeOf(detail.type), detail }));

async function call(method: 'GET' | 'DELETE' | 'POST', userId: string): Promise<APIGatewayProxyStructuredResultV2> {
  const event = httpEvent({
    method,
    path: `/connections/${encodeURIComponent(userId)}`,
    routeKey: `${method} /connections/{userId}`,
    pathParameters: { userId },
  });
  return (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
}

describe('GET /connections/{userId}', () => {
  it('returns the connection with its Recall credential and Zoom ids', async () => {
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });

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
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('returns 404 JSON for a user who never connected', async () => {
    ddb.on(GetItemCommand).resolves({});

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
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'disconnected') });
    ddb.on(QueryCommand).resolves({ Items: [record('user-42', 'disconnected')] });

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
    const update = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(update?.ExpressionAttributeValues?.[':status']?.S).toBe('disconnected');
    // The `disconnected` event rides in that write (the outbox): the function never calls EventBridge.
    expect(eventBridge.calls()).toHaveLength(0);
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
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'revoked') });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'disconnected') });

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(recall.requests).toHaveLength(0);
    expect(publishedEvents().map(({ detail }) => detail.type)).toEqual(['disconnected']);
  });

  it('keeps the Recall credential while another connected user of the same Zoom identity relies on it', async () => {
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'disconnected') });
    ddb.on(QueryCommand).resolves({ Items: [record('user-42', 'disconnected'), record('user-7', 'connected')] });

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(recall.requests).toHaveLength(0);
  });

  it('deletes the credential when the only other users sharing it are disconnected or revoked', async () => {
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });
    ddb.on(UpdateItemCommand).resolves({ Attributes: record('user-42', 'disconnected') });
    ddb.on(QueryCommand).resolves({ Items: [record('user-7', 'disconnected'), record('user-8', 'revoked')] });

    await call('DELETE', 'user-42');

    expect(recall.requests.map((r) => r.method)).toEqual(['DELETE']);
  });

  it('is idempotent: an already disconnected user gets 200 and nothing is deleted twice', async () => {
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'disconnected') });

    const response = await call('DELETE', 'user-42');

    expect(response.statusCode).toBe(200);
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('leaves a connection that changed meanwhile alone (a reconnect wins over a stale disconnect)', async () => {
    ddb.on(GetItemCommand)
      .resolvesOnce({ Item: record('user-42', 'connected', 'cred-1') })
      .resolves({ Item: record('user-42', 'connected', 'cred-2') });
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));

    const response = await call('DELETE', 'user-42');

    expect(JSON.parse(String(response.body))).toMatchObject({ status: 'connected', recallCredentialId: 'cred-2' });
    expect(recall.requests).toHaveLength(0);
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('returns 404 for a user who never connected', async () => {
    ddb.on(GetItemCommand).resolves({});

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
    vi.resetModules();
    const cold = (await import('../../../functions/handlers/connections/handler.js')).handler;
    const secretsManager = mockSecretsManager();
    filledSecret(secretsManager, 'recallApiKey', 'REPLACE_ME');
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });

    // Act
    const response = (await cold(
      httpEvent({ method: 'DELETE', path: '/connections/user-42', routeKey: 'DELETE /connections/{userId}', pathParameters: { userId: 'user-42' } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['content-type']).toContain('application/json');
    expect(JSON.parse(String(response.body))).toEqual({ error: 'The service is not configured yet.' });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('still answers GET, which needs no secret', async () => {
    vi.resetModules();
    const cold = (await import('../../../functions/handlers/connections/handler.js')).handler;
    const secretsManager = mockSecretsManager();
    secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    ddb.on(GetItemCommand).resolves({ Item: record('user-42', 'connected') });

    const response = (await cold(
      httpEvent({ method: 'GET', path: '/connections/user-42', routeKey: 'GET /connections/{userId}', pathParameters: { userId: 'user-42' } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(200);
  });
});
