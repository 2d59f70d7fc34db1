import { describe, expect, it } from 'vitest';
import { describeFlow, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { assertIdentityInvariants, recallSequenceSince, timedConnectAttempt } from './helpers/invariants.js';

/**
 * The callback's own deadline (invariant 6 of docs/design.md), with a Recall timeout far longer than it: here only the deadline
 * can end a hanging call, so the time a callback takes proves that it does. Its own file because the handlers read
 * these settings once per process (recall-faults.test.ts runs with short timeouts instead).
 */
const TUNING = {
  RECALL_TIMEOUT_MS: 15_000,
  CALLBACK_DEADLINE_MS: 5_000,
} as const;
/** The callback starts a moment after the flow does (authorize, consent). */
const FLOW_OVERHEAD_MS = 250;

const { server } = useLocalService({
  env: Object.fromEntries(Object.entries(TUNING).map(([name, value]) => [name, String(value)])),
  resetAfterEach: true,
});

async function attemptConnect(userId: string, zoomUser: { accountId: string; userId: string }) {
  const { flow, ms, mark } = await timedConnectAttempt(server, userId, zoomUser);
  return { flow, ms, sequence: recallSequenceSince(server, mark), reason: flow.finalUrl?.searchParams.get('reason') };
}

describe('the callback deadline', () => {
  it('ends a callback whose Recall calls all hang at its deadline, on reason=recall_unavailable', async () => {
    // Prepare
    server.sandboxRecall.failNext('create', 'hang');
    server.sandboxRecall.failNext('list', 'hang');
    const [userId, zoomUser] = [uniqueUser('deadline'), uniqueIdentity('deadline')];

    // Act
    const attempt = await attemptConnect(userId, zoomUser);

    // Assess: the create is cut early enough to find out (one list), and the list at the deadline
    expect(attempt.reason, describeFlow(attempt.flow)).toBe('recall_unavailable');
    expect(attempt.sequence).toEqual(['create hang', 'list hang']);
    expect(attempt.ms).toBeGreaterThanOrEqual(TUNING.CALLBACK_DEADLINE_MS - FLOW_OVERHEAD_MS);
    expect(attempt.ms).toBeLessThan(TUNING.CALLBACK_DEADLINE_MS + 1_500);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });

  it('does not start a Retry-After wait that would end past the deadline: recall_unavailable at once', async () => {
    // Prepare: a wait within the backoff cap, but longer than the whole callback may take
    const retryAfterSeconds = Math.ceil(TUNING.CALLBACK_DEADLINE_MS / 1000);
    server.sandboxRecall.failNext('create', { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } });
    const [userId, zoomUser] = [uniqueUser('late'), uniqueIdentity('late')];

    // Act
    const attempt = await attemptConnect(userId, zoomUser);

    // Assess
    expect(attempt.reason, describeFlow(attempt.flow)).toBe('recall_unavailable');
    expect(attempt.sequence).toEqual(['create 429']);
    expect(attempt.ms).toBeLessThan(retryAfterSeconds * 1000);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });
});
