import { describe, expect, it } from 'vitest';
import type { RecallAppKind } from '../../local/local-settings.js';
import { DEFAULT_BEHAVIOUR, type FaultAction } from '../../local/sandbox-recall.js';
import { TestBrowser } from './helpers/browser.js';
import {
  ageCredentials,
  answerAtZoom,
  connectThroughDemo,
  connectUrl,
  describeFlow,
  type FlowResult,
  runConnectFlow,
  uniqueIdentity,
  uniqueUser,
} from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import {
  assertIdentityInvariants,
  markRecall,
  readConnectionRecords,
  recallCallsSince,
  recallCountsSince,
  recallSequenceSince,
  type TimedAttempt,
  timedConnectAttempt,
} from './helpers/invariants.js';

/**
 * The real callback against a sandbox Recall that fails the way Recall can (429 with Retry-After, 5xx bursts, hangs,
 * dropped connections, a create that succeeds but answers 503), over real HTTP and dynalite. Every test ends on the
 * invariants (one live credential per Zoom identity, no dangling record, no orphan) and on bounded Recall calls and
 * time. The step order under test: docs/failure-handling.md.
 */

/** Short timeouts so that faults cost milliseconds; the handlers read them once, at this file's server start. */
const TUNING = {
  // Long enough for a loaded machine to answer a call that is not faulted; each hang costs this much.
  RECALL_TIMEOUT_MS: 500,
  RECALL_MAX_ATTEMPTS: 3,
  RECALL_BACKOFF_BASE_MS: 20,
  /** Above the longest HTTP-date Retry-After below (a whole second, so up to 2 s from now). */
  RECALL_BACKOFF_MAX_MS: 2_500,
  /**
   * The create gets this minus the 2.5 s the module keeps to find out an unknown outcome: room for the longest
   * Retry-After below, even on a loaded machine. No test here waits for it (recall-deadline.test.ts does).
   */
  CALLBACK_DEADLINE_MS: 6_000,
} as const;
/**
 * The unknown-outcome list spans every credential made in the last 30 s, this file's included: one page of it
 * keeps call sequences exact (pagination has its own tests).
 */
const LIST_PAGE_SIZE = 100;
/** The sandbox's clock and the request log have millisecond precision; a wait may be measured this much short. */
const CLOCK_SLACK_MS = 25;

const { server } = useLocalService({
  env: Object.fromEntries(Object.entries(TUNING).map(([name, value]) => [name, String(value)])),
  sandboxRecall: { ...DEFAULT_BEHAVIOUR, pageSize: LIST_PAGE_SIZE },
  resetAfterEach: true,
});

/** Where the flow landed: `connected`, or `error` with its reason. */
function expectOutcome(flow: FlowResult, outcome: 'connected' | 'error', reason?: string): void {
  const landed = {
    zoom_connect: flow.finalUrl?.searchParams.get('zoom_connect'),
    reason: flow.finalUrl?.searchParams.get('reason') ?? undefined,
  };
  expect(landed, describeFlow(flow)).toEqual({ zoom_connect: outcome, reason });
}

const sequenceOf = ({ mark }: TimedAttempt) => recallSequenceSince(server, mark);

/** Arrival of each create since `mark`, in ms. */
const createTimes = ({ mark }: TimedAttempt) => recallCallsSince(server, mark, 'create').map((request) => Date.parse(request.at));

/** Time between the first two creates' arrivals. */
function createGapMs(attempt: TimedAttempt): number {
  const [first, second] = createTimes(attempt);
  expect(second, 'a second create').toBeDefined();
  return (second as number) - (first as number);
}

/** Every callback of a flow ends by the deadline (a flow with a second consent has two callbacks). */
function expectBoundedTime(attempt: TimedAttempt): void {
  expect(attempt.ms, describeFlow(attempt.flow)).toBeLessThan(TUNING.CALLBACK_DEADLINE_MS * Math.max(1, attempt.flow.consents));
}

/** The first callback sent the browser back to the Zoom consent page, and the second one finished. */
function expectSentBackToZoom(attempt: TimedAttempt): void {
  const callbacks = attempt.flow.hops.filter((hop) => new URL(hop.url).pathname === '/zoom/callback');
  expect(callbacks, describeFlow(attempt.flow)).toHaveLength(2);
  expect(callbacks[0]?.status).toBe(302);
  expect(callbacks[0]?.location?.startsWith(`${server.settings.zoomAuthorizeUrl}?`), callbacks[0]?.location).toBe(true);
  expect(attempt.flow.consents).toBe(2);
}

