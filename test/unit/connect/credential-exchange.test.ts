import { describe, expect, it, vi } from 'vitest';
import {
  type ExchangeDeps,
  type ExchangeInput,
  type ExchangeResult,
  createIdempotencyKey,
  exchangeCodeForCredential,
  FRESH_CREDENTIAL_MS,
} from '../../../functions/connect/credential-exchange.js';
import {
  ConnectError,
  MisconfiguredError,
  RecallOutcomeUnknownError,
  RecallRejectedError,
  RecallUnavailableError,
} from '../../../functions/core/errors.js';
import {
  type CreateCredentialResult,
  RecallClient,
  type RecallCredential,
} from '../../../functions/adapters/recall-client.js';
import { FakeLock } from '../../helpers/fakes/lock.js';
import { type CreateStep, FakeRecall } from '../../helpers/fakes/recall.js';
import { rejectionOf } from '../../helpers/rejection.js';
import { TEST_OAUTH_APP as OAUTH_APP, TEST_ZOOM_ACCOUNT as ZOOM_ACCOUNT, TEST_ZOOM_USER as ZOOM_USER } from '../../helpers/fakes/fixtures.js';

const NOW = Date.parse('2026-11-30T18:00:00.000Z');
const DEADLINE = NOW + 20_000;
const INPUT: ExchangeInput = {
  oauthApp: OAUTH_APP,
  attemptId: 'f'.repeat(64),
  code: 'one-time-code-abc',
  redirectUri: 'https://connect.example.com/zoom/callback',
  codeVerifier: 'pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz',
  deadlineMs: DEADLINE,
};
const OLD_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const NEW_ID = 'a1b2c3d4-0000-4000-8000-000000000002';
const LONG_AGO = '2026-11-01T00:00:00.000Z';
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Recall, the lock and the table as the connect module sees them, with every step recorded in one list: the order is
 * part of the contract (nothing is deleted before `beforeRetire`, the lease outlives every Recall call it protects).
 */
function world(
  createSteps: CreateStep[],
  existing: RecallCredential[] = [],
  options: { listAnswers?: RecallCredential[][]; recorded?: readonly string[]; recordedOfIdentity?: readonly string[] } = {},
) {
  const steps: string[] = [];
  const recall = new FakeRecall(existing, { creates: createSteps, log: steps });
  recall.listAnswers = options.listAnswers;
  const lock = new FakeLock(steps);
  const retired: { zoomIdentity: string; credentialIds: readonly string[] }[] = [];
  const deps: ExchangeDeps = {
    recall,
    lock,
    now: () => NOW,
    isRecorded: async (credential) => (options.recorded ?? []).includes(credential.id),
    recordedCredentialsOf: async () => options.recordedOfIdentity ?? [],
    beforeRetire: async (zoomIdentity, credentialIds) => {
      steps.push(`retire ${credentialIds.join(',')}`);
      retired.push({ zoomIdentity, credentialIds });
    },
  };
  return { recall, lock, deps, steps, retired };
}

const credentialOf = (id: string, extra: Partial<RecallCredential> = {}): RecallCredential => ({
  id,
  oauth_app: OAUTH_APP,
  user_id: ZOOM_USER,
  account_id: ZOOM_ACCOUNT,
  created_at: LONG_AGO,
  ...extra,
});
const created = (id: string, extra: Partial<RecallCredential> = {}): CreateCredentialResult => ({
  kind: 'created',
  credential: credentialOf(id, { created_at: iso(NOW), ...extra }),
});
const userConflict: CreateCredentialResult = {
  kind: 'conflict',
  conflict: { user_id: ZOOM_USER },
  detail: 'A Zoom OAuth Credential already exists…',
};
const accountConflict: CreateCredentialResult = {
  kind: 'conflict',
  conflict: { account_id: ZOOM_ACCOUNT },
  detail: 'A Zoom OAuth Credential already exists…',
};
const badRequest: CreateCredentialResult = { kind: 'bad_request', detail: 'Invalid Grant' };
const unknownOutcome = () => new RecallOutcomeUnknownError('Recall create answered 503', 503);

const connectError = (promise: Promise<unknown>) => rejectionOf(promise, ConnectError);

const connected = (result: ExchangeResult) => {
  expect(result.outcome).toBe('connected');
  return result as Extract<ExchangeResult, { outcome: 'connected' }>;
};

