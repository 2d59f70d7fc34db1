import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ExchangeDeps, type ExchangeResult, exchangeCodeForCredential, FRESH_CREDENTIAL_MS } from '../../../functions/connect/credential-exchange.js';
import { ConnectError, type OutcomeReason } from '../../../functions/core/errors.js';
import { DynamoIdentityLock, lockItem, lockKey } from '../../../functions/adapters/identity-lock.js';
import type { HttpFetch, HttpResponse } from '../../../functions/adapters/node-fetch.js';
import { RecallClient, type RecallCredential } from '../../../functions/adapters/recall-client.js';
import { zoomIdentityOf } from '../../../functions/adapters/zoom-identity.js';
import { TEST_OAUTH_APP as APP } from '../../helpers/fakes/fixtures.js';

/*
 * The connect module against a model of Recall and of the table, under every fault Recall can show per call: a
 * rate limit, a 503 before or after the work was done, a timeout before or after it, a dropped or refused
 * connection. The real RecallClient runs over an injected `fetch` that consults the model, on a fake clock (its
 * waits, the per-request timeouts and the callback's deadline all run on it), with the real identity lock over an
 * in-memory lock table. After every run, invariants 4 and 6 of docs/design.md must hold.
 */

const OTHER_APP = 'another-oauth-app';
const BASE = 'https://recall.example/proxy';
const CREDENTIALS_PATH = '/proxy/api/v2/zoom-oauth-credentials/';
const CALLBACK_DEADLINE_MS = 20_000;
/** Recall HTTP requests one exchange may make, whatever Recall answers. */
const MAX_REQUESTS_PER_EXCHANGE = 20;
const PAGE_SIZE = 2;
const RECALL_LATENCY_MS = 40;
const DYNAMODB_LATENCY_MS = 5;
const T0 = Date.parse('2026-11-30T18:00:00.000Z');
const USER = 'user-1';

// ---- the clock: every wait, timeout and deadline of a run -----------------------------------------------------

class FakeClock {
  #timers: { due: number; controller: AbortController }[] = [];
  constructor(public now: number) {}

  /** `AbortSignal.timeout` on this clock. */
  timeout(ms: number): AbortSignal {
    const controller = new AbortController();
    this.#timers.push({ due: this.now + ms, controller });
    this.#fire();
    return controller.signal;
  }

  /** Waits `ms`, or less when `signal` aborts first (every timer falling due meanwhile fires). */
  sleep = async (ms: number, signal?: AbortSignal): Promise<void> => {
    const until = this.now + ms;
    while (!signal?.aborted) {
      const next = this.#nextDue();
      if (next === undefined || next > until) {
        this.now = until;
        return;
      }
      this.#advanceTo(next);
    }
  };

  /** A request that never answers: it ends when its signal aborts (its own timeout, or the caller's deadline). */
  hang(signal: AbortSignal | undefined): Promise<never> {
    while (!signal?.aborted) {
      const next = this.#nextDue();
      if (next === undefined) throw new Error('a request without a timeout would hang forever');
      this.#advanceTo(next);
    }
    return Promise.reject(signal.reason);
  }

  passTo(time: number): void {
    this.#advanceTo(Math.max(this.now, time));
  }

  #nextDue(): number | undefined {
    return this.#timers.length === 0 ? undefined : Math.min(...this.#timers.map((timer) => timer.due));
  }

  #advanceTo(time: number): void {
    this.now = Math.max(this.now, time);
    this.#fire();
  }

  #fire(): void {
    const due = this.#timers.filter((timer) => timer.due <= this.now);
    this.#timers = this.#timers.filter((timer) => timer.due > this.now);
    for (const timer of due) timer.controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
  }
}

// ---- Recall ---------------------------------------------------------------------------------------------------

/** What Recall does with one HTTP request. */
type Fault =
  | { kind: 'ok' }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  /** Not processed. */
  | { kind: '503_before' }
  /** Processed, then answered 503 ("create succeeded but answered 503"). */
  | { kind: '503_after' }
  | { kind: 'timeout_before' }
  | { kind: 'timeout_after' }
  /** The connection dropped after the request was processed. */
  | { kind: 'reset_after' }
  /** The connection was never made. */
  | { kind: 'refused' };

interface Identity {
  user_id: string | null;
  account_id: string;
}

