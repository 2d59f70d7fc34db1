import { describe, expect, it, vi } from 'vitest';
import type { Connection, ConnectionStatus } from '../../../functions/adapters/connection-repository.js';
import type { RecallCredential } from '../../../functions/adapters/recall-client.js';
import {
  DEFAULT_MAX_RETRIEVES,
  LISTING_SKEW_MS,
  type ReconcileDeps,
  type ReconcileReport,
  reconcile,
  reconcileSummary,
} from '../../../functions/lifecycle/reconcile.js';
import { connectionRecord, FakeConnections } from '../../helpers/fakes/connections.js';
import { FakeLock } from '../../helpers/fakes/lock.js';
import { FakeRecall } from '../../helpers/fakes/recall.js';

const APP = 'app-1';
const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const GRACE_MS = 900_000;
const HOUR_AGO = new Date(NOW - 3_600_000).toISOString();

/** A live credential of Zoom user `zoomUser` in account `acct-1`; `createdAt` null for one Recall does not date. */
const credential = (id: string, zoomUser: string | null, createdAt: string | null = HOUR_AGO, oauthApp = APP): RecallCredential => ({
  id,
  oauth_app: oauthApp,
  status: 'healthy',
  user_id: zoomUser,
  account_id: 'acct-1',
  ...(createdAt === null ? {} : { created_at: createdAt }),
});

/** A record of Zoom user `zoomUser` (none: its Zoom data was removed), written an hour ago. */
const record = (userId: string, status: ConnectionStatus, recallCredentialId: string, zoomUser: string | null, extra: Partial<Connection> = {}) =>
  connectionRecord(userId, status, recallCredentialId, {
    zoomAccountId: 'acct-1',
    zoomUserId: zoomUser,
    zoomIdentity: zoomUser ? `user#${zoomUser}` : null,
    oauthAppId: APP,
    connectedAt: HOUR_AGO,
    updatedAt: HOUR_AGO,
    ...extra,
  });

async function setup(overrides: Partial<ReconcileDeps> = {}) {
  const recall = new FakeRecall();
  const connections = await FakeConnections.create();
  const lock = new FakeLock();
  const log = { warn: vi.fn(), error: vi.fn() };
  const run = (more: Partial<ReconcileDeps> = {}): Promise<ReconcileReport> =>
    reconcile({
      recall,
      connections,
      lock,
      oauthAppId: APP,
      fix: false,
      now: () => NOW,
      orphanGraceMs: GRACE_MS,
      deadlineMs: NOW + 60_000,
      log,
      ...overrides,
      ...more,
    });
  const add = (...args: Parameters<typeof credential>) => {
    const added = credential(...args);
    recall.add(added);
    return added;
  };
  const put = (...args: Parameters<typeof record>) => connections.put(record(...args));
  return { recall, connections, lock, log, run, add, put };
}

const fix = { fix: true } as const;

