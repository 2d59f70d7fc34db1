import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zoomWebhookHeaders } from '../../local/sandbox-zoom.js';
import { connectAccountPair, connectedCredential, getConnection, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import {
  deadLetters,
  deauthorize,
  eventsFor,
  eventTypesFor,
  meetingCreatedEvent,
  sendZoomWebhook,
  sha256Hex,
  zoomBodyOf,
} from './helpers/lifecycle.js';

/**
 * Zoom's webhooks end to end over the local server: `POST /zoom/webhook` (the real handler behind the API Gateway
 * stand-in) → the local SQS queue → the real worker → dynalite, the sandbox Recall's credential API and its
 * webhook endpoint, and the local EventBridge bus. Nothing is mocked.
 */
const { server } = useLocalService({ queue: { retryDelayMs: 10 }, resetAfterEach: true });

const recall = () => server.sandboxRecall;
/** A revoked record (or its event) that still names its credential and keeps no Zoom ids: no data retention. */
const revokedWithoutZoomIds = (recallCredentialId: string) => ({ status: 'revoked', recallCredentialId, zoomAccountId: null, zoomUserId: null });
const forwardsOf = (bodySha256: string) =>
  recall().state.forwardedWebhooks.filter((forwarded) => forwarded.bodySha256 === bodySha256);

const connect = (userId: string, zoomUser: { accountId: string; userId: string }) => connectedCredential(server, userId, zoomUser);

describe('POST /zoom/webhook: only Zoom gets in', () => {
  it('answers endpoint.url_validation with the token pair and forwards the challenge to Recall too', async () => {
    // Prepare
    const plainToken = `plain-${uniqueUser('token')}`;
    const body = JSON.stringify({ payload: { plainToken }, event_ts: Date.now(), event: 'endpoint.url_validation' });

    // Act
    const sent = await sendZoomWebhook(server, body);
    await server.localAws.drain();

    // Assess
    expect(sent.response.status).toBe(200);
    expect(sent.answer).toEqual({
      plainToken,
      encryptedToken: createHmac('sha256', server.settings.zoomWebhookSecretToken).update(plainToken).digest('hex'),
    });
    expect(forwardsOf(sent.bodySha256)).toEqual([
      expect.objectContaining({ event: 'endpoint.url_validation', signatureSha256: sent.signatureSha256 }),
    ]);
  });

  it('refuses unsigned, wrongly signed, stale, future and tampered requests with 401, queuing and forwarding nothing', async () => {
    // Prepare
    const body = meetingCreatedEvent(uniqueUser('meeting'));
    const now = Math.floor(Date.now() / 1000);
    const sentBefore = server.localAws.queue.stats.sent;
    const webhookRequestsBefore = recall().requestsOf('webhook').length;
    const forwardedBefore = recall().state.forwardedWebhooks.length;
    const signedForBody = zoomWebhookHeaders(server.settings.zoomWebhookSecretToken, body);

    // Act
    const attempts = {
      unsigned: await sendZoomWebhook(server, body, { unsigned: true }),
      'other token': await sendZoomWebhook(server, body, { token: 'not-the-secret-token' }),
      'stale (6 minutes old)': await sendZoomWebhook(server, body, { timestampSeconds: now - 360 }),
      'future (6 minutes ahead)': await sendZoomWebhook(server, body, { timestampSeconds: now + 360 }),
      'signature of another body': await sendZoomWebhook(server, body.replace('Weekly sync', 'Weekly sync!'), {
        headers: {
          'x-zm-signature': signedForBody['x-zm-signature'] as string,
          'x-zm-request-timestamp': signedForBody['x-zm-request-timestamp'] as string,
        },
      }),
      'garbage signature': await sendZoomWebhook(server, body, { headers: { 'x-zm-signature': 'v0=abc' } }),
    };
    await server.localAws.drain();

    // Assess
    for (const [name, attempt] of Object.entries(attempts)) {
      expect(attempt.response.status, name).toBe(401);
      expect(JSON.stringify(attempt.answer), name).not.toMatch(/v0=|[0-9a-f]{64}/);
    }
    expect(server.localAws.queue.stats.sent).toBe(sentBefore);
    expect(recall().requestsOf('webhook')).toHaveLength(webhookRequestsBefore);
    expect(recall().state.forwardedWebhooks).toHaveLength(forwardedBefore);
  });

  it('routes only POST, as the stack declares the route', async () => {
    const response = await fetch(`${server.url}/zoom/webhook`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
  });

  it('forwards the exact bytes, whitespace and non-ASCII included, also when API Gateway base64-encodes the body', async () => {
    // Prepare: JSON arrives as text; an unknown content type arrives base64-encoded
    const spaced = `{ "event": "meeting.created",\n  "payload": { "object": { "id": "${uniqueUser('m')}", "topic": "Café ☕" } } }`;
    const binary = meetingCreatedEvent(uniqueUser('binary'));

    // Act
    const asText = await sendZoomWebhook(server, spaced);
    const asBase64 = await sendZoomWebhook(server, binary, { headers: { 'content-type': 'application/vnd.zoom+octets' } });
    await server.localAws.drain();

    // Assess
    expect([asText.response.status, asBase64.response.status]).toEqual([200, 200]);
    expect(forwardsOf(asText.bodySha256)).toEqual([
      expect.objectContaining({
        event: 'meeting.created',
        signatureSha256: asText.signatureSha256,
        timestamp: asText.timestamp,
        contentType: 'application/json; charset=utf-8',
      }),
    ]);
    expect(forwardsOf(asBase64.bodySha256)).toEqual([
      expect.objectContaining({ signatureSha256: asBase64.signatureSha256, contentType: 'application/vnd.zoom+octets' }),
    ]);
  });
});

describe('app_deauthorized', () => {
  it('user-level app: revokes every connection of that Zoom user, deletes the credential, forwards the event unchanged', async () => {
    // Prepare: two product users share one Zoom user; a third uses another Zoom user of the same account
    const zoomUser = uniqueIdentity('revoked');
    const colleague = { accountId: zoomUser.accountId, userId: `${zoomUser.userId}-colleague` };
    const [first, second, bystander] = [uniqueUser('first'), uniqueUser('second'), uniqueUser('bystander')];
    await connect(first, zoomUser);
    const shared = await connect(second, zoomUser);
    const untouched = await connect(bystander, colleague);
    expect((await getConnection(server, first)).connection?.recallCredentialId).toBe(shared);

    // Act
    const sent = await deauthorize(server, zoomUser);
    await server.localAws.drain();

    // Assess: records revoked and scrubbed (no retention), credential gone, the bystander untouched
    for (const userId of [first, second]) {
      expect((await getConnection(server, userId)).connection, userId).toMatchObject(revokedWithoutZoomIds(shared));
      expect((await eventsFor(server, userId)).at(-1), userId).toMatchObject({ type: 'revoked', ...revokedWithoutZoomIds(shared) });
    }
    expect(recall().state.credentials.has(shared)).toBe(false);
    expect(recall().credentialsFor({ userId: zoomUser.userId })).toEqual([]);
    expect((await getConnection(server, bystander)).connection).toMatchObject({ status: 'connected', recallCredentialId: untouched });
    expect(recall().state.credentials.get(untouched)?.status).toBe('healthy');
    expect(await eventTypesFor(server, bystander)).toEqual(['connected']);
    // Forwarded byte for byte, with Zoom's signature and timestamp, after the credential was already deleted
    expect(forwardsOf(sent.bodySha256)).toEqual([
      expect.objectContaining({
        event: 'app_deauthorized',
        appId: server.settings.recallOAuthAppId,
        signatureSha256: sent.signatureSha256,
        timestamp: sent.timestamp,
        markedUnhealthy: [],
      }),
    ]);
  });

  it('account-level app: revokes every connection of the Zoom account, whoever removed the app', async () => {
    // Prepare: two Zoom users of one account, so one account-level credential for both product users
    const { account, first, second, credential } = await connectAccountPair(server, 'account');
    expect(recall().credentialsFor({ accountId: account })).toHaveLength(1);

    // Act: the account's admin (a third Zoom user) removes the app
    const sent = await deauthorize(server, { accountId: account, userId: 'zoom-admin' });
    await server.localAws.drain();

    // Assess
    for (const userId of [first, second]) {
      // No data retention: the account id the record held is gone too
      expect((await getConnection(server, userId)).connection, userId).toMatchObject(revokedWithoutZoomIds(credential));
      expect((await eventTypesFor(server, userId)).at(-1), userId).toBe('revoked');
    }
    expect(recall().state.credentials.has(credential)).toBe(false);
    expect(recall().credentialsFor({ accountId: account })).toEqual([]);
    expect(forwardsOf(sent.bodySha256)).toHaveLength(1);
  });

  it('keeps the Zoom ids only when user_data_retention is "true"', async () => {
    // Prepare
    const [keeper, forgetter] = [uniqueIdentity('keep'), uniqueIdentity('forget')];
    const [keeperUser, forgetterUser] = [uniqueUser('keeper'), uniqueUser('forgetter')];
    await connect(keeperUser, keeper);
    await connect(forgetterUser, forgetter);

    // Act
    await deauthorize(server, keeper, true);
    await deauthorize(server, forgetter, false);
    await server.localAws.drain();

    // Assess
    // A user-level credential carries the Zoom user only, so that is what the record holds
    expect((await getConnection(server, keeperUser)).connection).toMatchObject({
      status: 'revoked',
      zoomAccountId: null,
      zoomUserId: keeper.userId,
    });
    expect((await getConnection(server, forgetterUser)).connection).toMatchObject({
      status: 'revoked',
      zoomAccountId: null,
      zoomUserId: null,
    });
    const connectionText = JSON.stringify((await getConnection(server, forgetterUser)).connection);
    expect(connectionText).not.toContain(forgetter.userId);
    expect((await eventsFor(server, forgetterUser)).at(-1)).toMatchObject({ type: 'revoked', zoomUserId: null });
    expect((await eventsFor(server, keeperUser)).at(-1)).toMatchObject({ type: 'revoked', zoomUserId: keeper.userId });
  });

  it('removes the Zoom ids from a disconnected connection too, without an event', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('former');
    const userId = uniqueUser('former');
    const credential = await connect(userId, zoomUser);
    await fetch(`${server.url}/connections/${userId}`, { method: 'DELETE' });
    expect(recall().state.credentials.has(credential)).toBe(false);

    // Act
    await deauthorize(server, zoomUser);
    await server.localAws.drain();

    // Assess
    expect((await getConnection(server, userId)).connection).toMatchObject({
      status: 'disconnected',
      recallCredentialId: credential,
      zoomUserId: null,
    });
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'disconnected']);
    expect(await deadLetters(server)).toEqual([]);
  });

  it('accepts a timestamp Zoom sent in milliseconds, and forwards it as received', async () => {
    const body = meetingCreatedEvent(uniqueUser('millis'));
    const sent = await sendZoomWebhook(server, body, { timestampSeconds: Date.now() });
    await server.localAws.drain();
    expect(sent.response.status).toBe(200);
    expect(forwardsOf(sent.bodySha256)).toEqual([expect.objectContaining({ timestamp: sent.timestamp })]);
  });

  it('changes nothing more when Zoom delivers the same event again', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('twice');
    const userId = uniqueUser('twice');
    await connect(userId, zoomUser);
    const body = (await deauthorize(server, zoomUser)).body;
    await server.localAws.drain();
    const before = (await getConnection(server, userId)).connection;
    const eventsBefore = await eventsFor(server, userId);
    const credentialsBefore = [...recall().state.credentials.keys()];
    const deletesBefore = recall().requestsOf('delete').length;

    // Act: Zoom's retry is the same request, same signature and timestamp
    const retry = await sendZoomWebhook(server, body);
    await server.localAws.drain();

    // Assess
    expect(retry.response.status).toBe(200);
    expect((await getConnection(server, userId)).connection).toEqual(before);
    expect(await eventsFor(server, userId)).toEqual(eventsBefore);
    expect([...recall().state.credentials.keys()]).toEqual(credentialsBefore);
    expect(recall().requestsOf('delete')).toHaveLength(deletesBefore);
    expect(await deadLetters(server)).toEqual([]);
  });

  it('leaves a connection made after the deauthorization alone when a late retry of it arrives', async () => {
    // Prepare: revoked, then connected again
    const zoomUser = uniqueIdentity('late');
    const userId = uniqueUser('late');
    await connect(userId, zoomUser);
    const { body } = await deauthorize(server, zoomUser);
    await server.localAws.drain();
    const fresh = await connect(userId, zoomUser);

    // Act
    await sendZoomWebhook(server, body);
    await server.localAws.drain();

    // Assess
    expect((await getConnection(server, userId)).connection).toMatchObject({ status: 'connected', recallCredentialId: fresh });
    expect(recall().credentialsFor({ userId: zoomUser.userId }).map((credential) => credential.id)).toEqual([fresh]);
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'revoked', 'connected']);
  });
});