/** Queues a fault for every credential API call (create, list, retrieve, delete) for the next `times` calls. */
function failEveryCall(action: FaultAction, times: number): void {
  for (let i = 0; i < times; i++) {
    server.sandboxRecall.state.faults.push((request) =>
      ['create', 'list', 'retrieve', 'delete'].includes(request.operation) ? action : undefined,
    );
  }
}

/** One product user connected to a Zoom identity long enough ago that a conflict deletes and recreates. */
async function connectedLongAgo(appKind: RecallAppKind, tag: string) {
  server.sandboxRecall.configure({ appKind });
  const zoomUser = uniqueIdentity(tag);
  const first = uniqueUser(`${tag}-first`);
  await connectThroughDemo(server, first, zoomUser);
  const filter = appKind === 'user_level' ? { userId: zoomUser.userId } : { accountId: zoomUser.accountId };
  expect(ageCredentials(server, filter)).toBe(1);
  const [original] = server.sandboxRecall.credentialsFor(filter);
  // Another Zoom user of the same account is the same identity only for an account-level app.
  const sameIdentity = appKind === 'user_level' ? zoomUser : { accountId: zoomUser.accountId, userId: `${zoomUser.userId}-2` };
  return { sameIdentity, first, original, conflictKey: appKind === 'user_level' ? 'user_id' : 'account_id' };
}

