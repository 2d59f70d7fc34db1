import { describe, expect, it } from 'vitest';
import type { Connection, ConnectionStatus } from '../../../functions/adapters/connection-repository.js';
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

const APP = '2d40abfe-c692-4723-b26f-869ebfbde4cf';
const IDENTITY = 'user#zoom-user-1';
const OLD = 'cred-old';
const NEW = 'cred-new';
const NOW = '2026-11-30T18:00:00.000Z';

const connection = (userId: string, status: ConnectionStatus, recallCredentialId: string, extra: Partial<Connection> = {}): Connection => ({
  userId,
  status,
  recallCredentialId,
  zoomAccountId: 'zoom-account-1',
  zoomUserId: 'zoom-user-1',
  zoomIdentity: IDENTITY,
  oauthAppId: APP,
  connectedAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  ...extra,
});

/** An in-memory connection table that records what was asked of it. */
class FakeConnections {
  readonly listed: string[] = [];
  readonly repoints: { userId: string; from: string; to: RecallCredential; now: string }[] = [];
  readonly statusChanges: {
    userId: string;
    status: ConnectionStatus;
    credentialId: string;
    now: string;
    fromStatuses?: readonly ConnectionStatus[] | undefined;
  }[] = [];

  constructor(
    private readonly records: Connection[],
    /** Users whose conditional write loses a race (the record changed meanwhile). */
    private readonly raceLosers: ReadonlySet<string> = new Set(),
  ) {}

  async listByZoomIdentity(zoomIdentity: string): Promise<Connection[]> {
    this.listed.push(zoomIdentity);
    return this.records.filter((record) => record.zoomIdentity === zoomIdentity);
  }

  async repoint(userId: string, from: string, to: RecallCredential, now: string): Promise<boolean> {
    this.repoints.push({ userId, from, to, now });
    return !this.raceLosers.has(userId);
  }

  async setStatus(
    userId: string,
    status: ConnectionStatus,
    credentialId: string,
    now: string,
    fromStatuses?: readonly ConnectionStatus[],
  ): Promise<Connection | undefined> {
    this.statusChanges.push({ userId, status, credentialId, now, fromStatuses });
    const record = this.records.find((r) => r.userId === userId);
    if (!record || this.raceLosers.has(userId)) return undefined;
    return { ...record, status, updatedAt: now };
  }
}

class FakeRecall {
  readonly deleted: string[] = [];
  async deleteCredential(id: string): Promise<void> {
    this.deleted.push(id);
  }
}