describe('reconcile: orphan credentials', () => {
  it('reports a live credential no record relies on once it is older than the grace period', async () => {
    // Prepare
    const { run, add, put } = await setup();
    add('cred-used', 'zu-1');
    add('cred-orphan', 'zu-2', new Date(NOW - GRACE_MS - 1).toISOString());
    add('cred-young', 'zu-3', new Date(NOW - GRACE_MS + 1_000).toISOString());
    add('cred-undated', 'zu-4', null);
    await put('user-1', 'connected', 'cred-used', 'zu-1');

    // Act
    const report = await run();

    // Assess
    expect(report.orphans).toEqual([
      { recallCredentialId: 'cred-orphan', zoomIdentity: 'user#zu-2', createdAt: new Date(NOW - GRACE_MS - 1).toISOString() },
      // Without created_at it counts as old.
      { recallCredentialId: 'cred-undated', zoomIdentity: 'user#zu-4', createdAt: null },
    ]);
    expect(report.notYetChecked.youngCredentials).toEqual(['cred-young']);
    expect(report).toMatchObject({ liveCredentials: 4, relyingRecords: 1, problems: 2, unresolved: 2 });
  });

  it('counts only connected and unhealthy records as relying on a credential, found through the status index', async () => {
    const { connections, run, add, put } = await setup();
    add('cred-unhealthy', 'zu-1');
    add('cred-revoked', 'zu-2');
    add('cred-disconnected', 'zu-3');
    await put('user-1', 'unhealthy', 'cred-unhealthy', 'zu-1');
    await put('user-2', 'revoked', 'cred-revoked', 'zu-2');
    await put('user-3', 'disconnected', 'cred-disconnected', 'zu-3');

    const report = await run();

    expect(connections.callsOf('listByStatus').map((call) => call.status).sort()).toEqual(['connected', 'unhealthy']);
    expect(report.orphans.map((orphan) => orphan.recallCredentialId)).toEqual(['cred-disconnected', 'cred-revoked']);
  });

  it('lists the OAuth app once, filtered by it, and ignores a credential of another app the listing returns', async () => {
    const { recall, run, add } = await setup();
    add('cred-other-app', 'zu-1', HOUR_AGO, 'app-2');
    recall.listAnswers = [[...recall.credentials.values()]];

    const report = await run();

    expect(recall.lists).toEqual([{ oauth_app: APP }]);
    expect(report).toMatchObject({ liveCredentials: 0, orphans: [] });
  });

  it('changes nothing without fix: no delete, no write, no lock', async () => {
    const { recall, connections, lock, run, add, put } = await setup();
    add('cred-orphan', 'zu-2');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');

    const report = await run();

    expect(report.orphans).toHaveLength(1);
    expect(report.danglingRecords).toHaveLength(1);
    expect(report.actions).toEqual([]);
    expect(recall.deleted).toEqual([]);
    expect(connections.writes).toEqual([]);
    expect(lock.held).toEqual([]);
  });

  it('deletes an orphan under its identity lock and releases the lock', async () => {
    const { recall, lock, log, run, add } = await setup();
    add('cred-orphan', 'zu-2');

    const report = await run(fix);

    expect(recall.log).toEqual(['list', 'delete cred-orphan']);
    expect(lock.held).toEqual(['user#zu-2']);
    expect(lock.released).toEqual(['user#zu-2']);
    // The lock is waited for and held briefly, never for the whole run.
    expect(lock.acquired).toEqual([{ identity: 'user#zu-2', deadlineMs: NOW + 10_000, waitUntilMs: NOW + 3_000 }]);
    expect(report.actions).toEqual([{ kind: 'deleted', recallCredentialId: 'cred-orphan', zoomIdentity: 'user#zu-2' }]);
    expect(report).toMatchObject({ problems: 1, unresolved: 0 });
  });

  it('never deletes a credential a record points at, even one written after the listing, found under the lock', async () => {
    // Prepare: a callback records user-9 on the credential while reconcile waits for the lock
    const { recall, connections, lock, run, add, put } = await setup();
    add('cred-orphan', 'zu-2');
    connections.meanwhile.beforeIdentityQuery = () => put('user-9', 'connected', 'cred-orphan', 'zu-2');

    // Act
    const report = await run(fix);

    // Assess
    expect(recall.deleted).toEqual([]);
    expect(connections.callsOf('listByZoomIdentity')).toContainEqual({ zoomIdentity: 'user#zu-2' });
    expect(report.actions).toEqual([{ kind: 'skipped', recallCredentialId: 'cred-orphan', reason: 'in_use' }]);
    expect(lock.released).toEqual(['user#zu-2']);
    expect(report.unresolved).toBe(0);
  });

  it('skips and reports an orphan whose identity lock another holder keeps', async () => {
    const { recall, lock, run, add } = await setup();
    add('cred-orphan', 'zu-2');
    lock.busy.add('user#zu-2');

    const report = await run(fix);

    expect(recall.deleted).toEqual([]);
    expect(report.actions).toEqual([{ kind: 'skipped', recallCredentialId: 'cred-orphan', reason: 'lock_busy' }]);
    expect(report).toMatchObject({ problems: 1, unresolved: 1 });
  });

  it('keeps the live credential of an identity whose record is on a gone credential: it is the repoint target', async () => {
    // Prepare: user-1's credential was replaced at Recall by cred-new, which nobody points at yet
    const { recall, run, add, put } = await setup();
    add('cred-new', 'zu-1');
    await put('user-1', 'connected', 'cred-gone', 'zu-1', { updatedAt: new Date(NOW - LISTING_SKEW_MS + 1).toISOString() });

    // Act: the record changed too recently to judge this run
    const report = await run(fix);

    // Assess: not an orphan, nothing touched
    expect(report.orphans).toEqual([]);
    expect(report.notYetChecked.recentRecords).toEqual(['user-1']);
    expect(recall.deleted).toEqual([]);
    expect(report.problems).toBe(0);
  });

  it('does not delete an orphan when, under the lock, a record of its identity turns out to be on a gone credential', async () => {
    const { recall, connections, run, add, put } = await setup();
    add('cred-orphan', 'zu-2');
    connections.meanwhile.beforeIdentityQuery = () => put('user-9', 'connected', 'cred-elsewhere', 'zu-2');

    const report = await run(fix);

    expect(recall.deleted).toEqual([]);
    expect(report.actions).toEqual([{ kind: 'skipped', recallCredentialId: 'cred-orphan', reason: 'awaits_repoint' }]);
  });

  it('releases the lock and reports the failure when the delete fails, and goes on with the next orphan', async () => {
    const { recall, lock, log, run, add } = await setup();
    add('cred-a', 'zu-1');
    add('cred-b', 'zu-2');
    recall.fail('delete', { times: 1 });

    const report = await run(fix);

    expect(lock.released).toEqual(['user#zu-1', 'user#zu-2']);
    expect(report.failures).toEqual([
      { stage: 'repair', recallCredentialId: 'cred-a', error: 'RecallUnavailableError: Recall delete answered 503' },
    ]);
    expect(report.actions).toEqual([{ kind: 'deleted', recallCredentialId: 'cred-b', zoomIdentity: 'user#zu-2' }]);
    expect(log.error).toHaveBeenCalledWith('Reconcile could not repair', expect.objectContaining({ recallCredentialId: 'cred-a' }));
    expect(report.unresolved).toBe(1);
  });
});