interface ModelCredential extends RecallCredential {
  id: string;
  oauth_app: string;
  created_at: string;
  status: 'healthy' | 'unhealthy';
  user_id: string | null;
  account_id: string;
  madeByRun: boolean;
}

interface World {
  accountLevel: boolean;
  /** `update`: a second create for an identity updates its credential in place; `conflict`: the legacy 400. */
  conflictMode: 'update' | 'conflict';
  spendCodeOnConflict: boolean;
  identityState: 'none' | 'old_recorded_by_user' | 'old_recorded_by_sharer' | 'old_orphan' | 'fresh_unrecorded' | 'fresh_unhealthy';
  /** Another customer's Zoom identity in the same OAuth app. */
  otherIdentityState: 'none' | 'old_recorded' | 'fresh_unrecorded';
  /** A credential of another OAuth app for the same Zoom identity. */
  otherAppCredential: boolean;
  /** Recall ignores the Zoom identity filters of a list (an API that drops unknown filters silently). */
  listIgnoresIdentityFilter: boolean;
  /** A callback that crashed holding the identity's lock: its lease ends this long after the run starts. */
  crashedLeaseMs: number;
  /** How far Recall's clock is ahead of the service's. */
  recallSkewMs: number;
  jitter: number;
  faults: Fault[];
  /** When the user tries again after a failed attempt. */
  comesBackAfterMs: number;
}

const json = (status: number, body?: unknown, headers: Record<string, string> = {}): HttpResponse =>
  new Response(body === undefined ? null : JSON.stringify(body), { status, headers }) as unknown as HttpResponse;

class RecallModel {
  readonly live = new Map<string, ModelCredential>();
  readonly deleted: { credential: ModelCredential; ageMs: number }[] = [];
  readonly codes = new Map<string, { identity: Identity; spent: boolean }>();
  requests = 0;
  #made = 0;
  /** Every create's `Idempotency-Key` and code, in order. */
  readonly createKeys: { key: string; code: string }[] = [];
  /** Completed creates by key: Recall answers a repeat within the hour with the first answer (§ idempotency). */
  readonly #completed = new Map<string, { status: number; body: unknown }>();

  constructor(
    private readonly world: World,
    private readonly clock: FakeClock,
    public faults: Fault[],
  ) {}

  credential(identity: Identity, createdAt: number, extra: Partial<ModelCredential> = {}): ModelCredential {
    const credential: ModelCredential = {
      id: `cred-${++this.#made}`,
      oauth_app: APP,
      created_at: new Date(createdAt + this.world.recallSkewMs).toISOString(),
      status: 'healthy',
      user_id: this.world.accountLevel ? null : identity.user_id,
      account_id: identity.account_id,
      madeByRun: false,
      ...extra,
    };
    this.live.set(credential.id, credential);
    return credential;
  }

  /** Zoom's one-time code for an identity (the consent screen returns at once for an app already authorized). */
  issueCode(identity: Identity): string {
    const code = `code-${this.codes.size + 1}`;
    this.codes.set(code, { identity, spent: false });
    return code;
  }

  liveOf(identity: Identity, oauthApp = APP): ModelCredential[] {
    const key = this.#key(identity);
    return [...this.live.values()].filter((c) => c.oauth_app === oauthApp && zoomIdentityOf(c) === key);
  }