describe('releaseCredentialIfUnused', () => {
  const released = { userId: 'alice', recallCredentialId: OLD, zoomIdentity: IDENTITY };

  it('deletes the credential when only the released user relied on it', async () => {
    const connections = new FakeConnections([connection('alice', 'connected', OLD)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(true);
    expect(recall.deleted).toEqual([OLD]);
    expect(connections.listed).toEqual([IDENTITY]);
  });

  it.each(['connected', 'unhealthy'] as const)('keeps the credential while another %s user shares it', async (status) => {
    const connections = new FakeConnections([connection('alice', 'disconnected', OLD), connection('bob', status, OLD)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(false);
    expect(recall.deleted).toEqual([]);
  });

  it('deletes the credential when the other sharers are only revoked or disconnected', async () => {
    const connections = new FakeConnections([
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
    const connections = new FakeConnections([connection('alice', 'connected', OLD), connection('bob', 'connected', NEW)]);
    const recall = new FakeRecall();

    const deleted = await releaseCredentialIfUnused(released, connections, recall);

    expect(deleted).toBe(true);
    expect(recall.deleted).toEqual([OLD]);
  });

  it("does not count the released user's own record as a sharer", async () => {
    const connections = new FakeConnections([connection('alice', 'connected', OLD)]);
    const recall = new FakeRecall();

    await expect(releaseCredentialIfUnused(released, connections, recall)).resolves.toBe(true);
  });
});

describe('repointSharers', () => {
  const successor: RecallCredential = { id: NEW, oauth_app: APP, user_id: 'zoom-user-1', account_id: 'zoom-account-1' };

  it('moves other connected and unhealthy users of the same app onto the new credential', async () => {
    // Prepare
    const connections = new FakeConnections([
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
    expect(connections.repoints).toEqual([
      { userId: 'bob', from: OLD, to: successor, now: NOW },
      { userId: 'carol', from: 'cred-older', to: successor, now: NOW },
    ]);
  });

  it('leaves alone the connecting user, revoked and disconnected users, other apps and users already on it', async () => {
    const connections = new FakeConnections([
      connection('alice', 'connected', OLD),
      connection('bob', 'revoked', OLD),
      connection('carol', 'disconnected', OLD),
      connection('dave', 'connected', OLD, { oauthAppId: 'another-app' }),
      connection('erin', 'connected', NEW),
    ]);

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved).toEqual([]);
    expect(connections.repoints).toEqual([]);
  });

  it('returns only the records whose repoint succeeded', async () => {
    const connections = new FakeConnections(
      [connection('bob', 'connected', OLD), connection('carol', 'connected', OLD), connection('dave', 'unhealthy', OLD)],
      new Set(['carol']),
    );

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved.map((m) => m.connection.userId)).toEqual(['bob', 'dave']);
    expect(connections.repoints.map((call) => call.userId)).toEqual(['bob', 'carol', 'dave']);
  });

  it('looks only at the given Zoom identity', async () => {
    const connections = new FakeConnections([connection('bob', 'connected', OLD, { zoomIdentity: 'user#someone-else' })]);

    const moved = await repointSharers('alice', IDENTITY, successor, APP, connections, NOW);

    expect(moved).toEqual([]);
    expect(connections.listed).toEqual([IDENTITY]);
  });
});

describe('markDeletedCredentials', () => {
  it('marks connected records whose credential was deleted as unhealthy, and only those, and returns them', async () => {
    // Prepare
    const connections = new FakeConnections([
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
    expect(connections.statusChanges).toEqual([
      { userId: 'alice', status: 'unhealthy', credentialId: OLD, now: NOW, fromStatuses: ['connected'] },
      { userId: 'frank', status: 'unhealthy', credentialId: 'cred-older', now: NOW, fromStatuses: ['connected'] },
    ]);
    expect(marked).toEqual([
      connection('alice', 'unhealthy', OLD, { updatedAt: NOW }),
      connection('frank', 'unhealthy', 'cred-older', { updatedAt: NOW }),
    ]);
  });

  it('does nothing, not even a lookup, when nothing was deleted', async () => {
    const connections = new FakeConnections([connection('alice', 'connected', OLD)]);

    const marked = await markDeletedCredentials(IDENTITY, [], connections, NOW);

    expect(marked).toEqual([]);
    expect(connections.listed).toEqual([]);
    expect(connections.statusChanges).toEqual([]);
  });

  it('returns only the records it actually marked (a record that changed meanwhile is skipped)', async () => {
    const connections = new FakeConnections(
      [connection('alice', 'connected', OLD), connection('bob', 'connected', OLD)],
      new Set(['alice']),
    );

    const marked = await markDeletedCredentials(IDENTITY, [OLD], connections, NOW);

    expect(marked.map((record) => record.userId)).toEqual(['bob']);
    expect(connections.statusChanges.map((change) => change.userId)).toEqual(['alice', 'bob']);
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

  function followUpHarness(records: Connection[], { lockFree = true } = {}) {
    const connections = new FakeConnections(records);
    const deleted: string[] = [];
    const locks: string[] = [];
    const released: string[] = [];
    const deps: ConnectFollowUpDeps = {
      connections: Object.assign(connections, {
        get: async (userId: string) => records.find((record) => record.userId === userId),
      }),
      recall: { deleteCredential: async (id: string) => void deleted.push(id) },
      lock: {
        acquire: async (identity) => {
          locks.push(identity);
          return lockFree ? { identity, release: async () => void released.push(identity) } : undefined;
        },
      },
      now: () => Date.parse(NOW),
      log: { info: () => undefined },
    };
    return { connections, deleted, locks, released, deps };
  }

  it("moves the identity's other relying records onto the connect's credential under the identity lock", async () => {
    const { connections, locks, released, deps } = followUpHarness([
      connection('user-42', 'connected', NEW),
      connection('user-7', 'unhealthy', OLD),
      connection('user-8', 'disconnected', OLD),
    ]);

    await followUpConnect(entry(), deps);

    expect(connections.repoints.map(({ userId, from, to }) => [userId, from, to.id])).toEqual([['user-7', OLD, NEW]]);
    expect(locks).toEqual([IDENTITY]);
    expect(released).toEqual([IDENTITY]);
  });

  it('takes no lock and moves nothing when no other record of the identity is on another credential', async () => {
    const { connections, locks, deps } = followUpHarness([connection('user-42', 'connected', NEW), connection('user-7', 'connected', NEW)]);

    await followUpConnect(entry(), deps);

    expect(locks).toEqual([]);
    expect(connections.repoints).toEqual([]);
  });

  it("moves nothing when the user's record no longer relies on the credential (something newer replaced it)", async () => {
    const { connections, released, deps } = followUpHarness([connection('user-42', 'unhealthy', NEW), connection('user-7', 'unhealthy', OLD)]);

    await followUpConnect(entry(), deps);

    expect(connections.repoints).toEqual([]);
    expect(released).toEqual([IDENTITY]);
  });

  it('throws IdentityBusyError while another holder keeps the lock, so the publisher retries the entry', async () => {
    const { connections, deps } = followUpHarness([connection('user-42', 'connected', NEW), connection('user-7', 'unhealthy', OLD)], {
      lockFree: false,
    });

    await expect(followUpConnect(entry(), deps)).rejects.toBeInstanceOf(IdentityBusyError);
    expect(connections.repoints).toEqual([]);
  });

  it('releases the credential of the Zoom identity the user left, once no record relies on it', async () => {
    const { deleted, deps } = followUpHarness([connection('user-42', 'connected', NEW)]);

    await followUpConnect(
      entry({ priorRecallCredentialId: 'cred-other', priorStatus: 'connected', priorZoomIdentity: 'user#zoom-user-old' }),
      deps,
    );

    expect(deleted).toEqual(['cred-other']);
  });

  it('keeps that credential while another user of the old identity relies on it, and after a revoke or disconnect', async () => {
    const sharer = connection('user-9', 'connected', 'cred-other', { zoomIdentity: 'user#zoom-user-old' });
    const { deleted, deps } = followUpHarness([connection('user-42', 'connected', NEW), sharer]);

    await followUpConnect(entry({ priorRecallCredentialId: 'cred-other', priorStatus: 'connected', priorZoomIdentity: 'user#zoom-user-old' }), deps);
    await followUpConnect(entry({ priorRecallCredentialId: 'cred-gone', priorStatus: 'revoked', priorZoomIdentity: 'user#zoom-user-old' }), deps);

    expect(deleted).toEqual([]);
  });

  it('does nothing for other event types', async () => {
    const { connections, locks, deps } = followUpHarness([connection('user-7', 'unhealthy', OLD)]);

    await followUpConnect(entry({ type: 'unhealthy', status: 'unhealthy' }), deps);

    expect([connections.listed, locks]).toEqual([[], []]);
  });
});
