import { afterAll, describe, expect, it } from 'vitest';
import type { ConflictMode, RecallAppKind } from '../../local/local-settings.js';
import { DEFAULT_BEHAVIOUR, type SandboxLatency } from '../../local/sandbox-recall.js';
import { ageCredentials, connectThroughDemo, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { assertIdentityInvariants, markRecall, recallCallsSince, recallCountsSince } from './helpers/invariants.js';
import { fireCallback, reachCallback } from './helpers/pending-callback.js';

/**
 * Invariant 4 of docs/design.md under races: two to four callbacks for ONE Zoom identity fired at the same moment (product
 * users sharing a Zoom user or account, and double clicks: two attempts of one product user) end with exactly one
 * live Recall credential and every record on it, whatever Recall's behaviour. The sandbox takes a random time before
 * and after each create and delete, so the callbacks really interleave at Recall; the assertions hold for every
 * interleaving, so they do not depend on which one a run gets.
 */

/** Recall's own time per call: enough for a second callback's create to land between another's steps. */
const LATENCY: SandboxLatency = {
  create: { beforeMs: [20, 80], afterMs: [0, 40] },
  delete: { beforeMs: [20, 80], afterMs: [0, 40] },
  list: { beforeMs: [0, 20] },
};

/**
 * A callback's own work is a few Recall calls of at most ~120 ms each; a callback that waits on the identity's lock
 * waits for at most three others' work. Far below the callback deadline (20 s): a waiter that ran into it would
 * have failed, and this bound also catches one that merely crawled there.
 */
const CALLBACK_BOUND_MS = 5_000;

/** Recall's behaviours on a second create for one identity; the app kind varies by round. */
const BEHAVIOURS: { conflictMode: ConflictMode; spendCodeOnConflict: boolean }[] = [
  { conflictMode: 'update', spendCodeOnConflict: false },
  { conflictMode: 'conflict', spendCodeOnConflict: false },
  { conflictMode: 'conflict', spendCodeOnConflict: true },
];

interface Round {
  name: string;
  appKind: RecallAppKind;
  /** Callbacks fired at once (2-4). */
  callers: number;
  /** The first product user connects twice at once (a double click); the others are other product users. */
  doubleClick: boolean;
  /** The identity already has a credential older than the adopt window, recorded for an earlier product user. */
  oldCredential: boolean;
}

/**
 * Ten rounds per behaviour: each app kind gets two, three and four callers, with and without a double click, with
 * and without an old credential.
 */
const ROUNDS: Round[] = Array.from({ length: 10 }, (_, index) => {
  const appKind: RecallAppKind = Math.floor(index / 4) % 2 === 0 ? 'user_level' : 'account_level';
  const callers = 2 + (index % 3);
  const doubleClick = index % 2 === 1;
  const oldCredential = Math.floor(index / 2) % 2 === 1;
  const who = doubleClick ? `a double click and ${callers - 2} other user(s)` : `${callers} users`;
  const name = `round ${index + 1}: ${appKind} app, ${who}, ${oldCredential ? 'an old credential' : 'no credential yet'}`;
  return { name, appKind, callers, doubleClick, oldCredential };
});

/**
 * Recall allows 60 list calls a minute per workspace and the callback keeps each process under that (a list beyond
 * it fails the callback with `recall_unavailable` rather than wait past its deadline). This whole file runs in one
 * process within a minute, so its rounds must stay under the budget, or they would test the budget instead.
 */
const LISTS_PER_MINUTE = 60;

const { server } = useLocalService();
// Before the service's own afterAll closes the server (after hooks run last-registered first).
afterAll(() => {
  const lists = server.sandboxRecall.requestsOf('list').length;
  server.sandboxRecall.configure(DEFAULT_BEHAVIOUR);
  expect(lists, 'the rounds must stay within the per-process list budget').toBeLessThan(LISTS_PER_MINUTE);
});

describe.each(BEHAVIOURS)('concurrent callbacks for one Zoom identity: Recall $conflictMode (code spent on conflict: $spendCodeOnConflict)', (recallBehaviour) => {
  it.each(ROUNDS)('$name', async (round) => {
    const behaviour = { ...recallBehaviour, appKind: round.appKind };
    server.sandboxRecall.configure({ ...behaviour, latency: LATENCY });
    // Prepare: one Zoom identity; under an account-level app each product user is another Zoom user of the account
    const identity = uniqueIdentity('race');
    const zoomUserOf = (n: number) =>
      behaviour.appKind === 'user_level' ? identity : { accountId: identity.accountId, userId: `${identity.userId}-${n}` };
    const filter = behaviour.appKind === 'user_level' ? { userId: identity.userId } : { accountId: identity.accountId };
    const involved: string[] = [];
    let oldCredentialId: string | undefined;
    if (round.oldCredential) {
      const earlier = uniqueUser('earlier');
      await connectThroughDemo(server, earlier, zoomUserOf(0));
      expect(ageCredentials(server, filter)).toBe(1);
      oldCredentialId = server.sandboxRecall.credentialsFor(filter)[0]?.id;
      involved.push(earlier);
    }
    // A double click: the first product user twice, with one Zoom user, in two tabs (two states, two cookies).
    const first = uniqueUser('caller');
    const callers = Array.from({ length: round.callers }, (_, n) => {
      const sameAsFirst = n === 0 || (round.doubleClick && n === 1);
      return sameAsFirst ? { userId: first, zoomUser: zoomUserOf(1) } : { userId: uniqueUser('caller'), zoomUser: zoomUserOf(n + 1) };
    });
    const pending = await Promise.all(callers.map((caller) => reachCallback(server, caller.userId, caller.zoomUser)));
    involved.push(...new Set(callers.map((caller) => caller.userId)));
    const mark = markRecall(server);

    // Act: every browser comes back from Zoom at the same moment
    const finished = await Promise.all(pending.map((callback) => fireCallback(server, callback)));

    // Assess: everyone connected, in bounded time
    const context = JSON.stringify({ round: round.name, behaviour, finished: finished.map(({ flow: _flow, ...rest }) => rest) });
    expect(finished.map((callback) => callback.outcome), context).toEqual(finished.map(() => 'connected'));
    for (const callback of finished) expect(callback.callbackMs, context).toBeLessThan(CALLBACK_BOUND_MS);

    // Assess: one live credential, every involved record on it, no dangling record, no orphan
    const { credential, records } = await assertIdentityInvariants(server, identity, involved, { appKind: behaviour.appKind });
    expect(records.map((record) => record.userId).sort(), context).toEqual([...involved].sort());
    for (const record of records) {
      expect({ status: record.status, credential: record.recallCredentialId }, context).toEqual({
        status: 'connected',
        credential: credential?.id,
      });
    }

    // Assess: only an old credential is ever deleted, once; a fresh one (another callback's) is adopted, never deleted
    const deleted = recallCallsSince(server, mark, 'delete').map((request) => request.credentialId);
    const conflicts = behaviour.conflictMode === 'conflict';
    expect(deleted, context).toEqual(oldCredentialId && conflicts ? [oldCredentialId] : []);
    if (oldCredentialId && !conflicts) expect(credential?.id, 'updated in place').toBe(oldCredentialId);

    // Assess: back to Zoom only when the conflict that deleted the old credential spent the code, at most once each
    const reauthorized = finished.filter((callback) => callback.reauthorized).length;
    if (conflicts && behaviour.spendCodeOnConflict && oldCredentialId) expect(reauthorized, context).toBeGreaterThanOrEqual(1);
    else expect(reauthorized, context).toBe(0);

    // Assess: bounded Recall calls: at most two creates and two lists per callback (a conflict round each)
    const callbacks = finished.length + reauthorized;
    const counts = recallCountsSince(server, mark);
    expect(counts.create ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(2 * callbacks);
    expect(counts.list ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(2 * callbacks);
    // Conflicts are resolved from the records first: a retrieve of each credential they name, per conflict round.
    expect(counts.retrieve ?? 0, JSON.stringify(counts)).toBeLessThanOrEqual(2 * callbacks * Math.max(1, records.length));
  });
});