  #key(identity: Identity): string {
    return this.world.accountLevel || !identity.user_id ? `account#${identity.account_id}` : `user#${identity.user_id}`;
  }

  /** When the last request ended (answered, failed or given up on). */
  lastAnsweredAt = 0;

  readonly fetch: HttpFetch = async (url, init = {}) => {
    try {
      return await this.#fetch(url, init);
    } finally {
      this.lastAnsweredAt = this.clock.now;
    }
  };

  readonly #fetch: HttpFetch = async (url, init = {}) => {
    this.requests++;
    if (init.signal?.aborted) throw init.signal.reason;
    const fault = this.faults.shift() ?? { kind: 'ok' };
    // A round trip takes time; a request whose deadline passes on the way never arrives.
    await this.clock.sleep(RECALL_LATENCY_MS, init.signal);
    if (init.signal?.aborted) throw init.signal.reason;
    const key = init.headers?.['Idempotency-Key'];
    if (init.method === 'POST') {
      expect(key, 'every create carries an idempotency key').toBeDefined();
      this.createKeys.push({ key: key as string, code: (JSON.parse(init.body as string) as { authorization_code: { code: string } }).authorization_code.code });
    }
    switch (fault.kind) {
      case 'refused':
        throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
      case 'rate_limited':
        return json(429, { detail: 'Too many requests' }, { 'Retry-After': String(fault.retryAfterSeconds) });
      case '503_before':
        return json(503, { detail: 'Service unavailable' });
      case 'timeout_before':
        return this.clock.hang(init.signal);
      default:
    }
    const replay = key === undefined ? undefined : this.#completed.get(key);
    const answer = replay
      ? json(replay.status, replay.body)
      : this.#process(init.method ?? 'GET', new URL(url), typeof init.body === 'string' ? init.body : '');
    if (key !== undefined && !replay) {
      this.#completed.set(key, { status: answer.status, body: await (answer as unknown as Response).clone().json().catch(() => undefined) });
    }
    switch (fault.kind) {
      case '503_after':
        return json(503, { detail: 'Service unavailable' });
      case 'timeout_after':
        return this.clock.hang(init.signal);
      case 'reset_after':
        throw new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });
      default:
        return answer;
    }
  };

  #process(method: string, url: URL, body: string): HttpResponse {
    if (!url.pathname.startsWith(CREDENTIALS_PATH)) throw new Error(`not a credentials path: ${url.pathname}`);
    const id = decodeURIComponent(url.pathname.slice(CREDENTIALS_PATH.length).replace(/\/$/, ''));
    if (method === 'POST' && id === '') return this.#create(JSON.parse(body));
    if (method === 'GET' && id === '') return this.#list(url.searchParams);
    if (method === 'DELETE' && id !== '') return this.#delete(id);
    if (method === 'GET' && id !== '') {
      const credential = this.live.get(id);
      return credential ? json(200, credential) : json(404, { detail: 'Not found.' });
    }
    throw new Error(`not modelled: ${method} ${url.pathname}`);
  }

  #create(body: { oauth_app: string; authorization_code: { code: string } }): HttpResponse {
    const code = this.codes.get(body.authorization_code.code);
    if (!code || code.spent || body.oauth_app !== APP) return json(400, { detail: 'invalid_grant' });
    const [existing] = this.liveOf(code.identity);
    if (existing && this.world.conflictMode === 'update') {
      code.spent = true;
      existing.status = 'healthy';
      return json(200, existing);
    }
    if (existing) {
      if (this.world.spendCodeOnConflict) code.spent = true;
      const conflict = existing.user_id
        ? { conflicting_zoom_user_id: existing.user_id, conflicting_zoom_account_id: existing.account_id }
        : { conflicting_zoom_account_id: existing.account_id };
      return json(400, { detail: 'A Zoom OAuth Credential already exists', ...conflict });
    }
    code.spent = true;
    return json(201, this.credential(code.identity, this.clock.now, { madeByRun: true }));
  }

  #list(query: URLSearchParams): HttpResponse {
    const after = query.get('created_at_after');
    const matching = [...this.live.values()].filter(
      (c) =>
        c.oauth_app === query.get('oauth_app') &&
        (this.world.listIgnoresIdentityFilter || !query.has('user_id') || c.user_id === query.get('user_id')) &&
        (this.world.listIgnoresIdentityFilter || !query.has('account_id') || c.account_id === query.get('account_id')) &&
        (after === null || Date.parse(c.created_at) > Date.parse(after)),
    );
    // Django REST style pages, `next` a full URL under the base URL's own path.
    const offset = Number(query.get('cursor') ?? 0);
    const rest = new URLSearchParams(query);
    rest.set('cursor', String(offset + PAGE_SIZE));
    const next = offset + PAGE_SIZE < matching.length ? `${BASE}/api/v2/zoom-oauth-credentials/?${rest}` : null;
    return json(200, { next, results: matching.slice(offset, offset + PAGE_SIZE) });
  }

  #delete(id: string): HttpResponse {
    const credential = this.live.get(id);
    if (!credential) return json(404, { detail: 'Not found.' });
    this.live.delete(id);
    this.deleted.push({ credential, ageMs: this.clock.now - Date.parse(credential.created_at) });
    return json(204);
  }
}

