import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  MisconfiguredError,
  RecallOutcomeUnknownError,
  RecallRejectedError,
  RecallUnavailableError,
} from '../../../functions/core/errors.js';
import { RecallClient, type RecallClientOptions, retryAfterMs, signalUntil } from '../../../functions/adapters/recall-client.js';
import { rejectionOf } from '../../helpers/rejection.js';
import { TEST_OAUTH_APP as OAUTH_APP } from '../../helpers/fakes/fixtures.js';
import { SECRETS } from '../../helpers/env.js';

const API_KEY = SECRETS.recallApiKey;
const BASE = 'https://us-west-2.recall.ai';
const CODE = 'JFiSLNVIEejhfiJLmU6AuTnKZQ';
const REDIRECT_URI = 'https://connect.example.com/zoom/callback/';
const VERIFIER = 'pkce-verifier-abcdefghijklmnopqrstuvwxyz0123456789';
const IDEMPOTENCY_KEY = 'attempt-digest-0123456789abcdef';
const CREATE_INPUT = { oauthApp: OAUTH_APP, code: CODE, redirectUri: REDIRECT_URI, codeVerifier: VERIFIER, idempotencyKey: IDEMPOTENCY_KEY };

interface RecordedRequest {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
}

/** A scripted answer: a response, a network failure, or a response produced at request time. */
type Reply = Response | Error | (() => Response);

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const empty = (status: number, headers: Record<string, string> = {}) => new Response(null, { status, headers });
const credential = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  oauth_app: OAUTH_APP,
  status: 'healthy',
  user_id: 'zoom-user-1',
  account_id: 'zoom-account-1',
  created_at: '2026-11-30T18:00:00Z',
  ...extra,
});

/**
 * A fake `fetch` that answers from a script, records every request, and a `sleep` that records instead of waiting
 * (and, given a `clock`, moves it on by the time waited).
 */
function harness(replies: Reply[], options: Partial<RecallClientOptions> = {}, clock?: { now: number }) {
  const requests: RecordedRequest[] = [];
  const sleeps: number[] = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    // Like the real fetch: an aborted signal fails the request before anything is sent.
    if (init?.signal?.aborted) throw init.signal.reason;
    requests.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    const reply = replies.shift();
    if (reply === undefined) throw new Error(`unexpected request #${requests.length}`);
    if (reply instanceof Error) throw reply;
    return typeof reply === 'function' ? reply() : reply;
  });
  const client = new RecallClient({
    baseUrl: BASE,
    apiKey: async () => API_KEY,
    fetch: fetch as unknown as typeof globalThis.fetch,
    sleep: async (ms) => {
      sleeps.push(ms);
      if (clock) clock.now += ms;
    },
    random: () => 0.5,
    ...(clock ? { now: () => clock.now } : {}),
    ...options,
  });
  return { client, requests, sleeps, fetch };
}

const networkError = () => new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } });

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, Error);

afterEach(() => {
  vi.useRealTimers();
});