describe('exchangeCodeForCredential: the happy path', () => {
  it('is connected after one create, with no lock, list or delete', async () => {
    // Prepare
    const { recall, lock, deps } = world([created(NEW_ID)]);

    // Act
    const result = await exchangeCodeForCredential(INPUT, deps);

    // Assess
    expect(result).toEqual({
      outcome: 'connected',
      credential: expect.objectContaining({ id: NEW_ID }),
      replacedCredentialIds: [],
      adopted: false,
    });
    expect(recall.creates).toEqual([
      {
        oauthApp: OAUTH_APP,
        code: INPUT.code,
        redirectUri: INPUT.redirectUri,
        codeVerifier: INPUT.codeVerifier,
        idempotencyKey: createIdempotencyKey(INPUT.attemptId, INPUT.code, 0),
      },
    ]);
    expect(recall.lists).toEqual([]);
    expect(recall.deleted).toEqual([]);
    expect(lock.acquired).toEqual([]);
  });

  it('is connected with the existing id when Recall updates the credential in place, deleting nothing', async () => {
    const { recall, deps } = world([created(OLD_ID)], [credentialOf(OLD_ID)]);

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(result.credential.id).toBe(OLD_ID);
    expect(result.replacedCredentialIds).toEqual([]);
    expect(recall.lists).toEqual([]);
    expect(recall.deleted).toEqual([]);
  });

  it('does not start a create when the deadline leaves no time to find out what it did', async () => {
    const { recall, deps } = world([created(NEW_ID)]);

    const error = await connectError(exchangeCodeForCredential({ ...INPUT, deadlineMs: NOW + 1_000 }, deps));

    expect(error.reason).toBe('recall_unavailable');
    expect(recall.creates).toEqual([]);
  });

  it('gives every Recall call a signal', async () => {
    const { recall, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);

    await exchangeCodeForCredential(INPUT, deps);

    expect(recall.signals).toHaveLength(4);
    for (const passed of recall.signals) expect(passed).toBeInstanceOf(AbortSignal);
  });

  it("stops the create's waits early enough to find out its fate before the deadline", async () => {
    // Prepare: the real client, with a cap above Recall's Retry-After so only the deadline can end the wait.
    const sleeps: number[] = [];
    const retryAfter = (seconds: number) => {
      const answers = [
        new Response(null, { status: 429, headers: { 'Retry-After': String(seconds) } }),
        new Response(JSON.stringify(credentialOf(NEW_ID)), { status: 201 }),
      ];
      return new RecallClient({
        baseUrl: 'https://recall.example',
        apiKey: async () => 'key',
        fetch: async () => answers.shift() as Response,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        now: () => NOW,
        retry: { maxDelayMs: 60_000 },
      });
    };
    const deps = (recall: RecallClient) => ({ ...world([]).deps, recall });

    // Act: 17 s fits before the deadline less the time kept to find out (20 s - 2.5 s); 18 s does not.
    const waited = await exchangeCodeForCredential(INPUT, deps(retryAfter(17)));
    const refused = await connectError(exchangeCodeForCredential(INPUT, deps(retryAfter(18))));

    // Assess
    expect(waited.outcome).toBe('connected');
    expect(refused.reason).toBe('recall_unavailable');
    expect(sleeps).toEqual([17_000]);
  });
});

