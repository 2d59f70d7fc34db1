import { describe, expect, it } from 'vitest';
import type { Connection, ConnectionStatus } from '../../../functions/adapters/connection-repository.js';
import { RecallUnavailableError } from '../../../functions/core/errors.js';
import { type HealthSyncDeps, syncCredentialHealth } from '../../../functions/lifecycle/health-sync.js';
import type { RecallCredential } from '../../../functions/adapters/recall-client.js';
import { connectionRecord, FakeConnections, TEST_OAUTH_APP as APP } from '../../helpers/fakes/connections.js';
import { FakeRecall } from '../../helpers/fakes/recall.js';

const NOW_MS = Date.parse('2026-11-30T18:00:00.000Z');
const NOW = new Date(NOW_MS).toISOString();

const connection = (userId: string, status: ConnectionStatus, recallCredentialId: string, zoomUserId = 'zu-1'): Connection =>
  connectionRecord(userId, status, recallCredentialId, { zoomUserId, zoomIdentity: `user#${zoomUserId}` });

const recallCredential = (id: string, status: 'healthy' | 'unhealthy', zoomUserId = 'zu-1'): RecallCredential => ({
  id,
  oauth_app: APP,
  status,
  user_id: zoomUserId,
  account_id: 'za-1',
});

function recordingLog() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields: Record<string, unknown>) => lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

async function setup(records: Connection[], credentials: RecallCredential[], overrides: Partial<HealthSyncDeps> = {}) {
  const connections = await FakeConnections.create(records);
  const recall = new FakeRecall(credentials);
  const log = recordingLog();
  const deps: HealthSyncDeps = {
    recall,
    connections,
    oauthAppId: APP,
    now: () => NOW_MS,
    deadlineMs: NOW_MS + 60_000,
    random: () => 0.5,
    log,
    ...overrides,
  };
  return { connections, recall, log, run: () => syncCredentialHealth(deps) };
}

describe('syncCredentialHealth: credentials Recall lists as unhealthy', () => {
  it('lists once, filtered by the OAuth app and status=unhealthy', async () => {
    const { recall, run } = await setup([], []);

    await run();

    expect(recall.lists).toEqual([{ oauth_app: APP, status: 'unhealthy' }]);
  });

  it('marks the connected records on an unhealthy credential unhealthy (each write carries its `unhealthy` event in the outbox)', async () => {
    // Prepare: alice and bob share the unhealthy credential; carol is on another one of the same Zoom user.
    const { connections, run } = await setup(
      [connection('alice', 'connected', 'cred-bad'), connection('bob', 'connected', 'cred-bad'), connection('carol', 'connected', 'cred-good')],
      [recallCredential('cred-bad', 'unhealthy'), recallCredential('cred-good', 'healthy')],
    );

    // Act
    const summary = await run();

    // Assess
    expect(summary).toMatchObject({ unhealthy: 1, markedUnhealthy: 2, failed: 0, deferred: 0 });
    expect([connections.statusOf('alice'), connections.statusOf('bob'), connections.statusOf('carol')]).toEqual([
      'unhealthy',
      'unhealthy',
      'connected',
    ]);
    expect(connections.callsOf('setStatus').filter((w) => w.status === 'unhealthy').map((w) => w.fromStatuses)).toEqual([
      ['connected'],
      ['connected'],
    ]);
  });

  it('finds the records of an account-level credential by its account id', async () => {
    const record = { ...connection('alice', 'connected', 'cred-bad'), zoomUserId: null, zoomIdentity: 'account#za-9' };
    const { connections, run } = await setup([record], [{ id: 'cred-bad', oauth_app: APP, status: 'unhealthy', user_id: null, account_id: 'za-9' }]);

    const summary = await run();

    expect(summary.markedUnhealthy).toBe(1);
    expect(connections.statusOf('alice')).toBe('unhealthy');
  });

  it('leaves revoked, disconnected and already unhealthy records alone, and does not ask Recall about them', async () => {
    const { connections, recall, run } = await setup(
      [connection('alice', 'revoked', 'cred-bad'), connection('bob', 'disconnected', 'cred-bad'), connection('carol', 'unhealthy', 'cred-bad')],
      [recallCredential('cred-bad', 'unhealthy')],
    );

    const summary = await run();

    expect(summary).toMatchObject({ unhealthy: 1, markedUnhealthy: 0, healthyAgain: 0 });
    expect(connections.callsOf('setStatus')).toEqual([]);
    expect(recall.retrieves).toEqual([]);
  });
});