describe('RecallClient.createCredential', () => {
  it('POSTs to the documented path with its trailing slash, Token auth, JSON content type and the exact body', async () => {
    // Prepare
    const { client, requests } = harness([json(201, credential('cred-1'))]);

    // Act
    await client.createCredential(CREATE_INPUT);

    // Assess
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`${BASE}/api/v2/zoom-oauth-credentials/`);
    expect(request?.headers.get('authorization')).toBe(`Token ${API_KEY}`);
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse(request?.body ?? 'null')).toStrictEqual({
      oauth_app: OAUTH_APP,
      authorization_code: { code: CODE, redirect_uri: REDIRECT_URI, code_verifier: VERIFIER },
    });
  });

  it('sends the redirect URI byte for byte, trailing slash included', async () => {
    const { client, requests } = harness([json(201, credential('cred-1'))]);

    await client.createCredential(CREATE_INPUT);

    expect(request0Body(requests)).toContain('"redirect_uri":"https://connect.example.com/zoom/callback/"');
  });

  it('normalizes a base URL with a trailing slash so the path has no double slash', async () => {
    const { client, requests } = harness([json(201, credential('cred-1'))], { baseUrl: `${BASE}//` });

    await client.createCredential(CREATE_INPUT);

    expect(requests[0]?.url).toBe(`${BASE}/api/v2/zoom-oauth-credentials/`);
  });

  it('returns created for a 201', async () => {
    const { client } = harness([json(201, credential('cred-1'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1', user_id: 'zoom-user-1' } });
  });

  it('returns created with the existing id for a 200 (Recall updated the credential in place)', async () => {
    const { client } = harness([json(200, credential('existing-cred'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'existing-cred' } });
  });

  it('reports a conflict by account id from conflicting_zoom_account_id', async () => {
    const { client } = harness([
      json(400, { detail: 'A Zoom OAuth Credential already exists…', conflicting_zoom_account_id: 'acc-9' }),
    ]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toEqual({
      kind: 'conflict',
      conflict: { account_id: 'acc-9' },
      detail: 'A Zoom OAuth Credential already exists…',
    });
  });

  it('reports a conflict by user id from conflicting_zoom_user_id', async () => {
    const { client } = harness([
      json(400, { detail: 'exists for user', conflicting_zoom_user_id: 'user-9', conflicting_zoom_account_id: null }),
    ]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toEqual({ kind: 'conflict', conflict: { user_id: 'user-9' }, detail: 'exists for user' });
  });

  it('reports bad_request with the detail for a 400 without a conflict', async () => {
    const { client, requests } = harness([json(400, { detail: 'Invalid Grant' })]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toEqual({ kind: 'bad_request', detail: 'Invalid Grant' });
    expect(requests).toHaveLength(1);
  });

  it('reports bad_request for a 400 whose body is not JSON', async () => {
    const { client } = harness([new Response('<html>Bad Request</html>', { status: 400 })]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result.kind).toBe('bad_request');
  });

  it('redacts the one-time code when the 400 detail quotes it', async () => {
    const { client } = harness([json(400, { detail: `Invalid authorization code ${CODE}, code "${CODE}" expired` })]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result.kind).toBe('bad_request');
    const detail = result.kind === 'bad_request' ? result.detail : '';
    expect(detail).not.toContain(CODE);
    expect(detail).toContain('[redacted]');
  });

  it('redacts the code from a conflict detail too', async () => {
    const { client } = harness([json(400, { detail: `code ${CODE} conflicts`, conflicting_zoom_user_id: 'u' })]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result.kind).toBe('conflict');
    expect(JSON.stringify(result)).not.toContain(CODE);
  });

  it('throws RecallRejectedError on a 401 and does not retry', async () => {
    const { client, requests, sleeps } = harness([json(401, { detail: 'Invalid token.' })]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallRejectedError);
    expect((error as RecallRejectedError).status).toBe(401);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(error.message).not.toContain(API_KEY);
  });

  it('throws RecallRejectedError for a WAF 403 and keeps the code out of the message', async () => {
    const { client } = harness([json(403, { detail: `blocked payload with code ${CODE}` })]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallRejectedError);
    expect(error.message).not.toContain(CODE);
  });

  it('waits for Retry-After seconds on a 429 and then retries', async () => {
    const { client, requests, sleeps } = harness([
      empty(429, { 'Retry-After': '2' }),
      json(201, credential('cred-1')),
    ]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result.kind).toBe('created');
    expect(sleeps).toEqual([2000]);
    expect(requests).toHaveLength(2);
    expect(requests[1]?.body).toBe(requests[0]?.body);
  });

  it('honours Retry-After in its HTTP-date form', async () => {
    // Prepare: freeze only the clock (no timers), so "3 seconds from now" is exact.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-11-30T18:00:00.000Z'));
    const { client, sleeps } = harness([
      empty(429, { 'Retry-After': 'Mon, 30 Nov 2026 18:00:03 GMT' }),
      json(201, credential('cred-1')),
    ]);

    // Act
    await client.createCredential(CREATE_INPUT);

    // Assess
    expect(sleeps).toEqual([3000]);
  });

  it('gives up on 429 after maxAttempts with RecallUnavailableError', async () => {
    const { client, requests, sleeps } = harness(
      [empty(429, { 'Retry-After': '1' }), empty(429, { 'Retry-After': '1' }), empty(429, { 'Retry-After': '1' })],
      { retry: { maxAttempts: 3 } },
    );

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect((error as RecallUnavailableError).status).toBe(429);
    expect(requests).toHaveLength(3);
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('sends the Idempotency-Key on the create, and the same key and body on every try', async () => {
    const { client, requests } = harness([empty(503), networkError(), json(201, credential('cred-1'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1' } });
    expect(requests.map((request) => request.headers.get('idempotency-key'))).toEqual(Array(3).fill(IDEMPOTENCY_KEY));
    expect(new Set(requests.map((request) => request.body)).size).toBe(1);
  });

  it('refuses an idempotency key shorter than 16 characters without calling Recall', async () => {
    const { client, requests } = harness([]);

    await expect(client.createCredential({ ...CREATE_INPUT, idempotencyKey: 'short' })).rejects.toThrow(TypeError);
    expect(requests).toHaveLength(0);
  });

  it('throws RecallOutcomeUnknownError after a 503 on every try, having waited between them', async () => {
    const { client, requests, sleeps } = harness([empty(503), empty(503), empty(503)]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect((error as RecallOutcomeUnknownError).status).toBe(503);
    expect(requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('retries a connection reset on create with the same key; after the last, throws RecallOutcomeUnknownError', async () => {
    const { client, requests } = harness([networkError(), networkError(), networkError()]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect(requests).toHaveLength(3);
    expect(error.message).not.toContain(CODE);
  });

  it('retries a 2xx whose body is not a credential, and returns the credential of a readable repeat', async () => {
    const { client, requests } = harness([json(201, { unexpected: true }), json(201, credential('cred-1'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1' } });
    expect(requests).toHaveLength(2);
  });

  it('throws RecallOutcomeUnknownError when no try gives a readable 2xx', async () => {
    const { client } = harness([json(201, { unexpected: true }), new Response('not json', { status: 200 }), json(201, {})]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect((error as RecallOutcomeUnknownError).status).toBe(201);
  });

  it('throws RecallOutcomeUnknownError when a 503 is followed by 429s: the first try may have been processed', async () => {
    const { client } = harness([empty(503), empty(429), empty(429)]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect((error as RecallOutcomeUnknownError).status).toBe(429);
  });

  it('lets a MisconfiguredError from the API key loader through without calling Recall', async () => {
    const { client, requests } = harness([], {
      apiKey: async () => {
        throw new MisconfiguredError('Secret app still holds the placeholder');
      },
    });

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect(requests).toHaveLength(0);
  });

  it("throws RecallUnavailableError without calling Recall when the caller's deadline has already passed", async () => {
    const controller = new AbortController();
    controller.abort();
    const { client, requests } = harness([json(201, credential('never-reached'))]);

    const error = await rejection(client.createCredential(CREATE_INPUT, controller.signal));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(requests).toHaveLength(0);
  });

  it("does not wait out a Retry-After once the caller's deadline has passed", async () => {
    // Prepare: the callback's deadline passes while Recall answers 429 with a 5 s Retry-After.
    const controller = new AbortController();
    const { client, sleeps } = harness([
      () => {
        controller.abort();
        return empty(429, { 'Retry-After': '5' });
      },
      json(201, credential('late')),
    ]);

    // Act
    const error = await rejection(client.createCredential(CREATE_INPUT, controller.signal));

    // Assess: give up at once instead of sleeping 5 s past the deadline.
    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(sleeps).toEqual([]);
  });

  it('omits code_verifier when none is given', async () => {
    const { client, requests } = harness([json(201, credential('cred-1'))]);

    await client.createCredential({ oauthApp: OAUTH_APP, code: CODE, redirectUri: REDIRECT_URI, idempotencyKey: IDEMPOTENCY_KEY });

    expect(JSON.parse(request0Body(requests))).toStrictEqual({
      oauth_app: OAUTH_APP,
      authorization_code: { code: CODE, redirect_uri: REDIRECT_URI },
    });
  });
});

describe('RecallClient.listCredentials', () => {
  it('GETs the documented path with every filter, Token auth and no body', async () => {
    const { client, requests } = harness([json(200, { next: null, results: [credential('a')] })]);

    const results = await client.listCredentials({ oauth_app: OAUTH_APP, user_id: 'zoom-user-1' });

    expect(results.map((c) => c.id)).toEqual(['a']);
    const url = new URL(requests[0]?.url ?? '');
    expect(requests[0]?.method).toBe('GET');
    expect(`${url.origin}${url.pathname}`).toBe(`${BASE}/api/v2/zoom-oauth-credentials/`);
    expect(Object.fromEntries(url.searchParams)).toEqual({ oauth_app: OAUTH_APP, user_id: 'zoom-user-1' });
    expect(requests[0]?.headers.get('authorization')).toBe(`Token ${API_KEY}`);
    // Recall's WAF blocks a GET that carries a body, even a null one.
    expect(requests[0]?.body).toBeUndefined();
    expect(requests[0]?.headers.has('content-type')).toBe(false);
  });

  it('leaves out filters that are undefined', async () => {
    const { client, requests } = harness([json(200, { next: null, results: [] })]);

    await client.listCredentials({ oauth_app: OAUTH_APP, account_id: 'acc-1', user_id: undefined });

    expect(Object.fromEntries(new URL(requests[0]?.url ?? '').searchParams)).toEqual({
      oauth_app: OAUTH_APP,
      account_id: 'acc-1',
    });
  });

  it('follows next given as a full URL, staying on the configured host', async () => {
    // Prepare: Django REST style `next`, on a host other than the configured one.
    const { client, requests } = harness([
      json(200, {
        next: `https://elsewhere.example/api/v2/zoom-oauth-credentials/?cursor=page2&oauth_app=${OAUTH_APP}&user_id=u1`,
        results: [credential('a')],
      }),
      json(200, { next: null, results: [credential('b')] }),
    ]);

    // Act
    const results = await client.listCredentials({ oauth_app: OAUTH_APP, user_id: 'u1' });

    // Assess
    expect(results.map((c) => c.id)).toEqual(['a', 'b']);
    const second = new URL(requests[1]?.url ?? '');
    expect(second.origin).toBe(BASE);
    expect(second.pathname).toBe('/api/v2/zoom-oauth-credentials/');
    expect(second.searchParams.get('cursor')).toBe('page2');
    expect(second.searchParams.get('oauth_app')).toBe(OAUTH_APP);
    expect(second.searchParams.get('user_id')).toBe('u1');
  });

  it('keeps the filters when next is a full URL that carries only the cursor', async () => {
    const { client, requests } = harness([
      json(200, { next: `${BASE}/api/v2/zoom-oauth-credentials/?cursor=page2`, results: [credential('a')] }),
      json(200, { next: null, results: [credential('b')] }),
    ]);

    await client.listCredentials({ oauth_app: OAUTH_APP, status: 'unhealthy' });

    const second = new URL(requests[1]?.url ?? '');
    expect(second.searchParams.get('cursor')).toBe('page2');
    expect(second.searchParams.get('oauth_app')).toBe(OAUTH_APP);
    expect(second.searchParams.get('status')).toBe('unhealthy');
  });

  it('follows next given as a bare cursor, sending it with every filter', async () => {
    const { client, requests } = harness([
      json(200, { next: 'cD0yMDI2LTExLTMw', results: [credential('a')] }),
      json(200, { next: 'cD0yMDI2LTEyLTAx', results: [credential('b')] }),
      json(200, { next: null, results: [credential('c')] }),
    ]);

    const results = await client.listCredentials({ oauth_app: OAUTH_APP, account_id: 'acc-1' });

    expect(results.map((c) => c.id)).toEqual(['a', 'b', 'c']);
    expect(requests).toHaveLength(3);
    for (const [index, cursor] of [
      [1, 'cD0yMDI2LTExLTMw'],
      [2, 'cD0yMDI2LTEyLTAx'],
    ] as const) {
      const url = new URL(requests[index]?.url ?? '');
      expect(`${url.origin}${url.pathname}`).toBe(`${BASE}/api/v2/zoom-oauth-credentials/`);
      expect(Object.fromEntries(url.searchParams)).toEqual({ oauth_app: OAUTH_APP, account_id: 'acc-1', cursor });
    }
  });

  it('stops after a bounded number of pages even if next never ends', async () => {
    const pages = Array.from({ length: 50 }, (_, i) => json(200, { next: `cursor-${i}`, results: [credential(`c${i}`)] }));
    const { client, requests } = harness(pages);

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(requests.length).toBeLessThan(50);
    expect(requests.length).toBeGreaterThan(1);
  });

  it('retries a 503 up to maxAttempts, then throws RecallUnavailableError', async () => {
    const { client, requests, sleeps } = harness([empty(503), empty(503), empty(503), empty(200)], {
      retry: { maxAttempts: 3, baseDelayMs: 200 },
    });

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect((error as RecallUnavailableError).status).toBe(503);
    expect(requests).toHaveLength(3);
    // Full jitter with random() = 0.5: 0.5 × 200 × 2^(attempt-1).
    expect(sleeps).toEqual([100, 200]);
  });

  it('succeeds when a retried 502 is followed by a 200', async () => {
    const { client, requests } = harness([empty(502), json(200, { next: null, results: [credential('a')] })]);

    const results = await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(results.map((c) => c.id)).toEqual(['a']);
    expect(requests).toHaveLength(2);
  });

  it('retries a network error', async () => {
    const { client, requests, sleeps } = harness([
      networkError(),
      networkError(),
      json(200, { next: null, results: [credential('a')] }),
    ]);

    const results = await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(results.map((c) => c.id)).toEqual(['a']);
    expect(requests).toHaveLength(3);
    expect(sleeps).toHaveLength(2);
  });

  it('throws RecallUnavailableError when the network keeps failing', async () => {
    const { client, requests } = harness([networkError(), networkError(), networkError()], { retry: { maxAttempts: 3 } });

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(requests).toHaveLength(3);
  });

  it('throws RecallRejectedError on a 401 without retrying', async () => {
    const { client, requests } = harness([json(401, { detail: 'Invalid token.' })]);

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error).toBeInstanceOf(RecallRejectedError);
    expect(requests).toHaveLength(1);
  });

  it('caps every backoff wait at maxDelayMs', async () => {
    // The largest jitter there is (random() = 1): the waits double until the cap holds them.
    const { client, sleeps } = harness(
      [empty(503), empty(503), empty(503), empty(503), json(200, { next: null, results: [] })],
      { random: () => 1, retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1500 } },
    );

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(sleeps).toEqual([1000, 1500, 1500, 1500]);
  });

  it('ends the call at once, without waiting, when Retry-After asks for longer than maxDelayMs', async () => {
    // Retrying sooner than Recall asked would only be refused again; waiting longer would pass the callback's budget.
    const { client, requests, sleeps } = harness(
      [empty(503), empty(429, { 'Retry-After': '3600' }), json(200, { next: null, results: [] })],
      { retry: { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 1500 } },
    );

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect((error as RecallUnavailableError).status).toBe(429);
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([500]);
  });

  it('reports each retry without any header or body value', async () => {
    const onRetry = vi.fn();
    const { client } = harness([empty(503), json(200, { next: null, results: [] })], { onRetry });

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(onRetry).toHaveBeenCalledTimes(1);
    expect(onRetry).toHaveBeenCalledWith({ operation: 'list', attempt: 1, status: 503, delayMs: 100 });
  });
});

describe('RecallClient.deleteCredential', () => {
  it('DELETEs /api/v2/zoom-oauth-credentials/{id}/ with Token auth', async () => {
    const { client, requests } = harness([empty(204)]);

    await client.deleteCredential('dadcc9c3-2a6d-4f9a-9467-ff3a2b02a82f');

    expect(requests).toHaveLength(1);
    expect(requests[0]?.method).toBe('DELETE');
    expect(requests[0]?.url).toBe(`${BASE}/api/v2/zoom-oauth-credentials/dadcc9c3-2a6d-4f9a-9467-ff3a2b02a82f/`);
    expect(requests[0]?.headers.get('authorization')).toBe(`Token ${API_KEY}`);
  });

  it('treats 404 as already deleted', async () => {
    const { client, requests } = harness([json(404, { detail: 'Not found.' })]);

    await expect(client.deleteCredential('gone')).resolves.toBeUndefined();
    expect(requests).toHaveLength(1);
  });

  it('encodes the id so it cannot change the path', async () => {
    const { client, requests } = harness([empty(204)]);

    await client.deleteCredential('../../bots/x?y');

    expect(requests[0]?.url).toBe(`${BASE}/api/v2/zoom-oauth-credentials/..%2F..%2Fbots%2Fx%3Fy/`);
  });

  it('retries a 503 and succeeds', async () => {
    const { client, requests } = harness([empty(503), empty(204)]);

    await client.deleteCredential('cred-1');

    expect(requests).toHaveLength(2);
  });

  it('throws RecallRejectedError on a 403', async () => {
    const { client } = harness([json(403, { detail: 'Forbidden' })]);

    const error = await rejection(client.deleteCredential('cred-1'));

    expect(error).toBeInstanceOf(RecallRejectedError);
  });
});

describe('RecallClient.getCredential', () => {
  it('GETs /{id}/ and returns the credential', async () => {
    const { client, requests } = harness([json(200, credential('cred-1'))]);

    const result = await client.getCredential('cred-1');

    expect(result?.id).toBe('cred-1');
    expect(requests[0]?.url).toBe(`${BASE}/api/v2/zoom-oauth-credentials/cred-1/`);
  });

  it('returns undefined for a 404', async () => {
    const { client } = harness([json(404, { detail: 'Not found.' })]);

    await expect(client.getCredential('cred-1')).resolves.toBeUndefined();
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-30T18:00:00.000Z');

  it.each([
    ['2', 2000],
    ['0', 0],
    [' 7 ', 7000],
    ['120', 120_000],
  ])('reads delay-seconds %j as %i ms', (header, expected) => {
    expect(retryAfterMs(header, now)).toBe(expected);
  });

  it('reads an HTTP date as the time left until it', () => {
    expect(retryAfterMs('Mon, 30 Nov 2026 18:00:05 GMT', now)).toBe(5000);
  });

  it('reads an HTTP date in the past as no wait', () => {
    expect(retryAfterMs('Mon, 30 Nov 2026 17:59:00 GMT', now)).toBe(0);
  });

  it.each([null, undefined, '', 'soon', 'Mon, 99 Foo'])('returns undefined for %j', (header) => {
    expect(retryAfterMs(header, now)).toBeUndefined();
  });

  // Neither delay-seconds (1*DIGIT) nor an HTTP date: RFC 9110 says to ignore it, so the caller falls back to backoff.
  it.each(['1.5', '-1'])('returns undefined for the malformed value %j rather than "retry now"', (header) => {
    expect(retryAfterMs(header, now)).toBeUndefined();
  });
});

describe('RecallClient: onAttempt, the metrics hook', () => {
  const outcomes = (onAttempt: ReturnType<typeof vi.fn>) =>
    onAttempt.mock.calls.map(([info]) => `${info.operation}#${info.attempt} ${info.status ?? '-'} ${info.outcome}`);

  it('reports every attempt once: retried ones as retry, the last one as ok', async () => {
    const onAttempt = vi.fn();
    const { client } = harness([empty(503), empty(502), json(200, { next: null, results: [] })], { onAttempt });

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(outcomes(onAttempt)).toEqual(['list#1 503 retry', 'list#2 502 retry', 'list#3 200 ok']);
    for (const [info] of onAttempt.mock.calls) {
      expect(info.durationMs).toBeGreaterThanOrEqual(0);
      expect(Object.keys(info).sort()).toEqual(['attempt', 'durationMs', 'operation', 'outcome', 'status']);
    }
  });

  it.each([
    ['a 503 on create, then its repeat', [empty(503), json(201, credential('cred-1'))], ['create#1 503 retry', 'create#2 201 ok']],
    ['429 until the attempts run out', [empty(429), empty(429), empty(429)], ['create#1 429 retry', 'create#2 429 retry', 'create#3 429 unavailable']],
    ['network errors on create', [networkError(), networkError(), networkError()], ['create#1 - retry', 'create#2 - retry', 'create#3 - unavailable']],
    ['a refused API key', [json(401, { detail: 'Invalid token.' })], ['create#1 401 client_error']],
    ['a bad code', [json(400, { detail: 'invalid_grant' })], ['create#1 400 client_error']],
    ['a created credential', [json(201, credential('cred-1'))], ['create#1 201 ok']],
  ] as const)('classifies %s', async (_case, replies, expected) => {
    const onAttempt = vi.fn();
    const { client } = harness([...replies], { onAttempt });

    await client.createCredential(CREATE_INPUT).catch(() => undefined);

    expect(outcomes(onAttempt)).toEqual(expected);
  });

  it("reports the attempt that the caller's deadline ended as unavailable, not as a retry", async () => {
    const controller = new AbortController();
    const onAttempt = vi.fn();
    const { client } = harness(
      [
        () => {
          controller.abort();
          return empty(429, { 'Retry-After': '5' });
        },
      ],
      { onAttempt },
    );

    await rejection(client.createCredential(CREATE_INPUT, controller.signal));

    expect(outcomes(onAttempt)).toEqual(['create#1 429 unavailable']);
  });

  it('never passes a body, header, code or key to the hook', async () => {
    const onAttempt = vi.fn();
    const { client } = harness([json(400, { detail: `code ${CODE} verifier ${VERIFIER}` })], { onAttempt });

    await client.createCredential(CREATE_INPUT);

    const reported = JSON.stringify(onAttempt.mock.calls);
    for (const value of [CODE, VERIFIER, API_KEY, REDIRECT_URI]) expect(reported).not.toContain(value);
  });
});

describe('RecallClient: redaction of what Recall echoes', () => {
  it('redacts the PKCE verifier, and the URL-encoded code, from a 400 detail', async () => {
    const { client } = harness([
      json(400, { detail: `bad grant: code_verifier=${VERIFIER}&code=${encodeURIComponent(`${CODE}/+=`)}` }),
    ]);

    const result = await client.createCredential({ ...CREATE_INPUT, code: `${CODE}/+=` });

    const detail = result.kind === 'bad_request' ? result.detail : '';
    expect(detail).not.toContain(VERIFIER);
    expect(detail).not.toContain(encodeURIComponent(`${CODE}/+=`));
    expect(detail).toContain('[redacted]');
  });

  it('keeps the API key out of an error even when Recall quotes it, however long the detail', async () => {
    const { client } = harness([json(401, { detail: `${'x'.repeat(280)} Invalid token ${API_KEY}` })]);

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error.message).not.toContain(API_KEY);
    // Cleaned before it is cut to MAX_RECALL_DETAIL_LENGTH characters: no half of the key is left either.
    expect(error.message).not.toContain(API_KEY.slice(0, 10));
  });

  it('keeps the Zoom signature out of the error of a refused webhook forward', async () => {
    const signature = `v0=${'ab'.repeat(32)}`;
    const { client } = harness([json(401, { detail: `signature ${signature} does not verify` })]);

    const error = await rejection(
      client.forwardZoomWebhook({
        oauthApp: OAUTH_APP,
        body: new TextEncoder().encode('{"event":"x"}'),
        headers: { 'x-zm-signature': signature, 'x-zm-request-timestamp': '1796061600' },
      }),
    );

    expect(error).toBeInstanceOf(RecallRejectedError);
    expect(error.message).not.toContain(signature);
    expect(error.message).toContain('does not verify');
  });

  it('keeps a secret out of the error code field too, in a 400 detail and in an error', async () => {
    // Recall's `code` is kept only as a plain identifier, and a one-time code or an API key can look like one.
    const { client } = harness([json(400, { code: CODE, detail: 'invalid grant' }), json(403, { code: API_KEY })]);

    const result = await client.createCredential(CREATE_INPUT);
    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(result).toEqual({ kind: 'bad_request', detail: 'invalid grant' });
    expect(error.message).not.toContain(API_KEY);
    expect(error.message).not.toContain(API_KEY.slice(0, 10));
  });

  it('keeps a plain error code that is no secret', async () => {
    const { client } = harness([json(400, { code: 'invalid_grant', detail: 'expired' })]);

    expect(await client.createCredential(CREATE_INPUT)).toEqual({ kind: 'bad_request', detail: 'invalid_grant: expired' });
  });

  it('redacts the verifier from the error of a refused create', async () => {
    const { client } = harness([json(403, { detail: `blocked: ${VERIFIER}` })]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error.message).not.toContain(VERIFIER);
  });
});

function request0Body(requests: RecordedRequest[]): string {
  const body = requests[0]?.body;
  expect(body).toBeTypeOf('string');
  return body as string;
}

/** Node's error for a failed connection, as fetch and nodeFetch reject with it: its code in `cause`. */
const connectionError = (code: string) => new TypeError('fetch failed', { cause: { code } });
const T0 = Date.parse('2026-11-30T18:00:00.000Z');

describe('RecallClient.createCredential: a create whose answer was lost is repeated with its key', () => {
  it.each([500, 502, 503, 504])('retries a %i with the same key and returns the repeat\'s credential', async (status) => {
    const { client, requests, sleeps } = harness([empty(status), json(201, credential('cred-1'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1' } });
    expect(requests).toHaveLength(2);
    expect(requests[1]?.headers.get('idempotency-key')).toBe(IDEMPOTENCY_KEY);
    expect(sleeps).toEqual([100]);
  });

  it.each(['ECONNRESET', 'EPIPE'])('throws RecallOutcomeUnknownError when the connection drops after sending on every try (%s)', async (code) => {
    const { client, requests } = harness([connectionError(code), connectionError(code), connectionError(code)]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect(error.message).toContain(code);
    expect(requests).toHaveLength(3);
  });

  it('throws RecallOutcomeUnknownError when every try runs into its timeout, each with the same key', async () => {
    // Prepare: a Recall that never answers; the client's own per-request timeout ends the attempt.
    let sent = 0;
    const { client } = harness([], {
      timeoutMs: 20,
      fetch: (_url, init) => {
        sent++;
        return new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)));
      },
    });

    // Act
    const error = await rejection(client.createCredential(CREATE_INPUT));

    // Assess
    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect(error.message).toContain('timed out');
    expect(sent).toBe(3);
  });

  it('throws RecallOutcomeUnknownError when 409 lasts past maxAttempts: the first try is still running', async () => {
    const { client } = harness([empty(409), empty(409), empty(409)]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallOutcomeUnknownError);
    expect((error as RecallOutcomeUnknownError).status).toBe(409);
  });

  it.each([409, 429])('retries a %i (still running, or not processed) and connects', async (status) => {
    const { client, requests, sleeps } = harness([empty(status), json(201, credential('cred-1'))]);

    const result = await client.createCredential(CREATE_INPUT);

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1' } });
    expect(requests).toHaveLength(2);
    expect(requests[1]?.body).toBe(requests[0]?.body);
    expect(sleeps).toEqual([100]);
  });

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH'])(
    'retries a connection that was never made (%s): the request cannot have reached Recall',
    async (code) => {
      const { client, requests } = harness([connectionError(code), json(201, credential('cred-1'))]);

      const result = await client.createCredential(CREATE_INPUT);

      expect(result.kind).toBe('created');
      expect(requests).toHaveLength(2);
    },
  );

  it('throws RecallUnavailableError, not an unknown outcome, when no attempt ever connected', async () => {
    const { client, requests } = harness([connectionError('ECONNREFUSED'), connectionError('ECONNREFUSED'), connectionError('ECONNREFUSED')]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(error).not.toBeInstanceOf(RecallOutcomeUnknownError);
    expect(requests).toHaveLength(3);
  });

  it('throws RecallUnavailableError, not an unknown outcome, when 429 lasts past maxAttempts', async () => {
    const { client } = harness([empty(429), empty(429), empty(429)]);

    const error = await rejection(client.createCredential(CREATE_INPUT));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(error).not.toBeInstanceOf(RecallOutcomeUnknownError);
  });
});

describe('RecallClient: waits between attempts', () => {
  it.each([
    ['delay-seconds', '2', 2_000],
    ['an HTTP date', 'Mon, 30 Nov 2026 18:00:03 GMT', 3_000],
  ])('waits exactly as long as a Retry-After in %s asks', async (_form, header, waited) => {
    const { client, sleeps } = harness([empty(409, { 'Retry-After': header }), json(201, credential('cred-1'))], {}, { now: T0 });

    await client.createCredential(CREATE_INPUT);

    expect(sleeps).toEqual([waited]);
  });

  it('waits random × min(maxDelayMs, baseDelayMs × 2^(n-1)) after attempt n (full jitter)', async () => {
    const randoms = [0.125, 0.75, 0.5, 0.875];
    const { client, sleeps } = harness([empty(503), empty(503), empty(503), empty(503), json(200, { next: null, results: [] })], {
      random: () => randoms.shift() ?? 1,
      retry: { maxAttempts: 5, baseDelayMs: 300, maxDelayMs: 1_000 },
    });

    await client.listCredentials({ oauth_app: OAUTH_APP });

    // 0.125 × 300, 0.75 × 600, 0.5 × min(1000, 1200), 0.875 × min(1000, 2400)
    expect(sleeps).toEqual([37.5, 450, 500, 875]);
  });

  it.each([1, 2, 4])('makes at most maxAttempts = %i attempts', async (maxAttempts) => {
    const { client, requests, sleeps } = harness(Array.from({ length: 6 }, () => empty(503)), { retry: { maxAttempts } });

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(requests).toHaveLength(maxAttempts);
    expect(sleeps).toHaveLength(maxAttempts - 1);
  });

  it.each([
    ['delay-seconds', '3'],
    ['an HTTP date', 'Mon, 30 Nov 2026 18:00:03 GMT'],
  ])('gives up at once, without waiting, when a Retry-After in %s would end at the deadline of a signalUntil signal', async (_form, header) => {
    const clock = { now: T0 };
    const { client, requests, sleeps } = harness([empty(429, { 'Retry-After': header }), json(201, credential('late'))], {}, clock);

    const error = await rejection(client.createCredential(CREATE_INPUT, signalUntil(T0 + 3_000, T0)));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect((error as RecallUnavailableError).status).toBe(429);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('waits out a Retry-After that ends before the deadline of a signalUntil signal', async () => {
    const clock = { now: T0 };
    const { client, sleeps } = harness([empty(429, { 'Retry-After': '2' }), json(201, credential('cred-1'))], {}, clock);

    const result = await client.createCredential(CREATE_INPUT, signalUntil(T0 + 3_000, T0));

    expect(result.kind).toBe('created');
    expect(sleeps).toEqual([2_000]);
  });

  it('gives up at once when a backoff wait would pass the deadline', async () => {
    const clock = { now: T0 };
    const { client, requests, sleeps } = harness([empty(503), json(200, { next: null, results: [] })], {}, clock);

    // random 0.5 × base 200: a 100 ms wait, with 99 ms left.
    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 99, T0)));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });
});

describe('RecallClient.listCredentials: pacing (listsPerMinute)', () => {
  const page = (next: string | null = null) => json(200, { next, results: [] });

  it('makes the list beyond the budget wait until the oldest of the minute is a minute old', async () => {
    // Prepare
    const clock = { now: T0 };
    const { client, requests, sleeps } = harness([page(), page(), page(), page()], { listsPerMinute: 2 }, clock);
    await client.listCredentials({ oauth_app: OAUTH_APP });
    clock.now += 1_000;
    await client.listCredentials({ oauth_app: OAUTH_APP });
    clock.now += 1_000;

    // Act
    await client.listCredentials({ oauth_app: OAUTH_APP });
    await client.listCredentials({ oauth_app: OAUTH_APP });

    // Assess: the third waits until T0 + 60 s, the fourth until the second's minute ends (T0 + 61 s).
    expect(sleeps).toEqual([58_000, 1_000]);
    expect(requests).toHaveLength(4);
  });

  it('gives lists waiting at the same time a slot each, in order: the budget holds under concurrency', async () => {
    // Prepare: the budget (2) spent at T0 and T0 + 30 s; two lists ask at once, each with a deadline 120 s away
    const clock = { now: T0 };
    const waits: number[] = [];
    const { client, requests } = harness([page(), page(), page(), page()], {
      listsPerMinute: 2,
      now: () => clock.now,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    await client.listCredentials({ oauth_app: OAUTH_APP });
    clock.now += 30_000;
    await client.listCredentials({ oauth_app: OAUTH_APP });
    clock.now += 1_000;

    // Act
    await Promise.all([
      client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 120_000, clock.now)),
      client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 120_000, clock.now)),
    ]);

    // Assess: the first takes the slot the T0 list frees (T0 + 60 s), the second the one the T0 + 30 s list frees
    // (T0 + 90 s): never three in one minute
    expect(waits).toEqual([29_000, 59_000]);
    expect(requests).toHaveLength(4);
  });

  it('lets a third waiter whose slot would come after its deadline fail at once, while earlier waiters keep theirs', async () => {
    const clock = { now: T0 };
    const waits: number[] = [];
    const { client } = harness([page(), page(), page(), page()], {
      listsPerMinute: 1,
      now: () => clock.now,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    await client.listCredentials({ oauth_app: OAUTH_APP });

    // Act: the next slot is at T0 + 60 s, the one after at T0 + 120 s, past a 90 s deadline
    const [first, second] = await Promise.allSettled([
      client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 90_000, T0)),
      client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 90_000, T0)),
    ]);

    // Assess
    expect(first.status).toBe('fulfilled');
    expect(second.status).toBe('rejected');
    expect(waits).toEqual([60_000]);
  });

  it('does not wait once the minute has passed', async () => {
    const clock = { now: T0 };
    const { client, sleeps } = harness([page(), page(), page()], { listsPerMinute: 2 }, clock);
    await client.listCredentials({ oauth_app: OAUTH_APP });
    await client.listCredentials({ oauth_app: OAUTH_APP });
    clock.now += 60_001;

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(sleeps).toEqual([]);
  });

  it('counts every page it fetches', async () => {
    const clock = { now: T0 };
    const { client, requests, sleeps } = harness([page('c1'), page('c2'), page()], { listsPerMinute: 2 }, clock);

    await client.listCredentials({ oauth_app: OAUTH_APP });

    expect(requests).toHaveLength(3);
    expect(sleeps).toEqual([60_000]);
  });

  it('fails at once, without waiting or calling Recall, when the wait would pass the deadline', async () => {
    const clock = { now: T0 };
    const { client, requests, sleeps } = harness([page(), page(), page()], { listsPerMinute: 2 }, clock);
    await client.listCredentials({ oauth_app: OAUTH_APP });
    await client.listCredentials({ oauth_app: OAUTH_APP });

    const error = await rejection(client.listCredentials({ oauth_app: OAUTH_APP }, signalUntil(T0 + 10_000, T0)));

    expect(error).toBeInstanceOf(RecallUnavailableError);
    expect(error.message).toContain('2/min');
    expect(requests).toHaveLength(2);
    expect(sleeps).toEqual([]);
  });
});

describe('RecallClient: a base URL with a path (a proxy, a sandbox)', () => {
  const base = 'http://127.0.0.1:4010/sandbox/recall';

  it('keeps the path once when next is a full URL under it', async () => {
    // Prepare
    const { client, requests } = harness(
      [
        json(200, { next: `${base}/api/v2/zoom-oauth-credentials/?cursor=page2`, results: [credential('a')] }),
        json(200, { next: null, results: [credential('b')] }),
      ],
      { baseUrl: `${base}/` },
    );

    // Act
    const results = await client.listCredentials({ oauth_app: OAUTH_APP, user_id: 'u1' });

    // Assess
    expect(results.map((c) => c.id)).toEqual(['a', 'b']);
    const [first, second] = requests.map((request) => new URL(request.url));
    expect(first?.pathname).toBe('/sandbox/recall/api/v2/zoom-oauth-credentials/');
    expect(second?.pathname).toBe('/sandbox/recall/api/v2/zoom-oauth-credentials/');
    expect(second?.origin).toBe('http://127.0.0.1:4010');
    expect(Object.fromEntries(second?.searchParams ?? [])).toEqual({ cursor: 'page2', oauth_app: OAUTH_APP, user_id: 'u1' });
  });

  it('sends a create and a delete under the path', async () => {
    const { client, requests } = harness([json(201, credential('cred-1')), empty(204)], { baseUrl: base });

    await client.createCredential(CREATE_INPUT);
    await client.deleteCredential('cred-1');

    expect(requests.map((request) => request.url)).toEqual([
      `${base}/api/v2/zoom-oauth-credentials/`,
      `${base}/api/v2/zoom-oauth-credentials/cred-1/`,
    ]);
  });
});