describe('exchangeCodeForCredential: a conflicting credential', () => {
  it('locks the identity, lists by oauth_app + user_id, deletes by Recall id, creates again and hands the lease over', async () => {
    // Prepare
    const { recall, lock, deps, steps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);

    // Act
    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    // Assess
    expect(steps).toEqual(['create', `lock user#${ZOOM_USER}`, 'list', `retire ${OLD_ID}`, `delete ${OLD_ID}`, 'create']);
    expect(recall.lists).toEqual([{ oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);
    expect(recall.deleted).toEqual([OLD_ID]);
    // The same request but for its key: the create after the delete is a new request, whose answer is not the conflict.
    expect({ ...recall.creates[1], idempotencyKey: undefined }).toEqual({ ...recall.creates[0], idempotencyKey: undefined });
    expect(recall.creates[1]?.idempotencyKey).not.toBe(recall.creates[0]?.idempotencyKey);
    expect(result).toMatchObject({ credential: { id: NEW_ID }, replacedCredentialIds: [OLD_ID], adopted: false });
    // The caller records the connection still holding the lock, then gives it back.
    expect(result.lease?.identity).toBe(`user#${ZOOM_USER}`);
    expect(lock.released.length).toBe(0);
    await result.lease?.release();
    expect(lock.released.length).toBe(1);
  });

  it('waits for the lock no longer than the deadline less the time kept to find out a create, and leases it to the deadline', async () => {
    const { lock, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);

    await exchangeCodeForCredential(INPUT, deps);

    expect(lock.acquired).toEqual([
      { identity: `user#${ZOOM_USER}`, deadlineMs: DEADLINE, waitUntilMs: DEADLINE - 2_500, signal: expect.any(AbortSignal) },
    ]);
  });

  it('resolves an account_id conflict: lists by oauth_app + account_id and locks the account', async () => {
    const { recall, lock, deps } = world(
      [accountConflict, created(NEW_ID, { user_id: null })],
      [credentialOf(OLD_ID, { user_id: null })],
    );

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(recall.lists).toEqual([{ oauth_app: OAUTH_APP, account_id: ZOOM_ACCOUNT }]);
    expect(recall.deleted).toEqual([OLD_ID]);
    expect(recall.deleted).not.toContain(ZOOM_ACCOUNT);
    expect(lock.acquired.map((a) => a.identity)).toEqual([`account#${ZOOM_ACCOUNT}`]);
    expect(result).toMatchObject({ outcome: 'connected', replacedCredentialIds: [OLD_ID] });
  });

  it('tells beforeRetire the identity and every id it is about to delete, before the first delete', async () => {
    const third = 'a1b2c3d4-0000-4000-8000-000000000003';
    const { recall, deps, steps, retired } = world(
      [userConflict, created(NEW_ID)],
      [credentialOf(OLD_ID), credentialOf(third)],
    );

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(retired).toEqual([{ zoomIdentity: `user#${ZOOM_USER}`, credentialIds: [OLD_ID, third] }]);
    expect(steps.indexOf(`retire ${OLD_ID},${third}`)).toBeLessThan(steps.indexOf(`delete ${OLD_ID}`));
    expect(recall.deleted).toEqual([OLD_ID, third]);
    expect(result.replacedCredentialIds).toEqual([OLD_ID, third]);
  });

  it('deletes nothing when beforeRetire fails, and gives the lease back', async () => {
    const { recall, lock, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);
    deps.beforeRetire = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('internal');
    expect(recall.deleted).toEqual([]);
    expect(lock.released.length).toBe(1);
  });

  it.each([
    ['a minute less a second', FRESH_CREDENTIAL_MS - 1_000],
    ['a moment', 0],
  ])('adopts a credential created %s ago (another callback just made it): nothing deleted, nothing retired', async (_age, ageMs) => {
    // Prepare
    const fresh = credentialOf(OLD_ID, { created_at: iso(NOW - ageMs), status: 'healthy' });
    const { recall, lock, deps, retired } = world([userConflict], [fresh]);
    const onConflict = vi.fn();

    // Act
    const result = connected(await exchangeCodeForCredential(INPUT, { ...deps, events: { onConflict } }));

    // Assess
    expect(result).toMatchObject({ credential: { id: OLD_ID }, adopted: true, replacedCredentialIds: [] });
    expect(result.lease?.identity).toBe(`user#${ZOOM_USER}`);
    expect(recall.deleted).toEqual([]);
    expect(recall.creates).toHaveLength(1);
    expect(retired).toEqual([]);
    expect(lock.released.length).toBe(0);
    expect(onConflict).toHaveBeenCalledWith({ key: 'user_id', deleted: 0, adopted: true, foundBy: 'list' });
  });

  it('deletes and replaces a credential exactly a minute old: no callback can still be about to record it', async () => {
    const { recall, deps } = world(
      [userConflict, created(NEW_ID)],
      [credentialOf(OLD_ID, { created_at: iso(NOW - FRESH_CREDENTIAL_MS) })],
    );

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(recall.deleted).toEqual([OLD_ID]);
    expect(result).toMatchObject({ credential: { id: NEW_ID }, adopted: false });
  });

  it('deletes a fresh credential that Recall reports unhealthy instead of adopting it', async () => {
    const { recall, deps } = world(
      [userConflict, created(NEW_ID)],
      [credentialOf(OLD_ID, { created_at: iso(NOW - 1_000), status: 'unhealthy' })],
    );

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(recall.deleted).toEqual([OLD_ID]);
    expect(result.adopted).toBe(false);
    expect(result.credential.id).toBe(NEW_ID);
  });

  it.each([
    ['without a creation time', { created_at: undefined }],
    ['with an unreadable creation time', { created_at: 'yesterday' }],
  ])('adopts a credential %s rather than delete what may be another callback\'s', async (_case, extra) => {
    const { recall, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID, extra)]);

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(recall.deleted).toEqual([]);
    expect(result).toMatchObject({ credential: { id: OLD_ID }, adopted: true });
  });

  it('never deletes a listed credential of another Zoom identity or another OAuth app', async () => {
    // Prepare: Recall's filter is trusted but verified; pretend it returned too much.
    const { recall, deps } = world([userConflict, created(NEW_ID)], [], {
      listAnswers: [
        [
          credentialOf(OLD_ID),
          credentialOf('other-user-cred', { user_id: 'someone-else' }),
          credentialOf('other-app-cred', { oauth_app: 'another-oauth-app' }),
          credentialOf('account-only-cred', { user_id: null, account_id: ZOOM_USER }),
        ],
      ],
    });

    // Act
    const result = await exchangeCodeForCredential(INPUT, deps);

    // Assess
    expect(recall.deleted).toEqual([OLD_ID]);
    expect(result.replacedCredentialIds).toEqual([OLD_ID]);
  });

  it('never deletes a credential of another account on an account_id conflict', async () => {
    const { recall, deps } = world([accountConflict, created(NEW_ID)], [], {
      listAnswers: [[credentialOf(OLD_ID), credentialOf('other-account-cred', { account_id: 'another-account' })]],
    });

    await exchangeCodeForCredential(INPUT, deps);

    expect(recall.deleted).toEqual([OLD_ID]);
  });

  it('never adopts a fresh credential of another Zoom identity that the list returned', async () => {
    const { recall, deps } = world([userConflict, created(NEW_ID)], [], {
      listAnswers: [[credentialOf('other-user-cred', { user_id: 'someone-else', created_at: iso(NOW) })]],
    });

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(result.credential.id).toBe(NEW_ID);
    expect(result.adopted).toBe(false);
    expect(recall.deleted).toEqual([]);
  });

  it('asks for re-authorization (code_spent) when the second create says the code is spent, giving the lease back', async () => {
    const { recall, lock, deps } = world([userConflict, badRequest], [credentialOf(OLD_ID)]);

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(result).toEqual({
      outcome: 'reauthorize',
      cause: 'code_spent',
      replacedCredentialIds: [OLD_ID],
      zoomIdentity: `user#${ZOOM_USER}`,
    });
    expect(recall.deleted).toEqual([OLD_ID]);
    expect(recall.creates).toHaveLength(2);
    expect(lock.released.length).toBeGreaterThanOrEqual(1);
  });

  it('still re-authorizes when giving the lease back fails (the lease runs out by itself)', async () => {
    const { lock, deps } = world([userConflict, badRequest], [credentialOf(OLD_ID)]);
    const acquire = lock.acquire.bind(lock);
    lock.acquire = async (identity, options) => {
      const lease = await acquire(identity, options);
      return lease && { identity, release: () => Promise.reject(new Error('DynamoDB is down')) };
    };

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(result).toMatchObject({ outcome: 'reauthorize', cause: 'code_spent' });
  });

  it('names the account identity when re-authorizing after an account_id conflict', async () => {
    const { deps } = world([accountConflict, badRequest], [credentialOf(OLD_ID, { user_id: null })]);

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(result).toMatchObject({ outcome: 'reauthorize', zoomIdentity: `account#${ZOOM_ACCOUNT}` });
  });

  it('gives up with conflict_unresolved when another holder keeps the lock past the deadline, touching nothing', async () => {
    const { recall, lock, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);
    lock.unavailable = true;

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('conflict_unresolved');
    expect(recall.lists).toEqual([]);
    expect(recall.deleted).toEqual([]);
    expect(recall.creates).toHaveLength(1);
  });

  it('gives up with conflict_unresolved after a bounded number of rounds when every round conflicts', async () => {
    // Prepare: a racing callback keeps re-creating the credential.
    const { recall, lock, deps } = world(Array.from({ length: 10 }, () => userConflict), [], {
      listAnswers: Array.from({ length: 10 }, (_, i) => [credentialOf(`racing-${i}`)]),
    });

    // Act
    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    // Assess
    expect(error.reason).toBe('conflict_unresolved');
    expect(recall.creates).toHaveLength(3);
    expect(recall.lists).toHaveLength(2);
    expect(recall.deleted).toEqual(['racing-0', 'racing-1']);
    // One lock for the whole resolution, given back when it failed.
    expect(lock.acquired).toHaveLength(1);
    expect(lock.released.length).toBe(1);
  });

  it('fires onConflict with the conflict key and the number deleted', async () => {
    const onConflict = vi.fn();
    const { deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);

    await exchangeCodeForCredential(INPUT, { ...deps, events: { onConflict } });

    expect(onConflict).toHaveBeenCalledTimes(1);
    expect(onConflict).toHaveBeenCalledWith({ key: 'user_id', deleted: 1, adopted: false, foundBy: 'list' });
  });

  it('fires onConflict with account_id for an account conflict', async () => {
    const onConflict = vi.fn();
    const { deps } = world([accountConflict, created(NEW_ID)], [credentialOf(OLD_ID, { user_id: null })]);

    await exchangeCodeForCredential(INPUT, { ...deps, events: { onConflict } });

    expect(onConflict).toHaveBeenCalledWith({ key: 'account_id', deleted: 1, adopted: false, foundBy: 'list' });
  });

  it('does not fire onConflict when there is no conflict', async () => {
    const onConflict = vi.fn();
    const { deps } = world([created(NEW_ID)]);

    await exchangeCodeForCredential(INPUT, { ...deps, events: { onConflict } });

    expect(onConflict).not.toHaveBeenCalled();
  });
});

