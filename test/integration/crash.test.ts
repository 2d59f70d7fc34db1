import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useFileFixture } from '../helpers/file-fixture.js';
import { lockKey } from '../../functions/core/table-schema.js';
import type { RecallAppKind } from '../../local/local-settings.js';
import { DEFAULT_BEHAVIOUR, type FaultRequest, type SandboxCredential } from '../../local/sandbox-recall.js';
import type { ZoomIdentity } from '../../local/sandbox-zoom.js';
import { ageCredentials, connectThroughDemo, getConnection, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { CrashHarness, endLease } from './helpers/crash-harness.js';
import {
  assertIdentityInvariants,
  assertTransitionsPublished,
  identityKey,
  markRecall,
  type RecallMark,
  recallCallsSince,
  timed,
} from './helpers/invariants.js';
import { useLocalService } from './helpers/local-service.js';
import { type PendingCallback, reachCallback } from './helpers/pending-callback.js';

/**
 * Crash consistency (docs/failure-handling.md, "A crash between two steps"): the callback handler runs in a process
 * of its own and is killed (SIGKILL) between two of its steps; then the same product user tries again through local
 * mode, as they would, and ends `connected` with invariant 4 of docs/design.md intact: one live credential for the Zoom
 * identity, every record of the identity on it (the users who shared it before the crash too), no dangling record,
 * no orphan, in bounded time.
 *
 * Each crash point is marked by the request the child is waiting on when it dies: a sandbox Recall call that never
 * answers (done or not done), or a DynamoDB request the proxy holds.
 */

/**
 * The crashed callback's deadline. Its identity lock's lease runs 2 s past it, so a crashed holder blocks the
 * identity for at most ~7 s. It must leave the create its time: the connect module keeps 2.5 s back from it.
 */
const CHILD_DEADLINE_MS = 5_000;
/** The lock's lease runs this long past its holder's deadline (functions/adapters/identity-lock.ts). */
const LEASE_MARGIN_MS = 2_000;
/** The next attempt's deadline outlasts a crashed holder's lease, so it can wait for the lock to free up. */
const SERVER_DEADLINE_MS = CHILD_DEADLINE_MS + LEASE_MARGIN_MS + 3_000;
/** The next attempt's own work, on top of waiting out a crashed holder's lease. */
const NEXT_ATTEMPT_WORK_MS = 3_000;

const { server, table } = useLocalService({ env: { CALLBACK_DEADLINE_MS: String(SERVER_DEADLINE_MS) } });
const harness = useFileFixture('The crash harness', () => CrashHarness.start(server));
// Registered last, so it runs first: before the harness and the server close.
afterAll(() => server.sandboxRecall.configure(DEFAULT_BEHAVIOUR));

/** One Zoom identity, the product user whose callback crashes, and (optionally) users already sharing an old credential. */
interface Scene {
  appKind: RecallAppKind;
  identity: ZoomIdentity;
  key: string;
  filter: { userId: string } | { accountId: string };
  sharers: string[];
  /** The Zoom user a product user connects as (`n` > 3 for users the scene did not connect). */
  zoomUser: (n: number) => ZoomIdentity;
  /** The credential the sharers are on, aged past the adopt window; absent for a first connect of the identity. */
  old: SandboxCredential | undefined;
  /** The product user whose callback crashes, back from Zoom, and who then tries again. */
  victim: PendingCallback;
}

async function scene(appKind: RecallAppKind, sharing: 'shared old credential' | 'first connect'): Promise<Scene> {
  const identity = uniqueIdentity('crash');
  // Under an account-level app, each product user is another Zoom user of the same account.
  const zoomUser = (n: number): ZoomIdentity =>
    appKind === 'user_level' ? identity : { accountId: identity.accountId, userId: `${identity.userId}-${n}` };
  const filter = appKind === 'user_level' ? { userId: identity.userId } : { accountId: identity.accountId };
  const sharers: string[] = [];
  let old: SandboxCredential | undefined;
  if (sharing === 'shared old credential') {
    sharers.push(uniqueUser('sharer'), uniqueUser('sharer'));
    await connectThroughDemo(server, sharers[0] as string, zoomUser(1));
    await connectThroughDemo(server, sharers[1] as string, zoomUser(2));
    expect(ageCredentials(server, filter)).toBe(1);
    old = server.sandboxRecall.credentialsFor(filter)[0];
  }
  const victim = await reachCallback(server, uniqueUser('victim'), zoomUser(3));
  return { appKind, identity, key: identityKey(identity, appKind), filter, sharers, zoomUser, old, victim };
}

/** A create of this scene's Zoom identity (user for a user-level app, account for an account-level one). */
const isCreateOf = (s: Scene) => (request: Pick<FaultRequest, 'operation' | 'zoomIdentity'>) =>
  request.operation === 'create' &&
  (s.appKind === 'user_level'
    ? request.zoomIdentity?.userId === s.identity.userId
    : request.zoomIdentity?.accountId === s.identity.accountId);

/** The `n`-th create of the identity from now on. */
function nthCreateOf(s: Scene, n: number): (request: FaultRequest) => boolean {
  let seen = 0;
  const isCreate = isCreateOf(s);
  return (request) => isCreate(request) && ++seen === n;
}

/** A list filtered to this scene's Zoom identity (as the conflict resolution lists it). */
const listsIdentity = (s: Scene, query: URLSearchParams) =>
  s.appKind === 'user_level' ? query.get('user_id') === s.identity.userId : query.get('account_id') === s.identity.accountId;

const isDeleteOf = (credential: SandboxCredential | undefined) => (request: FaultRequest) =>
  request.operation === 'delete' && request.credentialId === credential?.id;

/** The crash: the victim's callback runs in a child process and dies at `crashPoint`. */
const crash = (s: Scene, crashPoint: Promise<unknown>) =>
  harness.crash({ pending: s.victim, crashPoint, env: { CALLBACK_DEADLINE_MS: String(CHILD_DEADLINE_MS) } });

/** Statuses and credentials of some users' records, read over the API. */
async function recordsOf(userIds: readonly string[]) {
  return Promise.all(
    userIds.map(async (userId) => {
      const { connection } = await getConnection(server, userId);
      return connection && { status: connection.status, credential: connection.recallCredentialId };
    }),
  );
}

/** Asserts the users who shared the identity before the crash are all `status` on `credentialId`. */
async function expectSharers(s: Scene, status: 'connected' | 'unhealthy', credentialId = s.old?.id) {
  expect(await recordsOf(s.sharers)).toEqual(s.sharers.map(() => ({ status, credential: credentialId })));
}

/** The ids of the identity's live credentials at the sandbox. */
const liveCredentialIds = (s: Scene) => server.sandboxRecall.credentialsFor(s.filter).map((credential) => credential.id);

/** When the identity's lock item says its holder's lease ends (epoch ms), if there is one. */
async function leaseUntil(s: Scene): Promise<number | undefined> {
  const lease = (await table.item(lockKey(s.key)))?.leaseUntil?.N;
  return lease === undefined ? undefined : Number(lease);
}

/** Recall calls about this scene's identity since `mark` (other tests run at the same time). */
function identityCallsSince(s: Scene, mark: RecallMark) {
  const isCreate = isCreateOf(s);
  const calls = recallCallsSince(server, mark);
  return {
    creates: calls.filter(isCreate).length,
    lists: calls.filter(
      (request) => request.operation === 'list' && listsIdentity(s, new URLSearchParams(request.search)),
    ).length,
    deletes: calls.filter((request) => request.operation === 'delete' && request.credentialId === s.old?.id).length,
  };
}

/**
 * The same product user tries again through local mode (a new browser tab, the demo page's link) and must end
 * connected, waiting out a crashed holder's lease when it has to, with the invariants intact for everyone who uses
 * the identity.
 * @param lock - `taken over`: the next attempt needs the lock the crash left, and must give it back
 * @returns the identity's credential now
 */
async function nextAttemptEndsConnected(s: Scene, lock?: 'taken over'): Promise<SandboxCredential> {
  const lease = await leaseUntil(s);
  // The crashed callback's create keys: a new attempt (new state, new code) never repeats one, or Recall would
  // answer it with the crashed attempt's result.
  const crashedKeys = new Set(server.sandboxRecall.requestsOf('create').filter(isCreateOf(s)).map((request) => request.idempotencyKey));
  const mark = markRecall(server);
  const startedAt = Date.now();
  const { ms } = await timed(() => connectThroughDemo(server, s.victim.userId, s.victim.choice));
  const leaseLeftMs = Math.max(0, (lease ?? 0) - startedAt);
  expect(ms, `next attempt took ${Math.round(ms)} ms with ${leaseLeftMs} ms of a crashed lease left`).toBeLessThan(
    leaseLeftMs + NEXT_ATTEMPT_WORK_MS,
  );
  expect(ms).toBeLessThan(SERVER_DEADLINE_MS);
  const { credential, records } = await assertIdentityInvariants(server, s.identity, [s.victim.userId, ...s.sharers], {
    appKind: s.appKind,
  });
  expect(records.every((record) => record.status === 'connected' && record.recallCredentialId === credential?.id)).toBe(true);
  const calls = identityCallsSince(s, mark);
  const keys = recallCallsSince(server, mark, 'create').filter(isCreateOf(s)).map((request) => request.idempotencyKey);
  // The next attempt's code is exchanged by a create of its own, so there is at least one key to check.
  expect(keys.length, JSON.stringify(calls)).toBeGreaterThanOrEqual(1);
  for (const key of keys) {
    expect(key?.length ?? 0).toBeGreaterThanOrEqual(16);
    expect(crashedKeys.has(key), 'a new attempt sends a new idempotency key').toBe(false);
  }
  expect(calls.creates, JSON.stringify(calls)).toBeLessThanOrEqual(2);
  expect(calls.lists, JSON.stringify(calls)).toBeLessThanOrEqual(2);
  expect(calls.deletes, JSON.stringify(calls)).toBeLessThanOrEqual(1);
  if (lock) expect(await table.item(lockKey(s.key)), 'the next attempt released its lock').toBeUndefined();
  // Every transition the crash and the next attempt left in the table has its event on the bus.
  await assertTransitionsPublished(server, [s.victim.userId, ...s.sharers]);
  return credential as SandboxCredential;
}

/**
 * The crash after Recall deleted the identity's old credential, before the create again, and what it leaves: no
 * credential for the identity, and the sharers `unhealthy` on the deleted one (never `connected`).
 */
async function crashAfterConflictDeleted(appKind: RecallAppKind): Promise<Scene> {
  const s = await scene(appKind, 'shared old credential');
  const deleted = server.sandboxRecall.failWhen(isDeleteOf(s.old), 'hang-after-processing');
  await crash(s, deleted);
  expect((await deleted).processedStatus).toBe(204);
  expect(liveCredentialIds(s)).toEqual([]);
  await expectSharers(s, 'unhealthy');
  return s;
}

describe.each(['user_level', 'account_level'] as const)('a callback killed between two steps, %s app', (appKind) => {
  beforeAll(() => {
    server.sandboxRecall.configure({ appKind, conflictMode: 'conflict', spendCodeOnConflict: false });
  });

  it.concurrent('after the state was consumed, before Recall processed the create', async () => {
    // Prepare
    const s = await scene(appKind, 'shared old credential');
    const createHung = server.sandboxRecall.failWhen(isCreateOf(s), 'hang');

    // Act
    await crash(s, createHung);

    // Assess what is left: a used state (a replay is refused without reaching Recall), nothing new at Recall
    expect((await createHung).idempotencyKey).toMatch(/^[A-Za-z0-9_.-]{16,}$/);
    const mark = markRecall(server);
    const replay = await s.victim.browser.request(s.victim.callbackUrl);
    expect(replay.status).toBe(400);
    expect(identityCallsSince(s, mark).creates).toBe(0);
    expect(liveCredentialIds(s)).toEqual([s.old?.id]);
    await expectSharers(s, 'connected');

    // Assess: the next attempt replaces the old credential and moves the sharers
    const credential = await nextAttemptEndsConnected(s);
    expect(credential.id).not.toBe(s.old?.id);
  });

  it.concurrent('after Recall created the credential, before the record (a first connect)', async () => {
    // Prepare
    const s = await scene(appKind, 'first connect');
    const created = server.sandboxRecall.failWhen(isCreateOf(s), 'hang-after-processing');

    // Act
    const crashed = await crash(s, created);

    // Assess what is left: a credential no record knows (an orphan, for now)
    expect((await created).processedStatus, crashed.log).toBe(201);
    const [orphan] = server.sandboxRecall.credentialsFor(s.filter);
    expect(orphan).toBeDefined();
    expect((await getConnection(server, s.victim.userId)).status).toBe(404);

    // Assess: the next attempt's conflict names it; it is fresh, so it is adopted, not replaced
    const credential = await nextAttemptEndsConnected(s);
    expect(credential.id).toBe(orphan?.id);
  });

  it.concurrent('after the identity lock was taken, before Recall answered the lookup of the old credential', async () => {
    // Prepare: the records name the old credential, so the lookup is its retrieve
    const s = await scene(appKind, 'shared old credential');
    const listHung = server.sandboxRecall.failWhen(
      (request) => request.operation === 'retrieve' && request.credentialId === s.old?.id,
      'hang',
    );

    // Act
    await crash(s, listHung);

    // Assess what is left: a lock item whose holder is gone; nothing else changed
    expect(await leaseUntil(s)).toBeGreaterThan(Date.now());
    expect(liveCredentialIds(s)).toEqual([s.old?.id]);
    await expectSharers(s, 'connected');

    // Assess: the next attempt takes the lock over once the lease ran out, and resolves the conflict
    const credential = await nextAttemptEndsConnected(s, 'taken over');
    expect(credential.id).not.toBe(s.old?.id);
  });

  it.concurrent('after the write-ahead (sharers marked), before Recall processed the delete', async () => {
    // Prepare
    const s = await scene(appKind, 'shared old credential');
    const deleteHung = server.sandboxRecall.failWhen(isDeleteOf(s.old), 'hang');

    // Act
    await crash(s, deleteHung);

    // Assess what is left: the old credential still exists; its records are marked, not yet moved; the lock is held
    expect(liveCredentialIds(s)).toEqual([s.old?.id]);
    await expectSharers(s, 'unhealthy');
    expect(await leaseUntil(s)).toBeGreaterThan(Date.now());

    // Assess: the next attempt waits out the lease, resolves the same conflict and moves the sharers
    const credential = await nextAttemptEndsConnected(s, 'taken over');
    expect(credential.id).not.toBe(s.old?.id);
  });

  it.concurrent('after Recall deleted the conflicting credential, before the create again', async () => {
    // Prepare, Act and assess what is left
    const s = await crashAfterConflictDeleted(appKind);

    // Assess: the next attempt creates a credential and its record write finds the note to move the sharers
    await nextAttemptEndsConnected(s);
  });

  it.concurrent('after Recall deleted the conflicting credential, before the create again; ANOTHER user connects first', async () => {
    // Prepare: the same crash
    const s = await crashAfterConflictDeleted(appKind);

    // Act: a product user the crash never touched connects the identity; nothing conflicts, so Recall makes a new
    // credential (no lock needed)
    const newcomer = uniqueUser('newcomer');
    await connectThroughDemo(server, newcomer, s.zoomUser(4));

    // Assess: the newcomer is connected on the new credential; the earlier sharers stay unhealthy (never connected on
    // the deleted one) while the crashed holder's lock is held, since the connect's follow-up moves them under it
    const [created] = server.sandboxRecall.credentialsFor(s.filter);
    expect(created?.id).not.toBe(s.old?.id);
    expect(await recordsOf([newcomer])).toEqual([{ status: 'connected', credential: created?.id }]);
    await expectSharers(s, 'unhealthy');
    expect(await leaseUntil(s)).toBeGreaterThan(Date.now());

    // Assess: once the lease runs out (made to now: the wait is the other crash points' subject), the follow-up
    // moves them; the crashed user's next attempt adopts that credential (fresh) and ends on it
    expect(await endLease(table, lockKey(s.key))).toBe(true);
    const { credential } = await assertIdentityInvariants(server, s.identity, [newcomer, ...s.sharers], { appKind });
    expect(credential?.id).toBe(created?.id);
    await assertTransitionsPublished(server, [newcomer, ...s.sharers]);
    const after = await nextAttemptEndsConnected(s, 'taken over');
    expect(after.id).toBe(credential?.id);
    await assertIdentityInvariants(server, s.identity, [newcomer, s.victim.userId, ...s.sharers], {
      appKind,
      credentialId: credential?.id,
    });
  });

  it.concurrent('after Recall created the credential again, before the record', async () => {
    // Prepare
    const s = await scene(appKind, 'shared old credential');
    const createdAgain = server.sandboxRecall.failWhen(nthCreateOf(s, 2), 'hang-after-processing');

    // Act
    const crashed = await crash(s, createdAgain);

    // Assess what is left: the old credential gone, a fresh one no record knows, the sharers marked
    expect((await createdAgain).processedStatus, crashed.log).toBe(201);
    const left = liveCredentialIds(s);
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(s.old?.id);
    expect((await getConnection(server, s.victim.userId)).status).toBe(404);
    await expectSharers(s, 'unhealthy');

    // Assess: the next attempt waits out the lease, adopts the fresh credential and moves the sharers onto it
    const credential = await nextAttemptEndsConnected(s, 'taken over');
    expect(credential.id).toBe(left[0]);
  });

  it.concurrent('after the record and its outbox entry were written, before the lock was released', async () => {
    // Prepare
    const s = await scene(appKind, 'shared old credential');
    const releaseHeld = harness.dynamo.holdWhen(
      (call) => call.target.endsWith('.DeleteItem') && call.body.includes(JSON.stringify(lockKey(s.key))),
    );

    // Act
    await crash(s, releaseHeld);

    // Assess what is left: the victim connected on the new credential, the sharers still unhealthy on the old one
    // (the connect's follow-up waits for the lock a dead process holds), and the lock held
    const [created] = server.sandboxRecall.credentialsFor(s.filter);
    expect(created?.id).not.toBe(s.old?.id);
    expect(await recordsOf([s.victim.userId])).toEqual([{ status: 'connected', credential: created?.id }]);
    await expectSharers(s, 'unhealthy');
    expect(await leaseUntil(s)).toBeGreaterThan(Date.now());

    // Assess: once the lease runs out, the follow-up moves the sharers, and every transition's event is delivered
    expect(await endLease(table, lockKey(s.key))).toBe(true);
    const { credential: before } = await assertIdentityInvariants(server, s.identity, [s.victim.userId, ...s.sharers], {
      appKind,
    });
    expect(before?.id).toBe(created?.id);
    await assertTransitionsPublished(server, [s.victim.userId, ...s.sharers]);

    // Assess: the next attempt waits out the lease and ends on the same credential
    const credential = await nextAttemptEndsConnected(s, 'taken over');
    expect(credential.id).toBe(before?.id);
  });
});