describe('syncCredentialHealth: unhealthy records whose credential the list no longer names', () => {
  it('moves the records back to connected when Recall reports the credential healthy, each write carrying `healthy_again`', async () => {
    const { connections, recall, run } = await setup(
      [connection('alice', 'unhealthy', 'cred-1'), connection('bob', 'unhealthy', 'cred-1')],
      [recallCredential('cred-1', 'healthy')],
    );

    const summary = await run();

    expect(summary).toMatchObject({ unhealthy: 0, healthyAgain: 2, stillGone: 0 });
    // One retrieve per credential, however many records share it.
    expect(recall.retrieves).toEqual(['cred-1']);
    expect(connections.callsOf('setStatus')).toMatchObject([
      { userId: 'alice', status: 'connected', fromStatuses: ['unhealthy'] },
      { userId: 'bob', status: 'connected', fromStatuses: ['unhealthy'] },
    ]);
  });

  it('keeps the records unhealthy when the credential is gone at Recall (404): the user has to reconnect', async () => {
    const { connections, run } = await setup([connection('alice', 'unhealthy', 'cred-deleted')], []);

    const summary = await run();

    expect(summary).toMatchObject({ stillGone: 1, healthyAgain: 0 });
    expect(connections.statusOf('alice')).toBe('unhealthy');
    expect(connections.callsOf('setStatus')).toEqual([]);
  });

  it('keeps the records unhealthy when the retrieve still says unhealthy', async () => {
    const { connections, recall, run } = await setup([connection('alice', 'unhealthy', 'cred-1')], [recallCredential('cred-1', 'unhealthy')]);
    // The list (taken first) missed it, e.g. it turned unhealthy again between the two calls.
    recall.listAnswers = [[]];

    const summary = await run();

    expect(recall.retrieves).toEqual(['cred-1']);
    expect(summary).toMatchObject({ stillUnhealthy: 1, healthyAgain: 0 });
    expect(connections.statusOf('alice')).toBe('unhealthy');
  });
});

describe('syncCredentialHealth: a record disconnected while it runs', () => {
  // The disconnect lands after the read: the conditional write finds `disconnected` and does nothing.
  it.each([
    ['is not marked unhealthy, counted or announced', 'connected', 'unhealthy', 'afterIdentityQuery', 'markedUnhealthy'],
    ['is not moved back to connected', 'unhealthy', 'healthy', 'afterStatusQuery', 'healthyAgain'],
  ] as const)('%s', async (_, status, recallStatus, moment, count) => {
    const { connections, run } = await setup([connection('alice', status, 'cred-1')], [recallCredential('cred-1', recallStatus)]);
    connections.meanwhile[moment] = () => connections.put(connection('alice', 'disconnected', 'cred-1'));

    const summary = await run();

    expect(summary[count]).toBe(0);
    expect(connections.statusOf('alice')).toBe('disconnected');
  });
});