// ---- the table: connection records and lock items ---------------------------------------------------------------

class TableModel {
  readonly records = new Map<string, { credentialId: string; status: 'connected' | 'unhealthy' }>();
  readonly locks = new Map<string, Record<string, AttributeValue>>();

  isRecorded = async (credential: RecallCredential): Promise<boolean> =>
    [...this.records.values()].some((record) => record.credentialId === credential.id);

  /** The write-ahead step: the records on credentials about to be deleted stop claiming to be connected. */
  beforeRetire = async (_identity: string, credentialIds: readonly string[]): Promise<void> => {
    for (const record of this.records.values()) {
      if (record.status === 'connected' && credentialIds.includes(record.credentialId)) record.status = 'unhealthy';
    }
  };

  /** The two conditional writes the lock makes, evaluated as DynamoDB would. */
  constructor(private readonly clock: FakeClock) {}

  readonly client = {
    send: async (command: unknown) => {
      await this.clock.sleep(DYNAMODB_LATENCY_MS);
      if (command instanceof PutItemCommand) {
        const { Item = {}, ExpressionAttributeValues = {} } = command.input;
        const key = Item.pk?.S ?? '';
        const held = this.locks.get(key);
        if (held && !(Number(held.leaseUntil?.N) < Number(ExpressionAttributeValues[':now']?.N))) throw conditionFailed();
        this.locks.set(key, Item);
        return {};
      }
      if (command instanceof DeleteItemCommand) {
        const key = command.input.Key?.pk?.S ?? '';
        if (this.locks.get(key)?.owner?.S !== command.input.ExpressionAttributeValues?.[':owner']?.S) throw conditionFailed();
        this.locks.delete(key);
        return {};
      }
      throw new Error('not modelled');
    },
  } as unknown as DynamoDBClient;
}

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

// ---- one run: an attempt, its re-authorization, and the user coming back ---------------------------------------

const IDENTITY: Identity = { user_id: 'zoom-user-A', account_id: 'zoom-account-A' };
const OTHER: Identity = { user_id: 'zoom-user-B', account_id: 'zoom-account-B' };

type Outcome = { kind: 'connected'; credentialId: string } | { kind: 'reauthorize' } | { kind: 'error'; reason: OutcomeReason };

/** The clock every run's signals and timeouts use (AbortSignal.timeout is routed to it). */
let clock = new FakeClock(T0);