describe('exchangeCodeForCredential: a create whose outcome is unknown', () => {
  it('lists what the OAuth app created since the create was sent (less 30 s of clock skew), then creates once more when nothing unknown exists', async () => {
    // Prepare: one credential made before the window, one recorded, one of another OAuth app.
    const { recall, deps } = world(
      [unknownOutcome(), created(NEW_ID)],
      [
        credentialOf('before-the-window', { created_at: iso(NOW - 31_000) }),
        credentialOf('recorded', { user_id: 'another-user', created_at: iso(NOW - 5_000) }),
        credentialOf('another-app', { oauth_app: 'another-oauth-app', created_at: iso(NOW - 5_000) }),
      ],
      { recorded: ['recorded'] },
    );
    const onOutcomeUnknown = vi.fn();

    // Act
    const result = connected(await exchangeCodeForCredential(INPUT, { ...deps, events: { onOutcomeUnknown } }));

    // Assess
    expect(recall.lists).toEqual([{ oauth_app: OAUTH_APP, created_at_after: iso(NOW - 30_000) }]);
    expect(recall.creates).toHaveLength(2);
    expect(recall.creates[1]).toEqual(recall.creates[0]);  // the same key too: a repeat, not a new request
    expect(result.credential.id).toBe(NEW_ID);
    expect(onOutcomeUnknown).toHaveBeenCalledWith({ unrecordedSinceAttempt: 0 });
  });

  it('sends the user back to Zoom (outcome_unknown) when a credential no record knows was created meanwhile, without a second create', async () => {
    const { recall, deps } = world([unknownOutcome(), created(NEW_ID)], [
      credentialOf('maybe-ours', { user_id: 'zoom-user-of-anyone', created_at: iso(NOW + 1_000) }),
    ]);
    const onOutcomeUnknown = vi.fn();

    const result = await exchangeCodeForCredential(INPUT, { ...deps, events: { onOutcomeUnknown } });

    expect(result).toEqual({ outcome: 'reauthorize', cause: 'outcome_unknown', replacedCredentialIds: [] });
    expect(recall.creates).toHaveLength(1);
    // Whose it is cannot be proven: it is neither adopted nor deleted.
    expect(recall.deleted).toEqual([]);
    expect(onOutcomeUnknown).toHaveBeenCalledWith({ unrecordedSinceAttempt: 1 });
  });

  it('asks isRecorded about each candidate, and ignores the recorded ones', async () => {
    const candidates = [
      credentialOf('recorded-1', { user_id: 'u1', created_at: iso(NOW) }),
      credentialOf('recorded-2', { user_id: 'u2', created_at: iso(NOW) }),
    ];
    const { recall, deps } = world([unknownOutcome(), created(NEW_ID)], candidates, { recorded: ['recorded-1', 'recorded-2'] });
    const isRecorded = vi.fn(deps.isRecorded);

    const result = await exchangeCodeForCredential(INPUT, { ...deps, isRecorded });

    expect(isRecorded.mock.calls.map(([credential]) => credential.id)).toEqual(['recorded-1', 'recorded-2']);
    expect(result.outcome).toBe('connected');
    expect(recall.creates).toHaveLength(2);
  });

  it('ends with recall_unavailable on a second unknown outcome, creating no third time', async () => {
    const { recall, deps } = world([unknownOutcome(), unknownOutcome(), created(NEW_ID)]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('recall_unavailable');
    expect(error.cause).toBeInstanceOf(RecallOutcomeUnknownError);
    expect(recall.creates).toHaveLength(2);
    expect(recall.lists).toHaveLength(1);
  });

  it('asks for re-authorization (code_spent) when the create after an unknown outcome is refused: the lost create spent the code', async () => {
    const { recall, deps } = world([unknownOutcome(), badRequest]);

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(result).toEqual({ outcome: 'reauthorize', cause: 'code_spent', replacedCredentialIds: [] });
    expect(recall.creates).toHaveLength(2);
  });

  it('ends with recall_unavailable when the list that should find out fails', async () => {
    const { recall, deps } = world([unknownOutcome(), created(NEW_ID)]);
    recall.fail('list');

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('recall_unavailable');
    expect(recall.creates).toHaveLength(1);
  });

  it('gives the lease back when an unknown outcome during a conflict ends in a re-authorization', async () => {
    // Prepare: the old credential is deleted, the create again is lost, and something unknown appeared meanwhile.
    const { lock, deps } = world([userConflict, unknownOutcome()], [], {
      listAnswers: [[credentialOf(OLD_ID)], [credentialOf('maybe-ours', { created_at: iso(NOW) })]],
    });

    const result = await exchangeCodeForCredential(INPUT, deps);

    expect(result).toMatchObject({ outcome: 'reauthorize', cause: 'outcome_unknown', replacedCredentialIds: [OLD_ID] });
    expect(lock.released.length).toBeGreaterThanOrEqual(1);
  });
});

describe('exchangeCodeForCredential: failures', () => {
  it('throws code_rejected when the first create answers bad_request, touching nothing else', async () => {
    const { recall, lock, deps } = world([badRequest]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('code_rejected');
    expect(error.message).not.toContain(INPUT.code);
    expect(recall.creates).toHaveLength(1);
    expect(recall.lists).toEqual([]);
    expect(recall.deleted).toEqual([]);
    expect(lock.acquired).toEqual([]);
  });

  it('maps RecallUnavailableError from create to recall_unavailable', async () => {
    const cause = new RecallUnavailableError('Recall create answered 429', 429);
    const { recall, deps } = world([cause]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('recall_unavailable');
    expect(error.cause).toBe(cause);
    // Not processed (a 429): nothing to find out.
    expect(recall.lists).toEqual([]);
  });

  it('maps RecallRejectedError to recall_rejected', async () => {
    const { deps } = world([new RecallRejectedError('Recall create answered 401', 401)]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('recall_rejected');
  });

  it('maps MisconfiguredError to misconfigured', async () => {
    const { deps } = world([new MisconfiguredError('Secret app still holds the placeholder')]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('misconfigured');
  });

  it('maps an unexpected error to internal without repeating its message', async () => {
    const { deps } = world([new Error(`boom with ${INPUT.code}`)]);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('internal');
    expect(error.message).not.toContain(INPUT.code);
  });

  it.each([
    ['listing', (recall: FakeRecall) => recall.fail('list', { error: new RecallUnavailableError('Recall list answered 429', 429) }), 'recall_unavailable'],
    ['deleting', (recall: FakeRecall) => recall.fail('delete', { error: new RecallRejectedError('Recall delete answered 403', 403) }), 'recall_rejected'],
  ] as const)('maps a failure while %s a conflict, and gives the lease back', async (_case, fail, reason) => {
    const { recall, lock, deps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)]);
    fail(recall);

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe(reason);
    expect(recall.creates).toHaveLength(1);
    expect(lock.acquired).toHaveLength(1);
    expect(lock.released.length).toBe(1);
  });

  it('still throws the ConnectError when giving the lease back fails', async () => {
    const { recall, deps } = world([userConflict], [credentialOf(OLD_ID)]);
    recall.fail('delete');
    deps.lock = {
      acquire: async (identity) => ({
        identity,
        release: async () => {
          throw new Error('DynamoDB is down');
        },
      }),
    };

    const error = await connectError(exchangeCodeForCredential(INPUT, deps));

    expect(error.reason).toBe('recall_unavailable');
  });
});

describe('exchangeCodeForCredential: the idempotency key', () => {
  it('is at least 16 characters, never contains the code, and is the same for the same attempt and code', () => {
    const key = createIdempotencyKey(INPUT.attemptId, INPUT.code, 0);

    expect(key.length).toBeGreaterThanOrEqual(16);
    expect(key).not.toContain(INPUT.code);
    expect(createIdempotencyKey(INPUT.attemptId, INPUT.code, 0)).toBe(key);
  });

  it('differs for a fresh code after a re-authorize (a new attempt), and per conflict round', () => {
    const key = createIdempotencyKey(INPUT.attemptId, INPUT.code, 0);

    expect(createIdempotencyKey('e'.repeat(64), 'a-fresh-code', 0)).not.toBe(key);
    expect(createIdempotencyKey(INPUT.attemptId, 'a-fresh-code', 0)).not.toBe(key);
    expect(createIdempotencyKey(INPUT.attemptId, INPUT.code, 1)).not.toBe(key);
  });
});

describe('exchangeCodeForCredential: a conflict resolved from the records first', () => {
  it('retrieves the credential the records name and deletes it, without a list', async () => {
    // Prepare
    const { recall, deps, steps } = world([userConflict, created(NEW_ID)], [credentialOf(OLD_ID)], { recordedOfIdentity: [OLD_ID, OLD_ID] });
    const onConflict = vi.fn();

    // Act
    const result = connected(await exchangeCodeForCredential(INPUT, { ...deps, events: { onConflict } }));

    // Assess
    expect(steps).toEqual(['create', `lock user#${ZOOM_USER}`, `retrieve ${OLD_ID}`, `retire ${OLD_ID}`, `delete ${OLD_ID}`, 'create']);
    expect(recall.lists).toEqual([]);
    expect(result).toMatchObject({ credential: { id: NEW_ID }, replacedCredentialIds: [OLD_ID] });
    expect(onConflict).toHaveBeenCalledWith({ key: 'user_id', deleted: 1, adopted: false, foundBy: 'records' });
  });

  it('adopts the credential the records name when it is fresh, without a list or a delete', async () => {
    const fresh = credentialOf('fresh', { created_at: iso(NOW - 5_000) });
    const { recall, deps } = world([userConflict], [fresh], { recordedOfIdentity: ['fresh'] });

    const result = connected(await exchangeCodeForCredential(INPUT, deps));

    expect(result).toMatchObject({ credential: { id: 'fresh' }, adopted: true });
    expect(recall.lists).toEqual([]);
    expect(recall.deleted).toEqual([]);
  });

  it('falls back to the filtered list when the recorded credential is gone (404) or of another identity', async () => {
    // Prepare: the records name a deleted credential and one of another Zoom user; Recall holds the real one
    const { recall, deps, steps } = world(
      [userConflict, created(NEW_ID)],
      [credentialOf(OLD_ID), credentialOf('someone-else', { user_id: 'another-zoom-user' })],
      { recordedOfIdentity: ['gone', 'someone-else'] },
    );

    // Act
    connected(await exchangeCodeForCredential(INPUT, deps));

    // Assess: nothing of another identity is touched
    expect(steps.slice(0, 5)).toEqual(['create', `lock user#${ZOOM_USER}`, 'retrieve gone', 'retrieve someone-else', 'list']);
    expect(recall.deleted).toEqual([OLD_ID]);
  });
});