describe('reconcile: dangling records', () => {
  it('confirms a record whose credential is not listed with one retrieve per credential before it counts', async () => {
    // Prepare: two users share a gone credential; a third's credential was created after the listing
    const { recall, log, run, put } = await setup();
    await put('user-1', 'connected', 'cred-gone', 'zu-1');
    await put('user-2', 'connected', 'cred-gone', 'zu-1');
    await put('user-3', 'connected', 'cred-late', 'zu-3');
    recall.unlisted.set('cred-late', { id: 'cred-late', oauth_app: APP, user_id: 'zu-3' });

    // Act
    const report = await run();

    // Assess
    expect(recall.log).toEqual(['list', 'retrieve cred-gone', 'retrieve cred-late']);
    expect(report.danglingRecords.map((record) => record.userId)).toEqual(['user-1', 'user-2']);
    expect(report.danglingRecords[0]).toEqual({
      userId: 'user-1',
      status: 'connected',
      recallCredentialId: 'cred-gone',
      zoomIdentity: 'user#zu-1',
      repair: 'mark_unhealthy',
    });
  });

  it('judges only records last changed before the listing started, less the clock skew', async () => {
    const { recall, log, run, put } = await setup();
    await put('user-old', 'connected', 'cred-gone-1', 'zu-1', { updatedAt: new Date(NOW - LISTING_SKEW_MS - 1).toISOString() });
    await put('user-new', 'connected', 'cred-gone-2', 'zu-2', { updatedAt: new Date(NOW - LISTING_SKEW_MS).toISOString() });

    const report = await run();

    expect(recall.log).toEqual(['list', 'retrieve cred-gone-1']);
    expect(report.danglingRecords.map((record) => record.userId)).toEqual(['user-old']);
    expect(report.notYetChecked.recentRecords).toEqual(['user-new']);
  });

  it('repoints records to the identity’s one live credential, retrieved again under the lock', async () => {
    // Prepare
    const { recall, connections, lock, log, run, add, put } = await setup();
    const successor = add('cred-new', 'zu-1');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');
    await put('user-2', 'unhealthy', 'cred-gone', 'zu-1');

    // Act
    const report = await run(fix);

    // Assess
    expect(report.danglingRecords.map(({ userId, repair, repointTo }) => ({ userId, repair, repointTo }))).toEqual([
      { userId: 'user-1', repair: 'repoint', repointTo: 'cred-new' },
      { userId: 'user-2', repair: 'repoint', repointTo: 'cred-new' },
    ]);
    expect(recall.log).toEqual(['list', 'retrieve cred-gone', 'retrieve cred-new']);
    expect(connections.callsOf('repoint')).toContainEqual({ userId: 'user-1', from: 'cred-gone', to: successor, now: new Date(NOW).toISOString() });
    expect(connections.records.get('user-2')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-new' });
    expect(lock.held).toEqual(['user#zu-1']);
    expect(lock.released).toEqual(['user#zu-1']);
    expect(report.actions).toEqual([
      { kind: 'repointed', userId: 'user-1', fromCredentialId: 'cred-gone', toCredentialId: 'cred-new' },
      { kind: 'repointed', userId: 'user-2', fromCredentialId: 'cred-gone', toCredentialId: 'cred-new' },
    ]);
    // The successor was never an orphan, and is not deleted.
    expect(report.orphans).toEqual([]);
    expect(recall.deleted).toEqual([]);
    expect(report).toMatchObject({ problems: 2, unresolved: 0 });
  });

  it('marks a connected record unhealthy when its identity has no live credential, and leaves an unhealthy one waiting', async () => {
    const { connections, run, put } = await setup();
    await put('user-1', 'connected', 'cred-gone', 'zu-1');
    await put('user-2', 'unhealthy', 'cred-gone-2', 'zu-2');

    const report = await run(fix);

    expect(connections.callsOf('setStatus')).toContainEqual({
      userId: 'user-1',
      status: 'unhealthy',
      credentialId: 'cred-gone',
      now: new Date(NOW).toISOString(),
      fromStatuses: ['connected'],
    });
    expect(connections.records.get('user-1')?.status).toBe('unhealthy');
    expect(connections.records.get('user-2')?.status).toBe('unhealthy');
    expect(report.awaitingReconnect).toEqual(['user-2']);
    expect(report.actions).toEqual([{ kind: 'marked_unhealthy', userId: 'user-1', recallCredentialId: 'cred-gone' }]);
    expect(report).toMatchObject({ problems: 1, unresolved: 0 });
  });

  it('marks rather than repoints when the identity has more than one live credential, and reports the duplicates', async () => {
    const { recall, connections, run, add, put } = await setup();
    add('cred-a', 'zu-1');
    add('cred-b', 'zu-1');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');

    const report = await run(fix);

    expect(report.duplicateIdentities).toEqual([{ zoomIdentity: 'user#zu-1', recallCredentialIds: ['cred-a', 'cred-b'] }]);
    expect(connections.callsOf('repoint')).toEqual([]);
    expect(connections.records.get('user-1')?.status).toBe('unhealthy');
    // Neither duplicate is deleted while a record of the identity waits; a human decides.
    expect(recall.deleted).toEqual([]);
    expect(report.unresolved).toBe(1);
  });

  it('falls back to marking when the repoint target is gone by the time it holds the lock', async () => {
    const { recall, connections, lock, run, put } = await setup();
    // Listed, then deleted before the retrieve under the lock.
    recall.listAnswers = [[credential('cred-new', 'zu-1')]];
    await put('user-1', 'connected', 'cred-gone', 'zu-1');

    const report = await run(fix);

    expect(connections.callsOf('repoint')).toEqual([]);
    expect(report.actions).toEqual([{ kind: 'marked_unhealthy', userId: 'user-1', recallCredentialId: 'cred-gone' }]);
  });

  it('reports a record something else repaired meanwhile as skipped, without overwriting it', async () => {
    const { connections, run, add, put } = await setup();
    add('cred-new', 'zu-1');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');
    connections.losesRace.add('user-1');

    const report = await run(fix);

    expect(report.actions).toEqual([{ kind: 'skipped', userId: 'user-1', recallCredentialId: 'cred-gone', reason: 'changed_meanwhile' }]);
    expect(report.unresolved).toBe(0);
  });

  it('can only mark a record whose Zoom data was removed, without a lock', async () => {
    const { lock, run, put } = await setup();
    await put('user-1', 'connected', 'cred-gone', null);

    const report = await run(fix);

    expect(lock.held).toEqual([]);
    expect(report.actions).toEqual([{ kind: 'marked_unhealthy', userId: 'user-1', recallCredentialId: 'cred-gone' }]);
  });

  it('skips and reports the records of an identity whose lock another holder keeps', async () => {
    const { connections, lock, run, add, put } = await setup();
    add('cred-new', 'zu-1');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');
    lock.busy.add('user#zu-1');

    const report = await run(fix);

    expect(connections.writes).toEqual([]);
    expect(report.actions).toEqual([{ kind: 'skipped', userId: 'user-1', recallCredentialId: 'cred-gone', reason: 'lock_busy' }]);
    expect(report.unresolved).toBe(1);
  });

  it('reports a retrieve that fails as a check failure and still confirms the others', async () => {
    const { recall, run, put } = await setup();
    await put('user-1', 'connected', 'cred-flaky', 'zu-1');
    await put('user-2', 'connected', 'cred-gone', 'zu-2');
    recall.fail('retrieve', { id: 'cred-flaky' });

    const report = await run();

    expect(report.failures).toEqual([
      { stage: 'check', userId: 'user-1', recallCredentialId: 'cred-flaky', error: 'RecallUnavailableError: Recall retrieve answered 503' },
    ]);
    expect(report.danglingRecords.map((record) => record.userId)).toEqual(['user-2']);
    expect(report.problems).toBe(2);
  });

  it('defers what the retrieve bound or the deadline leaves, and repairs nothing after the deadline', async () => {
    const { recall, run, add, put } = await setup();
    add('cred-orphan', 'zu-9');
    for (let i = 0; i < 3; i++) await put(`user-${i}`, 'connected', `cred-gone-${i}`, `zu-${i}`);

    const bounded = await run({ maxRetrieves: 2 });
    expect(recall.retrieves).toHaveLength(2);
    expect(bounded).toMatchObject({ deferred: 1, problems: 4 });

    recall.retrieves.length = 0;
    const late = await run({ ...fix, deadlineMs: NOW });
    expect(recall.retrieves).toEqual([]);
    expect(late).toMatchObject({ deferred: 3, danglingRecords: [], unresolved: 4 });
    expect(late.actions).toEqual([{ kind: 'skipped', recallCredentialId: 'cred-orphan', reason: 'out_of_time' }]);
    expect(recall.deleted).toEqual([]);
    expect(DEFAULT_MAX_RETRIEVES).toBe(100);
  });

  it('ignores records of another OAuth app, reporting them', async () => {
    const { recall, run, put } = await setup();
    await put('user-1', 'connected', 'cred-elsewhere', 'zu-1', { oauthAppId: 'app-2' });

    const report = await run(fix);

    expect(report.otherAppRecords).toEqual([{ userId: 'user-1', oauthAppId: 'app-2' }]);
    expect(report.danglingRecords).toEqual([]);
    expect(recall.retrieves).toEqual([]);
    expect(report.problems).toBe(0);
  });
});

describe('reconcileSummary', () => {
  it('gives counts and ids for one log line, never a credential body', async () => {
    const { run, add, put } = await setup();
    add('cred-orphan', 'zu-2');
    await put('user-1', 'connected', 'cred-gone', 'zu-1');

    const summary = reconcileSummary(await run(fix));

    expect(summary).toMatchObject({
      fix: true,
      orphans: ['cred-orphan'],
      danglingRecords: ['user-1'],
      repaired: 2,
      skipped: 0,
      problems: 2,
      unresolved: 0,
    });
    expect(JSON.stringify(summary)).not.toContain('acct-1');
  });
});