async function run(world: World): Promise<void> {
  clock = new FakeClock(T0);
  const recall = new RecallModel(world, clock, [...world.faults]);
  const table = new TableModel(clock);
  const theirs: ModelCredential[] = [];

  // The world as the user finds it.
  const day = 24 * 3_600_000;
  if (world.identityState === 'old_recorded_by_user' || world.identityState === 'old_recorded_by_sharer') {
    const old = recall.credential(IDENTITY, T0 - day);
    table.records.set(world.identityState === 'old_recorded_by_user' ? USER : 'user-sharer', { credentialId: old.id, status: 'connected' });
  }
  if (world.identityState === 'old_orphan') recall.credential(IDENTITY, T0 - day);
  if (world.identityState === 'fresh_unrecorded') recall.credential(IDENTITY, T0 - 10_000);
  if (world.identityState === 'fresh_unhealthy') recall.credential(IDENTITY, T0 - 10_000, { status: 'unhealthy' });
  if (world.otherIdentityState === 'old_recorded') {
    const old = recall.credential(OTHER, T0 - day);
    table.records.set('user-other', { credentialId: old.id, status: 'connected' });
    theirs.push(old);
  }
  if (world.otherIdentityState === 'fresh_unrecorded') theirs.push(recall.credential(OTHER, T0 - 5_000));
  if (world.otherAppCredential) theirs.push(recall.credential(IDENTITY, T0 - day, { oauth_app: OTHER_APP }));
  const identityKey = world.accountLevel ? `account#${IDENTITY.account_id}` : `user#${IDENTITY.user_id}`;
  const crashedLeaseUntil = T0 + world.crashedLeaseMs;
  if (world.crashedLeaseMs > 0) {
    table.locks.set(lockKey(identityKey), lockItem({ identity: identityKey, owner: 'crashed', leaseUntil: crashedLeaseUntil }));
  }

  const client = new RecallClient({
    baseUrl: BASE,
    apiKey: async () => 'recall-api-key',
    fetch: recall.fetch,
    sleep: clock.sleep,
    now: () => clock.now,
    random: () => world.jitter,
    timeoutMs: 5_000,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 4_000 },
  });
  const deps: ExchangeDeps = {
    recall: client,
    lock: new DynamoIdentityLock(table.client, 'connect-table', { now: () => clock.now, sleep: clock.sleep, random: () => world.jitter }),
    isRecorded: table.isRecorded,
    // Every record, whatever its identity: the module must check what it retrieves belongs to the conflict.
    recordedCredentialsOf: async () => [...table.records.values()].map((record) => record.credentialId),
    beforeRetire: table.beforeRetire,
    now: () => clock.now,
  };

  /** One exchange and what the callback does with its result, checked against the invariants that hold per call. */
  async function exchange(code: string): Promise<Outcome> {
    const startedAt = clock.now;
    const requestsBefore = recall.requests;
    const keysBefore = recall.createKeys.length;
    let result: ExchangeResult;
    try {
      result = await exchangeCodeForCredential(
        {
          oauthApp: APP,
          attemptId: `attempt-of-${code}`,
          code,
          redirectUri: 'https://connect.example.com/zoom/callback',
          codeVerifier: 'pkce-verifier',
          deadlineMs: startedAt + CALLBACK_DEADLINE_MS,
        },
        deps,
      );
    } catch (error) {
      checkKeys(keysBefore, code);
      expect(error).toBeInstanceOf(ConnectError);
      checkBounds(startedAt, requestsBefore);
      expect(ownLocks(), 'a failed exchange gives its lock back').toEqual([]);
      return { kind: 'error', reason: (error as ConnectError).reason };
    }
    checkBounds(startedAt, requestsBefore);
    checkKeys(keysBefore, code);
    if (result.outcome === 'reauthorize') {
      expect(ownLocks(), 'a re-authorization gives its lock back').toEqual([]);
      return { kind: 'reauthorize' };
    }
    // A connected result names a live credential of the code's identity, in this OAuth app.
    const credential = recall.live.get(result.credential.id);
    expect(credential, 'the connected credential exists').toBeDefined();
    expect(credential?.oauth_app).toBe(APP);
    expect(zoomIdentityOf(credential as ModelCredential)).toBe(identityKey);
    expect(credential?.status, 'never connected to a credential Recall reports broken').toBe('healthy');
    table.records.set(USER, { credentialId: result.credential.id, status: 'connected' });
    // The lock is held while the record is written, and given back by the caller.
    expect(ownLocks()).toEqual(result.lease ? [lockKey(identityKey)] : []);
    await result.lease?.release();
    expect(ownLocks()).toEqual([]);
    return { kind: 'connected', credentialId: result.credential.id };
  }

  /**
   * Everything with Recall ends by the deadline, after a bounded number of requests; what follows is at most the
   * release of the identity's lock (one table write).
   */
  function checkBounds(startedAt: number, requestsBefore: number): void {
    expect(recall.lastAnsweredAt - startedAt).toBeLessThanOrEqual(CALLBACK_DEADLINE_MS);
    expect(clock.now - startedAt).toBeLessThanOrEqual(CALLBACK_DEADLINE_MS + DYNAMODB_LATENCY_MS);
    expect(recall.requests - requestsBefore).toBeLessThanOrEqual(MAX_REQUESTS_PER_EXCHANGE);
    checkModel();
  }

  /**
   * One exchange's creates: all carry its code, never as their key; one key per conflict round (the same key on
   * every try of a round); and no key an earlier exchange used (a fresh code after a re-authorize has its own).
   */
  function checkKeys(keysBefore: number, code: string): void {
    const earlier = new Set(recall.createKeys.slice(0, keysBefore).map(({ key }) => key));
    const mine = recall.createKeys.slice(keysBefore);
    for (const { key, code: sent } of mine) {
      expect(sent).toBe(code);
      expect(key).not.toContain(code);
      expect(key.length).toBeGreaterThanOrEqual(16);
      expect(earlier.has(key), 'a new exchange sends a new key').toBe(false);
    }
    expect(new Set(mine.map(({ key }) => key)).size).toBeLessThanOrEqual(3);
  }

  /** Lock items this run left (the crashed holder's is not this run's). */
  const ownLocks = () => [...table.locks.values()].filter((item) => item.owner?.S !== 'crashed').map((item) => item.pk?.S);

  /** Invariants that hold at every step. */
  function checkModel(): void {
    // Recall's own rule, and never a credential of another identity or OAuth app touched.
    expect(recall.liveOf(IDENTITY).length).toBeLessThanOrEqual(1);
    for (const credential of theirs) expect(recall.live.has(credential.id), 'another identity keeps its credential').toBe(true);
    // No record claims to be connected on a credential that is gone (the write-ahead precedes every delete).
    for (const [userId, record] of table.records) {
      if (record.status === 'connected') expect(recall.live.has(record.credentialId), `${userId} is on a live credential`).toBe(true);
    }
    // A credential young enough to be about to be recorded by another callback is never deleted.
    for (const { credential, ageMs } of recall.deleted) {
      expect(credential.status === 'unhealthy' || ageMs >= FRESH_CREDENTIAL_MS, `${credential.id} was not fresh when deleted`).toBe(true);
    }
  }

  /** The callback: one exchange, and at most one more with a fresh code when Recall's answer calls for one. */
  async function callback(): Promise<Outcome> {
    const first = await exchange(recall.issueCode(IDENTITY));
    if (first.kind !== 'reauthorize') return first;
    const second = await exchange(recall.issueCode(IDENTITY));
    return second.kind === 'reauthorize' ? { kind: 'error', reason: 'recall_unavailable' } : second;
  }

  let outcome = await callback();
  if (outcome.kind !== 'connected') {
    // The user tries again later (after any crashed holder's lease), and Recall behaves.
    recall.faults = [];
    clock.passTo(Math.max(clock.now + world.comesBackAfterMs, crashedLeaseUntil + 1));
    outcome = await callback();
    expect(outcome.kind, 'a clean attempt after a failed one connects').toBe('connected');
  }

  // The end state: one live credential for the identity, the user on it, no credential nobody knows.
  const live = recall.liveOf(IDENTITY);
  expect(live).toHaveLength(1);
  expect(table.records.get(USER)).toEqual({ credentialId: live[0]?.id, status: 'connected' });
  for (const credential of recall.live.values()) {
    if (credential.madeByRun) expect(await table.isRecorded(credential), `${credential.id} is not an orphan`).toBe(true);
  }
  checkModel();
}

