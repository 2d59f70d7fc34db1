import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../functions/adapters/connection-repository.js';
import { applyDeauthorization, type DeauthorizationDeps } from '../../../functions/lifecycle/deauthorization.js';
import type { RecallCredential } from '../../../functions/adapters/recall-client.js';
import type { AppDeauthorization } from '../../../functions/adapters/zoom-webhook.js';
import { connectionRecord, FakeConnections, TEST_OAUTH_APP as APP } from '../../helpers/fakes/connections.js';
import { FakeRecall } from '../../helpers/fakes/recall.js';

const BEFORE = '2026-11-01T00:00:00.000Z';
const DEAUTHORIZED_AT = '2026-11-30T17:59:58.000Z';
const AFTER = '2026-11-30T18:05:00.000Z';
const NOW = Date.parse('2026-11-30T18:00:01.000Z');

const connection = connectionRecord;

const deauthorization = (extra: Partial<AppDeauthorization> = {}): AppDeauthorization => ({
  zoomUserId: 'zu-1',
  zoomAccountId: 'za-1',
  userDataRetention: true,
  deauthorizedAt: DEAUTHORIZED_AT,
  ...extra,
});

const recallCredential = (
  id: string,
  ids: { user_id?: string; account_id?: string },
  createdAt = BEFORE,
): RecallCredential => ({
  id,
  oauth_app: APP,
  status: 'healthy',
  user_id: ids.user_id ?? null,
  account_id: ids.account_id ?? null,
  created_at: createdAt,
});

async function harness(records: Connection[], credentials: RecallCredential[]) {
  const connections = await FakeConnections.create(records);
  const recall = new FakeRecall(credentials);
  const errors: string[] = [];
  const deps: DeauthorizationDeps = {
    connections,
    recall,
    oauthAppId: APP,
    now: () => NOW,
    log: { info: () => undefined, error: (message) => errors.push(message) },
  };
  return { connections, recall, errors, deps };
}

