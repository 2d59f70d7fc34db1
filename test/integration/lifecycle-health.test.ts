import { describe, expect, it, vi } from 'vitest';
import { ageCredentials, connectAccountPair, connectedCredential, getConnection, twoUsers, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { deauthorize, eventsFor, eventTypesFor, runHealthSync, setCredentialHealth } from './helpers/lifecycle.js';

/**
 * The rest of a connection's life over the local server: the health sync against the sandbox Recall's credential
 * health, disconnecting with shared credentials, reconnecting, and the events each step publishes.
 */
const { server } = useLocalService({ queue: { retryDelayMs: 10 }, resetAfterEach: true });

const recall = () => server.sandboxRecall;

const connect = (userId: string, zoomUser: { accountId: string; userId: string }) => connectedCredential(server, userId, zoomUser);

const statusOf = async (userId: string) => (await getConnection(server, userId)).connection?.status;

describe('health sync', () => {
  it('marks the connections of a credential Recall reports unhealthy, and connected again once it is healthy', async () => {
    // Prepare: two product users on one credential (the second adopts the first's, made moments ago)
    const zoomUser = uniqueIdentity('health');
    const [first, second] = twoUsers();
    const credential = await connect(first, zoomUser);
    expect(await connect(second, zoomUser)).toBe(credential);

    // Act + Assess: Recall marks it unhealthy; the next run notices
    await setCredentialHealth(server, credential, 'unhealthy');
    const marking = await runHealthSync(server);
    expect(marking.markedUnhealthy).toBeGreaterThanOrEqual(2);
    for (const userId of [first, second]) {
      expect(await statusOf(userId), userId).toBe('unhealthy');
      expect((await eventsFor(server, userId)).at(-1), userId).toMatchObject({
        type: 'unhealthy',
        status: 'unhealthy',
        recallCredentialId: credential,
      });
    }

    // Act + Assess: a run that finds nothing new changes nothing and publishes nothing
    await runHealthSync(server);
    expect(await statusOf(first)).toBe('unhealthy');
    expect(await eventTypesFor(server, first)).toEqual(['connected', 'unhealthy']);

    // Act + Assess: healthy again
    await setCredentialHealth(server, credential, 'healthy');
    const recovering = await runHealthSync(server);
    expect(recovering.healthyAgain).toBeGreaterThanOrEqual(2);
    for (const userId of [first, second]) {
      expect((await getConnection(server, userId)).connection, userId).toMatchObject({
        status: 'connected',
        recallCredentialId: credential,
      });
      expect((await eventsFor(server, userId)).at(-1), userId).toMatchObject({ type: 'healthy_again', status: 'connected' });
    }
  });

  it('finds the connections of an account-level credential too', async () => {
    // Prepare
    const { first, second, credential } = await connectAccountPair(server, 'account-health');
    await setCredentialHealth(server, credential, 'unhealthy');

    // Act
    await runHealthSync(server);

    // Assess
    for (const userId of [first, second]) expect(await statusOf(userId), userId).toBe('unhealthy');
  });

  it('keeps a connection unhealthy when its credential is gone from Recall', async () => {
    // Prepare
    const userId = uniqueUser('gone');
    const credential = await connect(userId, uniqueIdentity('gone'));
    await setCredentialHealth(server, credential, 'unhealthy');
    await runHealthSync(server);
    expect(await statusOf(userId)).toBe('unhealthy');

    // Act: Recall deletes the credential
    recall().state.credentials.delete(credential);
    const summary = await runHealthSync(server);

    // Assess
    expect(summary.stillGone).toBeGreaterThanOrEqual(1);
    expect(await statusOf(userId)).toBe('unhealthy');
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'unhealthy']);
  });

  it('leaves healthy connections alone', async () => {
    const userId = uniqueUser('fine');
    await connect(userId, uniqueIdentity('fine'));
    await runHealthSync(server);
    expect(await statusOf(userId)).toBe('connected');
    expect(await eventTypesFor(server, userId)).toEqual(['connected']);
  });
});

describe('events of the connect flow', () => {
  it('publishes connected only, for both users, when the second adopts the credential the first made moments ago', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('adopted');
    const [first, second] = twoUsers();
    const original = await connect(first, zoomUser);

    // Act: a second product user connects the same Zoom user within the adopt window (legacy conflict)
    const adopted = await connect(second, zoomUser);

    // Assess: nobody's credential changed, so nobody is told of a replacement
    expect(adopted).toBe(original);
    for (const userId of [first, second]) {
      expect(await eventsFor(server, userId), userId).toEqual([
        expect.objectContaining({ type: 'connected', status: 'connected', recallCredentialId: original }),
      ]);
    }
  });

  it('publishes connected, and replaced for a user moved to the credential that replaced theirs', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('events');
    const [first, second] = twoUsers();
    const original = await connect(first, zoomUser);
    expect(ageCredentials(server, { userId: zoomUser.userId })).toBe(1);

    // Act: a second product user connects the same Zoom user (legacy conflict on an old credential: delete and
    // create again)
    const replacement = await connect(second, zoomUser);

    // Assess
    expect(replacement).not.toBe(original);
    // Every transition of the first user's record, in order: marked unhealthy before its credential was deleted
    // (the write-ahead step), then moved onto the replacement by the connect's follow-up.
    expect(await eventsFor(server, first)).toEqual([
      expect.objectContaining({ type: 'connected', recallCredentialId: original, zoomUserId: zoomUser.userId }),
      expect.objectContaining({ type: 'unhealthy', status: 'unhealthy', recallCredentialId: original }),
      expect.objectContaining({
        type: 'replaced',
        status: 'connected',
        recallCredentialId: replacement,
        previousRecallCredentialId: original,
      }),
    ]);
    expect(await eventsFor(server, second)).toEqual([
      expect.objectContaining({ type: 'connected', status: 'connected', recallCredentialId: replacement }),
    ]);
  });
});