// ---- what is generated ------------------------------------------------------------------------------------------

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'ok' } as const) },
  { weight: 1, arbitrary: fc.constantFrom(0, 1, 3, 10).map((retryAfterSeconds) => ({ kind: 'rate_limited', retryAfterSeconds }) as const) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<Fault>(
      { kind: '503_before' },
      { kind: '503_after' },
      { kind: 'timeout_before' },
      { kind: 'timeout_after' },
      { kind: 'reset_after' },
      { kind: 'refused' },
    ),
  },
);

const worldArb: fc.Arbitrary<World> = fc.record({
  accountLevel: fc.boolean(),
  conflictMode: fc.constantFrom('update', 'conflict'),
  spendCodeOnConflict: fc.boolean(),
  identityState: fc.constantFrom('none', 'old_recorded_by_user', 'old_recorded_by_sharer', 'old_orphan', 'fresh_unrecorded', 'fresh_unhealthy'),
  otherIdentityState: fc.constantFrom('none', 'old_recorded', 'fresh_unrecorded'),
  otherAppCredential: fc.boolean(),
  listIgnoresIdentityFilter: fc.boolean(),
  crashedLeaseMs: fc.constantFrom(0, 0, 3_000, 15_000),
  recallSkewMs: fc.integer({ min: -10_000, max: 10_000 }),
  jitter: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  faults: fc.array(faultArb, { maxLength: 12 }),
  comesBackAfterMs: fc.constantFrom(0, 30_000, 120_000),
});

describe('exchangeCodeForCredential under faults (property)', () => {
  beforeAll(() => {
    vi.spyOn(AbortSignal, 'timeout').mockImplementation((ms: number) => clock.timeout(ms));
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('leaves one live credential per identity, every record on it, no orphan, within the deadline and a bounded number of calls', async () => {
    await fc.assert(fc.asyncProperty(worldArb, run), { numRuns: 300 });
  });
});