describe('Recall rate limiting (429)', () => {
  it.each<[string, (now: number) => { header: string; waitMs: number }]>([
    ['in seconds', () => ({ header: '1', waitMs: 1000 })],
    [
      // A whole second at least a second away, computed when the 429 is sent.
      'as an HTTP date',
      (now) => {
        const until = Math.ceil((now + 1000) / 1000) * 1000;
        return { header: new Date(until).toUTCString(), waitMs: until - now };
      },
    ],
  ])('waits a Retry-After %s before creating again, and connects', async (_, retryAfter) => {
    // Prepare
    let expectedWaitMs = 0;
    server.sandboxRecall.state.faults.push((request) => {
      if (request.operation !== 'create') return undefined;
      const { header, waitMs } = retryAfter(Date.now());
      expectedWaitMs = waitMs;
      return { status: 429, headers: { 'retry-after': header } };
    });
    const [userId, zoomUser] = [uniqueUser('throttled'), uniqueIdentity('throttled')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess
    expectOutcome(attempt.flow, 'connected');
    expect(sequenceOf(attempt)).toEqual(['create 429', 'create 201']);
    expect(expectedWaitMs).toBeGreaterThanOrEqual(1000);
    expect(createGapMs(attempt)).toBeGreaterThanOrEqual(expectedWaitMs - CLOCK_SLACK_MS);
    expectBoundedTime(attempt);
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('gives up at once on a Retry-After longer than the backoff cap: recall_unavailable, nothing created', async () => {
    // Prepare
    const retryAfterMs = TUNING.RECALL_BACKOFF_MAX_MS * 2;
    server.sandboxRecall.failNext('create', { status: 429, headers: { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) } });
    const [userId, zoomUser] = [uniqueUser('too-long'), uniqueIdentity('too-long')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: a 429 says "not processed", so nothing to find out; no waiting either
    expectOutcome(attempt.flow, 'error', 'recall_unavailable');
    expect(sequenceOf(attempt)).toEqual(['create 429']);
    expect(attempt.ms).toBeLessThan(TUNING.RECALL_BACKOFF_MAX_MS);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });
});

describe('5xx bursts', () => {
  it.each<RecallAppKind>(['user_level', 'account_level'])(
    '%s app: retries list and delete of a conflict through a 503 burst, and connects both users on the new credential',
    async (appKind) => {
      // Prepare
      const { sameIdentity, first, original, conflictKey } = await connectedLongAgo(appKind, 'burst');
      const burst = TUNING.RECALL_MAX_ATTEMPTS - 1;
      // The records name the credential, but Recall says it does not know it: the filtered list is the fallback.
      server.sandboxRecall.failNext('retrieve', { status: 404, body: { detail: 'Not found.' } });
      server.sandboxRecall.failNext('list', { status: 503 }, burst);
      server.sandboxRecall.failNext('delete', { status: 503 }, burst);
      const second = uniqueUser('burst-second');

      // Act
      const attempt = await timedConnectAttempt(server, second, sameIdentity);

      // Assess
      expectOutcome(attempt.flow, 'connected');
      expect(sequenceOf(attempt)).toEqual([
        'create 400',
        'retrieve 404',
        ...Array<string>(burst).fill('list 503'),
        'list 200',
        ...Array<string>(burst).fill('delete 503'),
        'delete 204',
        'create 201',
      ]);
      const lists = recallCallsSince(server, attempt.mark, 'list');
      expect(new Set(lists.map((request) => new URLSearchParams(request.search).has(conflictKey)))).toEqual(new Set([true]));
      expect(recallCallsSince(server, attempt.mark, 'delete').map((request) => request.path)).toEqual(
        Array(burst + 1).fill(`/api/v2/zoom-oauth-credentials/${original?.id}/`),
      );
      expectBoundedTime(attempt);
      const { credential } = await assertIdentityInvariants(server, sameIdentity, [first, second]);
      expect(credential?.id).not.toBe(original?.id);
    },
  );

  it('ends on recall_unavailable when a list burst outlasts the retries, leaving the first user as they were', async () => {
    // Prepare
    const { sameIdentity, first, original } = await connectedLongAgo('user_level', 'outlasting');
    server.sandboxRecall.failNext('retrieve', { status: 404, body: { detail: 'Not found.' } });
    server.sandboxRecall.failNext('list', { status: 503 }, TUNING.RECALL_MAX_ATTEMPTS);
    const second = uniqueUser('outlasting-second');

    // Act
    const attempt = await timedConnectAttempt(server, second, sameIdentity);

    // Assess
    expectOutcome(attempt.flow, 'error', 'recall_unavailable');
    expect(sequenceOf(attempt)).toEqual(['create 400', 'retrieve 404', ...Array<string>(TUNING.RECALL_MAX_ATTEMPTS).fill('list 503')]);
    expectBoundedTime(attempt);
    await assertIdentityInvariants(server, sameIdentity, [first], { credentialId: original?.id });
  });

  it('a delete burst that outlasts the retries: recall_unavailable, the first user unhealthy (not connected) on the old credential; the next attempt moves both to a new one', async () => {
    // Prepare
    const { sameIdentity, first, original } = await connectedLongAgo('user_level', 'undeletable');
    server.sandboxRecall.failNext('delete', { status: 503 }, TUNING.RECALL_MAX_ATTEMPTS);
    const second = uniqueUser('undeletable-second');

    // Act
    const failed = await timedConnectAttempt(server, second, sameIdentity);

    // Assess: the write-ahead step marked the record before the delete was tried
    expectOutcome(failed.flow, 'error', 'recall_unavailable');
    // The records name the old credential: retrieved by id, no list needed.
    expect(sequenceOf(failed)).toEqual(['create 400', 'retrieve 200', ...Array<string>(TUNING.RECALL_MAX_ATTEMPTS).fill('delete 503')]);
    const { records } = await assertIdentityInvariants(server, sameIdentity, [], { credentialId: original?.id });
    expect(records.find((record) => record.userId === first)).toMatchObject({ status: 'unhealthy', recallCredentialId: original?.id });

    // Act: the second user tries again
    const retried = await timedConnectAttempt(server, second, sameIdentity);

    // Assess
    expectOutcome(retried.flow, 'connected');
    expect(sequenceOf(retried)).toEqual(['create 400', 'retrieve 200', 'delete 204', 'create 201']);
    const { credential } = await assertIdentityInvariants(server, sameIdentity, [first, second]);
    expect(credential?.id).not.toBe(original?.id);
  });

  it('two 503s then success: connected with one Zoom consent, every try carrying the same Idempotency-Key', async () => {
    // Prepare
    server.sandboxRecall.failNext('create', { status: 503 }, 2);
    const [userId, zoomUser] = [uniqueUser('create-503'), uniqueIdentity('create-503')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: no list needed; Recall performed the create once
    expectOutcome(attempt.flow, 'connected');
    expect(sequenceOf(attempt)).toEqual(['create 503', 'create 503', 'create 201']);
    expect(attempt.flow.consents).toBe(1);
    const keys = recallCallsSince(server, attempt.mark, 'create').map((request) => request.idempotencyKey);
    expect(keys[0]).toMatch(/^[A-Za-z0-9_.-]{16,}$/);
    expect(new Set(keys)).toEqual(new Set([keys[0]]));
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('503 forever: recall_unavailable well under 30 s, a bounded number of creates (two calls of retries), nothing created', async () => {
    // Prepare: more 503s than the callback can make creates
    server.sandboxRecall.failNext('create', { status: 503 }, 20);
    const [userId, zoomUser] = [uniqueUser('forever'), uniqueIdentity('forever')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: one create call's tries, the list that finds nothing, one more call's tries
    expectOutcome(attempt.flow, 'error', 'recall_unavailable');
    const tries = Array<string>(TUNING.RECALL_MAX_ATTEMPTS).fill('create 503');
    expect(sequenceOf(attempt)).toEqual([...tries, 'list 200', ...tries]);
    expect(recallCallsSince(server, attempt.mark, 'create').length).toBeLessThanOrEqual(12);
    expect(attempt.ms).toBeLessThan(30_000);
    expectBoundedTime(attempt);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });
});

describe('a create that worked but whose answer was lost', () => {
  it.each<[string, FaultAction, string]>([
    ['answers 503', { status: 503, afterProcessing: true }, 'create 503'],
    ['hangs past the timeout', 'hang-after-processing', 'create hang'],
    ['drops the connection', 'reset-after-processing', 'create reset'],
  ])('%s: the repeat with the same key is answered with the stored 201; one consent, one credential', async (_, fault, lost) => {
    // Prepare
    server.sandboxRecall.failNext('create', fault);
    const [userId, zoomUser] = [uniqueUser('lost'), uniqueIdentity('lost')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: Recall did not perform the repeat, it replayed the first answer
    expectOutcome(attempt.flow, 'connected');
    expect(attempt.flow.consents).toBe(1);
    expect(sequenceOf(attempt)).toEqual([lost, 'create 201']);
    const [first, repeat] = recallCallsSince(server, attempt.mark, 'create');
    expect(first?.processedStatus).toBe(201);
    expect(repeat).toMatchObject({ replayed: true, idempotencyKey: first?.idempotencyKey });
    const made = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    expect(made).toHaveLength(1);
    await assertIdentityInvariants(server, zoomUser, [userId], { credentialId: made[0]?.id });
  });

  it('fallback: when every try is lost (the first processed, the repeats refused at the edge), the list finds the credential and one fresh consent adopts it', async () => {
    // Prepare
    server.sandboxRecall.failNext('create', { status: 503, afterProcessing: true });
    server.sandboxRecall.failNext('create', { status: 503 }, TUNING.RECALL_MAX_ATTEMPTS - 1);
    const [userId, zoomUser] = [uniqueUser('fallback'), uniqueIdentity('fallback')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: never a create with the code after the find-out; back to Zoom once; the fresh code's conflict names it
    expectOutcome(attempt.flow, 'connected');
    expectSentBackToZoom(attempt);
    expect(sequenceOf(attempt)).toEqual([
      ...Array<string>(TUNING.RECALL_MAX_ATTEMPTS).fill('create 503'),
      'list 200',
      'create 400',
      'list 200',
    ]);
    const creates = recallCallsSince(server, attempt.mark, 'create');
    // A new key for the fresh code: its create is performed, not replayed
    expect(creates.at(-1)?.idempotencyKey).not.toBe(creates[0]?.idempotencyKey);
    const [made] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    await assertIdentityInvariants(server, zoomUser, [userId], { credentialId: made?.id });
  });

  it('Recall updating in place, a second user of an identity connected long ago: the lost answer is replayed, one consent', async () => {
    // Prepare
    const { sameIdentity, first, original } = await connectedLongAgo('user_level', 'in-place');
    server.sandboxRecall.configure({ conflictMode: 'update' });
    server.sandboxRecall.failNext('create', { status: 503, afterProcessing: true });
    const second = uniqueUser('in-place-second');

    // Act
    const attempt = await timedConnectAttempt(server, second, sameIdentity);

    // Assess
    expectOutcome(attempt.flow, 'connected');
    expect(attempt.flow.consents).toBe(1);
    expect(sequenceOf(attempt)).toEqual(['create 503', 'create 201']);
    await assertIdentityInvariants(server, sameIdentity, [first, second], { credentialId: original?.id });
  });

  it('an unhealthy credential returned by the create is recorded unhealthy, never connected: reason=credential_unhealthy', async () => {
    // Prepare: a Zoom user connected long ago whose credential Recall holds unhealthy, returned as it is
    const { sameIdentity, original } = await connectedLongAgo('user_level', 'unhealthy');
    server.sandboxRecall.configure({ conflictMode: 'update' });
    server.sandboxRecall.failNext('create', {
      status: 201,
      body: { ...server.sandboxRecall.state.credentials.get(original?.id as string), status: 'unhealthy' },
    });
    const second = uniqueUser('unhealthy-second');

    // Act
    const attempt = await timedConnectAttempt(server, second, sameIdentity);

    // Assess
    expectOutcome(attempt.flow, 'error', 'credential_unhealthy');
    const record = (await readConnectionRecords(server)).find((stored) => stored.userId === second);
    expect(record).toMatchObject({ status: 'unhealthy', recallCredentialId: original?.id });
    expect(record?.status).not.toBe('connected');
  });
});

describe('hangs and dropped connections', () => {
  it('times out a create that hangs before processing and repeats it with the same key: connected, no list', async () => {
    // Prepare
    server.sandboxRecall.failNext('create', 'hang');
    const [userId, zoomUser] = [uniqueUser('hang'), uniqueIdentity('hang')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess
    expectOutcome(attempt.flow, 'connected');
    expect(sequenceOf(attempt)).toEqual(['create hang', 'create 201']);
    expect(createGapMs(attempt)).toBeGreaterThanOrEqual(TUNING.RECALL_TIMEOUT_MS - CLOCK_SLACK_MS);
    expectBoundedTime(attempt);
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('survives dropped connections on every create try and on the list that finds out', async () => {
    // Prepare
    server.sandboxRecall.failNext('create', 'reset', TUNING.RECALL_MAX_ATTEMPTS);
    server.sandboxRecall.failNext('list', 'reset');
    const [userId, zoomUser] = [uniqueUser('reset'), uniqueIdentity('reset')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: a list is safe to repeat, and so is a create with its key
    expectOutcome(attempt.flow, 'connected');
    expect(sequenceOf(attempt)).toEqual([
      ...Array<string>(TUNING.RECALL_MAX_ATTEMPTS).fill('create reset'),
      'list reset',
      'list 200',
      'create 201',
    ]);
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('account-level app: survives a dropped connection on the conflict\'s list (the records name no live credential)', async () => {
    // Prepare
    const { sameIdentity, first } = await connectedLongAgo('account_level', 'list-reset');
    server.sandboxRecall.failNext('retrieve', { status: 404, body: { detail: 'Not found.' } });
    server.sandboxRecall.failNext('list', 'reset');
    const second = uniqueUser('list-reset-second');

    // Act
    const attempt = await timedConnectAttempt(server, second, sameIdentity);

    // Assess
    expectOutcome(attempt.flow, 'connected');
    expect(sequenceOf(attempt)).toEqual(['create 400', 'retrieve 404', 'list reset', 'list 200', 'delete 204', 'create 201']);
    await assertIdentityInvariants(server, sameIdentity, [first, second]);
  });

  it('ends on recall_unavailable, in bounded time and calls, when every Recall call hangs', async () => {
    // Prepare: more hangs than the callback can make calls
    failEveryCall('hang', 4 * TUNING.RECALL_MAX_ATTEMPTS);
    const [userId, zoomUser] = [uniqueUser('all-hang'), uniqueIdentity('all-hang')];

    // Act
    const attempt = await timedConnectAttempt(server, userId, zoomUser);

    // Assess: the create as often as its retries allow (its outcome unknown), the list that finds out likewise
    expectOutcome(attempt.flow, 'error', 'recall_unavailable');
    expect(recallCountsSince(server, attempt.mark)).toEqual({ create: TUNING.RECALL_MAX_ATTEMPTS, list: TUNING.RECALL_MAX_ATTEMPTS });
    expect(attempt.ms).toBeLessThan(TUNING.CALLBACK_DEADLINE_MS + 1_500);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });
});

describe('Recall refusing the code', () => {
  it('ends on reason=code_rejected, not recall_unavailable, after one create and nothing else', async () => {
    // Prepare: a real consent, then a callback carrying a code Zoom never issued
    const [userId, zoomUser] = [uniqueUser('refused'), uniqueIdentity('refused')];
    const browser = new TestBrowser();
    const authorize = await browser.request(await connectUrl(server, { userId }));
    const callback = new URL(await answerAtZoom(browser, authorize.headers.get('location') as string, zoomUser));
    callback.searchParams.set('code', `not-issued-${userId}`);
    const mark = markRecall(server);

    // Act
    const flow = await runConnectFlow(server, browser, callback.href, zoomUser);

    // Assess
    expectOutcome(flow, 'error', 'code_rejected');
    expect(recallSequenceSince(server, mark)).toEqual(['create 400']);
    await assertIdentityInvariants(server, zoomUser, [userId], { expect: 'none' });
  });
});