describe('applyDeauthorization: a user-level app', () => {
  it('revokes the Zoom user connections that rely on a credential, and deletes that credential', async () => {
    // Prepare
    const { connections, recall, deps } = await harness(
      [
        connection('user-42', 'connected', 'cred-1'),
        connection('user-7', 'unhealthy', 'cred-1'),
        connection('user-5', 'disconnected', 'cred-0'),
      ],
      [recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' })],
    );

    // Act
    const result = await applyDeauthorization(deauthorization(), deps);

    // Assess
    expect(result.revokedUserIds.sort()).toEqual(['user-42', 'user-7']);
    expect(connections.records.get('user-42')?.status).toBe('revoked');
    expect(connections.records.get('user-7')?.status).toBe('revoked');
    expect(connections.records.get('user-5')?.status).toBe('disconnected');
    expect(connections.records.get('user-42')?.zoomUserId).toBe('zu-1');
    // Each revoke write carries its `revoked` event (the repository's outbox).
    expect(connections.writes.filter((write) => write.startsWith('revoke')).sort()).toEqual(['revoke user-42', 'revoke user-7']);
    // cred-0 was released when user-5 disconnected: no second delete for it.
    expect(recall.deleted).toEqual(['cred-1']);
    expect(recall.credentials.size).toBe(0);
  });

  it('removes the Zoom ids from every record of the identity when retention is not granted', async () => {
    const { connections, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1'), connection('user-5', 'disconnected', 'cred-0')],
      [],
    );

    const result = await applyDeauthorization(deauthorization({ userDataRetention: false }), deps);

    expect(result.scrubbed).toBe(2);
    for (const userId of ['user-42', 'user-5']) {
      expect(connections.records.get(userId)).toMatchObject({ zoomAccountId: null, zoomUserId: null, zoomIdentity: null });
    }
    // What the record keeps: who, which status, which credential, when.
    expect(connections.records.get('user-42')).toMatchObject({
      userId: 'user-42',
      status: 'revoked',
      recallCredentialId: 'cred-1',
      connectedAt: BEFORE,
    });
  });

  it('never deletes the credentials of other users of the same Zoom account', async () => {
    const { recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1')],
      [
        recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' }),
        recallCredential('cred-2', { user_id: 'zu-2', account_id: 'za-1' }),
      ],
    );

    await applyDeauthorization(deauthorization(), deps);

    expect(recall.lists).toEqual([
      { oauth_app: APP, user_id: 'zu-1' },
      { oauth_app: APP, account_id: 'za-1' },
    ]);
    expect(recall.deleted).toEqual(['cred-1']);
    expect([...recall.credentials.keys()]).toEqual(['cred-2']);
  });

  it('leaves records of another Recall OAuth app alone', async () => {
    const { connections, recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-x', { oauthAppId: 'another-app' })],
      [],
    );

    await applyDeauthorization(deauthorization(), deps);

    expect(connections.writes).toEqual([]);
    expect(recall.deleted).toEqual([]);
  });
});

describe('applyDeauthorization: an account-level app', () => {
  it('revokes the connections keyed by the account and deletes the account credential', async () => {
    const accountRecord = (userId: string) =>
      connection(userId, 'connected', 'cred-a', { zoomIdentity: 'account#za-1', zoomUserId: null });
    const { connections, recall, deps } = await harness(
      [accountRecord('user-1'), accountRecord('user-2')],
      [recallCredential('cred-a', { account_id: 'za-1' })],
    );

    const result = await applyDeauthorization(deauthorization({ zoomUserId: 'zu-admin' }), deps);

    expect(result.revokedUserIds.sort()).toEqual(['user-1', 'user-2']);
    expect(connections.writes.sort()).toEqual(['revoke user-1', 'revoke user-2']);
    expect(recall.deleted).toEqual(['cred-a']);
  });

  it('works from the account alone when the event names no user', async () => {
    const { recall, deps } = await harness(
      [connection('user-1', 'connected', 'cred-a', { zoomIdentity: 'account#za-1', zoomUserId: null })],
      [recallCredential('cred-a', { account_id: 'za-1' })],
    );

    const result = await applyDeauthorization({ zoomAccountId: 'za-1', userDataRetention: true, deauthorizedAt: DEAUTHORIZED_AT }, deps);

    expect(result.revokedUserIds).toEqual(['user-1']);
    expect(recall.lists).toEqual([{ oauth_app: APP, account_id: 'za-1' }]);
    expect(recall.deleted).toEqual(['cred-a']);
  });
});

describe('applyDeauthorization: idempotent under redelivery', () => {
  it.each([true, false])('changes nothing more on a second run (retention %s)', async (userDataRetention) => {
    const { connections, recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1'), connection('user-7', 'unhealthy', 'cred-1')],
      [recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' })],
    );
    await applyDeauthorization(deauthorization({ userDataRetention }), deps);
    const afterFirst = structuredClone([...connections.records.values()]);
    const writes = connections.writes.length;

    const second = await applyDeauthorization(deauthorization({ userDataRetention }), deps);

    expect([...connections.records.values()]).toEqual(afterFirst);
    expect(connections.writes).toHaveLength(writes);
    expect(second.revokedUserIds).toEqual([]);
    expect(connections.writes.filter((write) => write.startsWith('revoke'))).toHaveLength(2);
    expect(recall.credentials.size).toBe(0);
  });

  it('finishes the job when the first run failed between the records and Recall', async () => {
    const { connections, recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1')],
      [recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' })],
    );
    recall.fail('delete', { times: 1 });

    await expect(applyDeauthorization(deauthorization({ userDataRetention: false }), deps)).rejects.toThrow(/503/);
    // The record is revoked and scrubbed: no identity query finds it any more; Recall's listing still does.
    expect(connections.records.get('user-42')).toMatchObject({ status: 'revoked', zoomIdentity: null });
    await applyDeauthorization(deauthorization({ userDataRetention: false }), deps);

    expect(recall.deleted).toEqual(['cred-1']);
    expect(connections.writes.filter((write) => write.startsWith('revoke'))).toHaveLength(1);
  });

  it('leaves a reconnect made after the deauthorization alone when the event is redelivered later', async () => {
    // Prepare: the first run revoked user-42 and deleted cred-1; then the user connected again
    const { connections, recall, deps } = await harness(
      [
        connection('user-42', 'connected', 'cred-2', { connectedAt: AFTER }),
        connection('user-7', 'revoked', 'cred-1'),
      ],
      [recallCredential('cred-2', { user_id: 'zu-1', account_id: 'za-1' }, AFTER)],
    );

    // Act
    const result = await applyDeauthorization(deauthorization(), deps);

    // Assess
    expect(connections.records.get('user-42')?.status).toBe('connected');
    expect(connections.writes).toEqual([]);
    expect(recall.credentials.has('cred-2')).toBe(true);
    expect(result.keptCredentialIds).toEqual(['cred-2']);
  });

  it('leaves alone an older record moved onto a credential of a reconnect made after the deauthorization', async () => {
    // Another user of the same Zoom identity reconnected; the older record was repointed to that credential.
    const { connections, recall, deps } = await harness(
      [
        connection('user-42', 'connected', 'cred-2', { connectedAt: AFTER }),
        connection('user-7', 'connected', 'cred-2'),
      ],
      [recallCredential('cred-2', { user_id: 'zu-1', account_id: 'za-1' }, BEFORE)],
    );

    await applyDeauthorization(deauthorization(), deps);

    expect(connections.records.get('user-7')?.status).toBe('connected');
    expect(recall.deleted).toEqual([]);
  });

  it('keeps a credential Recall created after the deauthorization that no record names yet (a connect in flight)', async () => {
    const { recall, deps } = await harness([], [recallCredential('cred-new', { user_id: 'zu-1', account_id: 'za-1' }, AFTER)]);

    const result = await applyDeauthorization(deauthorization(), deps);

    expect(recall.deleted).toEqual([]);
    expect(result.keptCredentialIds).toEqual(['cred-new']);
  });

  it('deletes the credential a revoked record names even when Recall dates it after the deauthorization', async () => {
    // Zoom's, Recall's and this service's clocks differ by a few seconds.
    const { recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1', { connectedAt: '2026-11-30T17:59:57.000Z' })],
      [recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' }, '2026-11-30T17:59:59.000Z')],
    );

    await applyDeauthorization(deauthorization(), deps);

    expect(recall.deleted).toEqual(['cred-1']);
  });

  it('does not delete the credential of a record that changed while it ran, nor announce it', async () => {
    const { connections, recall, deps } = await harness(
      [connection('user-42', 'connected', 'cred-1')],
      [recallCredential('cred-1', { user_id: 'zu-1', account_id: 'za-1' })],
    );
    connections.losesRace.add('user-42');

    const result = await applyDeauthorization(deauthorization(), deps);

    expect(result.revokedUserIds).toEqual([]);
    expect(recall.deleted).toEqual([]);
  });
});
