import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../functions/adapters/connection-repository.js';
import {
  type ConnectFollowUpDeps,
  followUpConnect,
  IdentityBusyError,
  markDeletedCredentials,
  releaseCredentialIfUnused,
  repointSharers,
} from '../../../functions/connect/credential-sharing.js';
import type { OutboxEntry } from '../../../functions/adapters/outbox.js';
import type { RecallCredential } from '../../../functions/adapters/recall-client.js';
import { connectionRecord, FakeConnections, TEST_OAUTH_APP as APP } from '../../helpers/fakes/connections.js';
import { FakeLock } from '../../helpers/fakes/lock.js';
import { FakeRecall } from '../../helpers/fakes/recall.js';

const IDENTITY = 'user#zu-1';
const OLD = 'cred-old';
const NEW = 'cred-new';
const NOW = '2026-11-30T18:00:00.000Z';
const connection = connectionRecord;

describe('releaseCredentialIfUnused', () => {
  const released = { userId: 'alice', recallCredentialId: OLD, zoomIdentity: IDENTITY };

  it('deletes the credential when only the released user relied on it', async () => {
    const connections = await FakeConnections.create([connection('alice', 'connected', OLD)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(true);
    expect(recall.deleted).toEqual([OLD]);
    expect(connections.callsOf('listByZoomIdentity')).toEqual([{ zoomIdentity: IDENTITY }]);
  });

  it.each(['connected', 'unhealthy'] as const)('keeps the credential while another %s user shares it', async (status) => {
    const connections = await FakeConnections.create([connection('alice', 'disconnected', OLD), connection('bob', status, OLD)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(false);
    expect(recall.deleted).toEqual([]);
  });

  it('deletes the credential when the other sharers are only revoked or disconnected', async () => {
    const connections = await FakeConnections.create([
      connection('alice', 'connected', OLD),
      connection('bob', 'revoked', OLD),
      connection('carol', 'disconnected', OLD),
    ]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(true);
    expect(recall.deleted).toEqual([OLD]);
  });

  it('deletes the credential when another connected user of the identity is on a different credential', async () => {
    const connections = await FakeConnections.create([connection('alice', 'connected', OLD), connection('bob', 'connected', NEW)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(true);
    expect(recall.deleted).toEqual([OLD]);
  });

  it("does not count the released user's own record as a sharer", async () => {
    const connections = await FakeConnections.create([connection('alice', 'connected', OLD)]);
    const recall = new FakeRecall();

    await expect(releaseCredentialIfUnused(released, connections, recall)).resolves.toBe(true);
  });
});

describe('repointSharers', () => {
  const successor: RecallCredential = { id: NEW, oauth_app: APP, user_id: 'zu-1', account_id: 'za-1' };

  it('moves other connected and unhealthy users of the same app onto the new credential', async () => {
    // Prepare
    const connections = await FakeConnections.create([
      connection('alice', 'connected', NEW),
      connection('bob', 'connected', OLD),
      connection('carol', 'unhealthy', 'cred-older'),
    ]);

    // Act
    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    // Assess
    expect(moved).toEqual([
      {
        connection: connection('bob', 'connected', NEW, { updatedAt: NOW }),
        previousRecallCredentialId: OLD,
      },
      {
        connection: connection('carol', 'connected', NEW, { updatedAt: NOW }),
        previousRecallCredentialId: 'cred-older',
      },
    ]);
    expect(connections.callsOf('repoint')).toEqual([
      { userId: 'bob', from: OLD, to: successor, now: NOW },
      { userId: 'carol', from: 'cred-older', to: successor, now: NOW },
    ]);
  });

  it('leaves alone the connecting user, revoked and disconnected users, other apps and users already on it', async () => {
    const connections = await FakeConnections.create([
      connection('alice', 'connected', OLD),
      connection('bob', 'revoked', OLD),
      connection('carol', 'disconnected', OLD),
      connection('dave', 'connected', OLD, { oauthAppId: 'another-app' }),
      connection('erin', 'connected', NEW),
    ]);

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved).toEqual([]);
    expect(connections.callsOf('repoint')).toEqual([]);
  });

  it('returns only the records whose repoint succeeded', async () => {
    const connections = await FakeConnections.create([
      connection('bob', 'connected', OLD),
      connection('carol', 'connected', OLD),
      connection('dave', 'unhealthy', OLD),
    ]);
    connections.losesRace.add('carol');

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved.map((m) => m.connection.userId)).toEqual(['bob', 'dave']);
    expect(connections.callsOf('repoint').map((call) => call.userId)).toEqual(['bob', 'carol', 'dave']);
  });

  it('looks only at the given Zoom identity', async () => {
    const connections = await FakeConnections.create([connection('bob', 'connected', OLD, { zoomIdentity: 'user#someone-else' })]);

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved).toEqual([]);
    expect(connections.callsOf('listByZoomIdentity')).toEqual([{ zoomIdentity: IDENTITY }]);
  });
});

describe('markDeletedCredentials', () => {
  it('marks connected records whose credential was deleted as unhealthy, and only those, and returns them', async () => {
    // Prepare
    const connections = await FakeConnections.create([
      connection('alice', 'connected', OLD),
      connection('bob', 'connected', NEW),
      connection('carol', 'unhealthy', OLD),
      connection('dave', 'revoked', OLD),
      connection('erin', 'disconnected', OLD),
      connection('frank', 'connected', 'cred-older'),
    ]);

    // Act
    const marked = await markDeletedCredentials(IDENTITY, [OLD, 'cred-older'], connections, NOW);

    // Assess
    // Only while still `connected`: a disconnect or reconnect meanwhile is not overwritten.
    expect(connections.callsOf('setStatus')).toEqual([
      { userId: 'alice', status: 'unhealthy', credentialId: OLD, now: NOW, fromStatuses: ['connected'] },
      { userId: 'frank', status: 'unhealthy', credentialId: 'cred-older', now: NOW, fromStatuses: ['connected'] },
    ]);
    expect(marked).toEqual([
      connection('alice', 'unhealthy', OLD, { updatedAt: NOW }),
      connection('frank', 'unhealthy', 'cred-older', { updatedAt: NOW }),
    ]);
  });

  it('does nothing, not even a lookup, when nothing was deleted', async () => {
    const connections = await FakeConnections.create([connection('alice', 'connected', OLD)]);

    const marked = await markDeletedCredentials(IDENTITY, [], connections, NOW);

    expect(marked).toEqual([]);
    expect(connections.callsOf('listByZoomIdentity')).toEqual([]);
    expect(connections.callsOf('setStatus')).toEqual([]);
  });

  it('returns only the records it actually marked (a record that changed meanwhile is skipped)', async () => {
    const connections = await FakeConnections.create([connection('alice', 'connected', OLD), connection('bob', 'connected', OLD)]);
    connections.losesRace.add('alice');

    const marked = await markDeletedCredentials(IDENTITY, [OLD], connections, NOW);

    expect(marked.map((record) => record.userId)).toEqual(['bob']);
    expect(connections.callsOf('setStatus').map((call) => call.userId)).toEqual(['alice', 'bob']);
  });
});

describe('followUpConnect (the outbox publisher, for each `connected` entry)', () => {
  /** A `connected` entry of user-42 onto NEW for IDENTITY, as the publisher reads it. */
  const entry = (extra: Partial<OutboxEntry> = {}): OutboxEntry => ({
    eventId: 'e-1',
    type: 'connected',
    userId: 'user-42',
    status: 'connected',
    recallCredentialId: NEW,
    occurredAt: NOW,
    zoomIdentity: IDENTITY,
    oauthAppId: APP,
    correlationId: 'corr-1',
    attributes: ['outbox_e-1'],
    ...extra,
  });

  async function followUpHarness(records: Connection[], { lockFree = true } = {}) {
    const connections = await FakeConnections.create(records);
    const recall = new FakeRecall();
    const lock = new FakeLock();
    lock.unavailable = !lockFree;
    const deps: ConnectFollowUpDeps = { connections, recall, lock, now: () => Date.parse(NOW), log: { info: () => undefined } };
    return { connections, recall, lock, deps };
  }

  it("moves the identity's other relying records onto the connect's credential under the identity lock", async () => {
    const { connections, lock, deps } = await followUpHarness([
      connection('user-42', 'connected', NEW),
      connection('user-7', 'unhealthy', OLD),
      connection('user-8', 'disconnected', OLD),
    ]);

    await followUpConnect(entry(), deps);

    expect(connections.callsOf('repoint').map(({ userId, from, to }) => [userId, from, to.id])).toEqual([['user-7', OLD, NEW]]);
    expect(lock.held).toEqual([IDENTITY]);
    expect(lock.released).toEqual([IDENTITY]);
  });

  it('takes no lock and moves nothing when no other record of the identity is on another credential', async () => {
    const { connections, lock, deps } = await followUpHarness([connection('user-42', 'connected', NEW), connection('user-7', 'connected', NEW)]);

    await followUpConnect(entry(), deps);

    expect(lock.acquired).toEqual([]);
    expect(connections.callsOf('repoint')).toEqual([]);
  });

  it("moves nothing when the user's record no longer relies on the credential (something newer replaced it)", async () => {
    const { connections, lock, deps } = await followUpHarness([connection('user-42', 'unhealthy', NEW), connection('user-7', 'unhealthy', OLD)]);

    await followUpConnect(entry(), deps);

    expect(connections.callsOf('repoint')).toEqual([]);
    expect(lock.released).toEqual([IDENTITY]);
  });

  it('throws IdentityBusyError while another holder keeps the lock, so the publisher retries the entry', async () => {
    const { connections, deps } = await followUpHarness([connection('user-42', 'connected', NEW), connection('user-7', 'unhealthy', OLD)], {
      lockFree: false,
    });

    await expect(followUpConnect(entry(), deps)).rejects.toBeInstanceOf(IdentityBusyError);
    expect(connections.callsOf('repoint')).toEqual([]);
  });

  it('releases the credential of the Zoom identity the user left, once no record relies on it', async () => {
    const { recall, deps } = await followUpHarness([connection('user-42', 'connected', NEW)]);

    await followUpConnect(
      entry({ priorRecallCredentialId: 'cred-other', priorStatus: 'connected', priorZoomIdentity: 'user#zoom-user-old' }),
      deps,
    );

    expect(recall.deleted).toEqual(['cred-other']);
  });

  it('keeps that credential while another user of the old identity relies on it, and after a revoke or disconnect', async () => {
    const sharer = connection('user-9', 'connected', 'cred-other', { zoomIdentity: 'user#zoom-user-old' });
    const { recall, deps } = await followUpHarness([connection('user-42', 'connected', NEW), sharer]);

    await followUpConnect(entry({ priorRecallCredentialId: 'cred-other', priorStatus: 'connected', priorZoomIdentity: 'user#zoom-user-old' }), deps);
    await followUpConnect(entry({ priorRecallCredentialId: 'cred-gone', priorStatus: 'revoked', priorZoomIdentity: 'user#zoom-user-old' }), deps);

    expect(recall.deleted).toEqual([]);
  });

  it('does nothing for other event types', async () => {
    const { connections, lock, deps } = await followUpHarness([connection('user-7', 'unhealthy', OLD)]);

    await followUpConnect(entry({ type: 'unhealthy', status: 'unhealthy' }), deps);

    expect([connections.calls, lock.acquired]).toEqual([[], []]);
  });
});