describe('syncCredentialHealth: bounded work', () => {
  it('retrieves at most maxRetrieves credentials per run, says so in a log line, and leaves the rest for the next run', async () => {
    const records = ['cred-1', 'cred-2', 'cred-3'].map((id, i) => connection(`user-${i}`, 'unhealthy', id));
    const { recall, log, run } = await setup(records, [], { maxRetrieves: 2 });

    const summary = await run();

    expect(recall.retrieves).toHaveLength(2);
    expect(new Set(recall.retrieves).size).toBe(2);
    expect(summary).toMatchObject({ stillGone: 2, deferred: 1 });
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: 'Health sync reached its per-run bound; the remaining credentials wait for the next run',
      fields: { deferred: 1, maxRetrieves: 2 },
    });
  });

  it('varies which credentials a bounded run checks, so the ones left over get their turn', async () => {
    const records = ['cred-1', 'cred-2', 'cred-3'].map((id, i) => connection(`user-${i}`, 'unhealthy', id));
    const first = await setup(records, [], { maxRetrieves: 1, random: () => 0 });
    const second = await setup(records, [], { maxRetrieves: 1, random: () => 0.99 });

    await first.run();
    await second.run();

    expect(first.recall.retrieves).not.toEqual(second.recall.retrieves);
  });

  it('starts no retrieve after its deadline and reports the credentials as deferred', async () => {
    let now = NOW_MS;
    const { recall, run } = await setup(
      [connection('alice', 'unhealthy', 'cred-1'), connection('bob', 'unhealthy', 'cred-2')],
      [recallCredential('cred-1', 'healthy'), recallCredential('cred-2', 'healthy')],
      { now: () => now, deadlineMs: NOW_MS + 1_000 },
    );
    const retrieve = recall.getCredential.bind(recall);
    recall.getCredential = async (id) => {
      now += 5_000; // this call used up the run's time
      return retrieve(id);
    };

    const summary = await run();

    expect(recall.retrieves).toHaveLength(1);
    expect(summary).toMatchObject({ healthyAgain: 1, deferred: 1 });
  });

  it('uses 100 retrieves per run by default', async () => {
    const records = Array.from({ length: 101 }, (_, i) => connection(`user-${i}`, 'unhealthy', `cred-${i}`));
    const { recall, run } = await setup(records, []);

    const summary = await run();

    expect(recall.retrieves).toHaveLength(100);
    expect(summary.deferred).toBe(1);
  });
});

describe('syncCredentialHealth: failures', () => {
  it('logs and counts a failed retrieve, and goes on with the other credentials', async () => {
    const { recall, log, run } = await setup(
      [connection('alice', 'unhealthy', 'cred-1'), connection('bob', 'unhealthy', 'cred-2')],
      [recallCredential('cred-1', 'healthy'), recallCredential('cred-2', 'healthy')],
    );
    recall.fail('retrieve', { id: 'cred-1' });

    const summary = await run();

    expect(summary).toMatchObject({ failed: 1, healthyAgain: 1 });
    expect(log.lines).toContainEqual({
      level: 'error',
      message: 'Health sync could not retrieve a credential',
      fields: { recallCredentialId: 'cred-1', error: expect.any(RecallUnavailableError) },
    });
  });

  it('logs and counts a failed write, and goes on with the other records', async () => {
    const { connections, run } = await setup(
      [connection('alice', 'connected', 'cred-bad'), connection('bob', 'connected', 'cred-bad')],
      [recallCredential('cred-bad', 'unhealthy')],
    );
    connections.failWritesFor.add('alice');

    const summary = await run();

    expect(summary).toMatchObject({ failed: 1, markedUnhealthy: 1 });
    expect(connections.statusOf('bob')).toBe('unhealthy');
  });

  it('logs and counts a failed lookup of an unhealthy credential\'s records, and still re-checks the others', async () => {
    const { connections, run } = await setup(
      [connection('alice', 'connected', 'cred-bad'), connection('bob', 'unhealthy', 'cred-1', 'zu-2')],
      [recallCredential('cred-bad', 'unhealthy'), recallCredential('cred-1', 'healthy', 'zu-2')],
    );
    connections.failIdentityLookups = true;

    const summary = await run();

    expect(summary).toMatchObject({ failed: 1, markedUnhealthy: 0, healthyAgain: 1 });
  });

  it('fails the run when Recall\'s list cannot be read, changing nothing', async () => {
    const { connections, recall, run } = await setup([connection('alice', 'unhealthy', 'cred-1')], [recallCredential('cred-1', 'healthy')]);
    recall.fail('list');

    await expect(run()).rejects.toThrow(RecallUnavailableError);
    expect(connections.callsOf('setStatus')).toEqual([]);
  });

  it('logs the summary it returns', async () => {
    const { log, run } = await setup([connection('alice', 'connected', 'cred-bad')], [recallCredential('cred-bad', 'unhealthy')]);

    const summary = await run();

    expect(summary).toEqual({
      unhealthy: 1,
      markedUnhealthy: 1,
      healthyAgain: 0,
      stillUnhealthy: 0,
      stillGone: 0,
      failed: 0,
      deferred: 0,
    });
    expect(log.lines).toContainEqual({ level: 'info', message: 'Health sync finished', fields: summary });
  });
});