describe('forwarding to Recall: no event is lost', () => {
  it('retries a forward Recall refuses with 503 through the queue until it succeeds', async () => {
    // Prepare: Recall's webhook endpoint fails for as long as the message is on its first receive
    const receivesBefore = server.localAws.queue.stats.receives;
    for (let i = 0; i < 20; i++) {
      recall().state.faults.push((request) =>
        request.operation === 'webhook' && server.localAws.queue.stats.receives - receivesBefore < 2
          ? { status: 503, body: { detail: 'Service unavailable' } }
          : undefined,
      );
    }
    const webhookRequestsBefore = recall().requestsOf('webhook').length;
    const body = meetingCreatedEvent(uniqueUser('retried'));

    // Act
    const sent = await sendZoomWebhook(server, body);
    await server.localAws.drain();

    // Assess: delivered twice by the queue; every failed attempt a 503, the last one accepted
    expect(sent.response.status).toBe(200);
    expect(server.localAws.queue.stats.receives - receivesBefore).toBe(2);
    const statuses = recall().requestsOf('webhook').slice(webhookRequestsBefore).map((request) => request.status);
    expect(statuses.at(-1)).toBe(200);
    expect(statuses.slice(0, -1).length).toBeGreaterThan(0);
    expect(new Set(statuses.slice(0, -1))).toEqual(new Set([503]));
    expect(forwardsOf(sent.bodySha256)).toHaveLength(1);
    expect(await deadLetters(server)).toEqual([]);
  });

  it('moves a forward that keeps failing to the dead-letter queue, whence a redrive delivers it', async () => {
    // Prepare
    recall().failNext('webhook', { status: 503 }, 100);
    const body = meetingCreatedEvent(uniqueUser('doomed'));

    // Act
    const sent = await sendZoomWebhook(server, body);
    await server.localAws.drain(30_000);

    // Assess
    expect(sent.response.status).toBe(200);
    const [letter, ...others] = await deadLetters(server);
    expect(others).toEqual([]);
    expect(letter).toMatchObject({ receiveCount: 5 });
    expect(zoomBodyOf(letter as NonNullable<typeof letter>)).toBe(body);
    expect(forwardsOf(sent.bodySha256)).toEqual([]);

    // Act: Recall is back; ops redrive the dead-letter queue
    recall().state.faults.length = 0;
    const redrive = await fetch(`${server.url}/_local/dlq/redrive`, { method: 'POST' });
    await server.localAws.drain();

    // Assess
    expect(await redrive.json()).toEqual({ redriven: 1 });
    expect(await deadLetters(server)).toEqual([]);
    expect(forwardsOf(sha256Hex(body))).toEqual([expect.objectContaining({ signatureSha256: sent.signatureSha256 })]);
  });
});