describe('local mode publishes the outbox on its own', () => {
  it('shows a connect at GET /_local/events without anyone running the publisher, with its stable eventId', async () => {
    const userId = uniqueUser('unprompted');
    const credentialId = await connect(userId, uniqueIdentity('unprompted'));

    // Only the 250 ms loop runs the publisher here: poll the route, as a developer's page would.
    const event = await vi.waitFor(
      async () => {
        const events = (await (await fetch(`${server.url}/_local/events`)).json()) as { detail: { userId: string } }[];
        const found = events.find((candidate) => candidate.detail.userId === userId);
        if (!found) throw new Error('not yet on the bus');
        return found;
      },
      { timeout: 15_000, interval: 50 },
    );
    expect(event).toMatchObject({
      detailType: 'Zoom connection connected.v1',
      detail: { type: 'connected', recallCredentialId: credentialId, eventId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
  });
});

describe('disconnect', () => {
  it('publishes disconnected and deletes the credential only when no other connected user shares it', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('leaving');
    const [first, second] = twoUsers();
    await connect(first, zoomUser);
    const shared = await connect(second, zoomUser);

    // Act + Assess: the first leaves; the second still uses the credential
    expect((await fetch(`${server.url}/connections/${first}`, { method: 'DELETE' })).status).toBe(200);
    expect(await statusOf(first)).toBe('disconnected');
    expect((await eventsFor(server, first)).at(-1)).toMatchObject({
      type: 'disconnected',
      status: 'disconnected',
      recallCredentialId: shared,
    });
    expect(recall().state.credentials.has(shared)).toBe(true);

    // Act + Assess: the last one leaves
    expect((await fetch(`${server.url}/connections/${second}`, { method: 'DELETE' })).status).toBe(200);
    expect((await eventsFor(server, second)).at(-1)).toMatchObject({ type: 'disconnected' });
    expect(recall().state.credentials.has(shared)).toBe(false);
  });

  it('ends an unhealthy connection too, deleting its credential', async () => {
    // Prepare
    const userId = uniqueUser('sick');
    const credential = await connect(userId, uniqueIdentity('sick'));
    await setCredentialHealth(server, credential, 'unhealthy');
    await runHealthSync(server);

    // Act
    const response = await fetch(`${server.url}/connections/${userId}`, { method: 'DELETE' });

    // Assess
    expect(response.status).toBe(200);
    expect(await statusOf(userId)).toBe('disconnected');
    expect(recall().state.credentials.has(credential)).toBe(false);
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'unhealthy', 'disconnected']);
  });

  it('answers 404 for a user who never connected, and changes nothing when disconnecting twice', async () => {
    const stranger = uniqueUser('stranger');
    expect((await fetch(`${server.url}/connections/${stranger}`, { method: 'DELETE' })).status).toBe(404);
    const userId = uniqueUser('twice');
    await connect(userId, uniqueIdentity('twice'));
    await fetch(`${server.url}/connections/${userId}`, { method: 'DELETE' });
    const deletesBefore = recall().requestsOf('delete').length;
    const again = await fetch(`${server.url}/connections/${userId}`, { method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(recall().requestsOf('delete')).toHaveLength(deletesBefore);
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'disconnected']);
  });
});

describe('reconnect', () => {
  it('after a revoke: connected again, with exactly one credential for the Zoom user', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('back');
    const userId = uniqueUser('back');
    await connect(userId, zoomUser);
    await deauthorize(server, zoomUser);
    await server.localAws.drain();
    expect(await statusOf(userId)).toBe('revoked');

    // Act
    const fresh = await connect(userId, zoomUser);

    // Assess
    expect(recall().credentialsFor({ userId: zoomUser.userId }).map((credential) => credential.id)).toEqual([fresh]);
    expect((await getConnection(server, userId)).connection).toMatchObject({
      status: 'connected',
      recallCredentialId: fresh,
      zoomUserId: zoomUser.userId,
    });
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'revoked', 'connected']);
  });

  it('after a disconnect: connected again, with exactly one credential for the Zoom user', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('again');
    const userId = uniqueUser('again');
    await connect(userId, zoomUser);
    await fetch(`${server.url}/connections/${userId}`, { method: 'DELETE' });

    // Act
    const fresh = await connect(userId, zoomUser);

    // Assess
    expect(recall().credentialsFor({ userId: zoomUser.userId }).map((credential) => credential.id)).toEqual([fresh]);
    expect(await statusOf(userId)).toBe('connected');
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'disconnected', 'connected']);
  });

  it('after Recall marked the credential unhealthy: connected again on one healthy credential', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('heal');
    const userId = uniqueUser('heal');
    const sick = await connect(userId, zoomUser);
    await setCredentialHealth(server, sick, 'unhealthy');
    await runHealthSync(server);

    // Act
    const fresh = await connect(userId, zoomUser);

    // Assess
    const live = recall().credentialsFor({ userId: zoomUser.userId });
    expect(live.map((credential) => credential.id)).toEqual([fresh]);
    expect(live[0]?.status).toBe('healthy');
    expect(await statusOf(userId)).toBe('connected');
    // The user's own credential changed while the record still relied on it: the product learns the new id
    expect((await eventsFor(server, userId)).slice(-2)).toEqual([
      expect.objectContaining({ type: 'connected', recallCredentialId: fresh }),
      expect.objectContaining({ type: 'replaced', recallCredentialId: fresh, previousRecallCredentialId: sick }),
    ]);
  });
});
