import { decodeJwt } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import {
  CONNECTION_EVENT_TYPES,
  CONNECTION_STATUSES,
  ConnectApiError,
  ConnectionEventDetailSchema,
  type ConnectClientOptions,
  createConnectClient,
  detailTypeOf,
  EVENT_SOURCE,
} from '../../../client/index.js';
import { verifyConnectToken } from '../../../functions/connect/connect-token.js';
import { CONNECTION_STATUSES as SERVICE_STATUSES } from '../../../functions/adapters/connection-repository.js';
import * as service from '../../../functions/adapters/event-publisher.js';
import { API, CONNECTION, fakeClient, json } from './fake-api.js';

const SIGNING_KEY = 'a-64-character-signing-key-for-tests-0123456789abcdefghijklmnopq';
const RETURN_TO = 'https://app.example.com/settings/?tab=zoom';

const client = fakeClient;

describe('createConnectClient', () => {
  it.each(['not a url', 'ftp://files.example.com/', ''])('refuses apiUrl %j', (apiUrl) => {
    expect(() => createConnectClient({ apiUrl })).toThrow(new TypeError('apiUrl must be an http(s) URL.'));
  });
});

describe('createConnectUrl', () => {
  it('links to /zoom/authorize with a connect token the service verifies', async () => {
    const { connect } = client(() => json(500, {}), { apiUrl: `${API}/`, signingKey: SIGNING_KEY });

    const link = new URL(await connect.createConnectUrl({ userId: 'user-42', returnTo: RETURN_TO }));

    expect(`${link.origin}${link.pathname}`).toBe(`${API}/zoom/authorize`);
    const token = link.searchParams.get('connect_token') ?? '';
    await expect(verifyConnectToken(token, [SIGNING_KEY], ['https://app.example.com/settings/'])).resolves.toMatchObject({
      userId: 'user-42',
      returnTo: RETURN_TO,
    });
    // Short by default, and with iat: within the service's lifetime rules (exp - iat at most 900 s)
    const { exp, iat } = decodeJwt(token);
    expect(iat).toBeTypeOf('number');
    expect(Math.abs((iat ?? 0) - Date.now() / 1000)).toBeLessThan(60);
    expect((exp ?? 0) - (iat ?? 0)).toBe(60);
  });

  it('points at connectUrl when another host fronts the browser routes, while the API stays on apiUrl', async () => {
    const { connect, sent } = client(() => json(404, { error: 'No connection for this user.' }), {
      signingKey: SIGNING_KEY,
      connectUrl: 'https://connect.example.com/zoom/authorize',
    });

    const link = new URL(await connect.createConnectUrl({ userId: 'user-42', returnTo: RETURN_TO }));
    await connect.getConnection('user-42');

    expect(`${link.origin}${link.pathname}`).toBe('https://connect.example.com/zoom/authorize');
    expect(sent[0]?.url).toBe(`${API}/connections/user-42`);
  });

  it('refuses a connectUrl that is not an http(s) URL', () => {
    expect(() => createConnectClient({ apiUrl: API, connectUrl: 'javascript:alert(1)' })).toThrow(
      new TypeError('connectUrl must be an http(s) URL.'),
    );
  });

  it('uses the requested lifetime', async () => {
    const { connect } = client(() => json(500, {}), { signingKey: SIGNING_KEY });

    const link = new URL(await connect.createConnectUrl({ userId: 'user-42', returnTo: RETURN_TO, ttlSeconds: 120 }));

    const { exp, iat } = decodeJwt(link.searchParams.get('connect_token') ?? '');
    expect((exp ?? 0) - (iat ?? 0)).toBe(120);
  });

  it('a token signed by the client is refused under another key', async () => {
    const { connect } = client(() => json(500, {}), { signingKey: SIGNING_KEY });

    const link = new URL(await connect.createConnectUrl({ userId: 'user-42', returnTo: RETURN_TO }));

    await expect(
      verifyConnectToken(link.searchParams.get('connect_token') ?? '', ['another-key-'.repeat(4)], [RETURN_TO]),
    ).rejects.toMatchObject({ problem: 'bad_signature' });
  });

  it('throws a clear error, and signs nothing, without a signingKey', async () => {
    const { connect, sent } = client(() => json(500, {}));

    await expect(connect.createConnectUrl({ userId: 'user-42', returnTo: RETURN_TO })).rejects.toThrow(
      /createConnectUrl needs the signingKey option/,
    );
    expect(sent).toEqual([]);
  });

  it.each([
    ['an empty userId', { userId: '', returnTo: RETURN_TO }, /userId must be 1 to 256 characters/],
    ['a userId over 256 characters', { userId: 'u'.repeat(257), returnTo: RETURN_TO }, /userId must be 1 to 256/],
    ['a returnTo that is not a URL', { userId: 'user-42', returnTo: '/settings' }, /returnTo must be an http\(s\) URL/],
    ['a javascript: returnTo', { userId: 'user-42', returnTo: 'javascript:alert(1)' }, /returnTo must be an http/],
    ['a zero ttlSeconds', { userId: 'user-42', returnTo: RETURN_TO, ttlSeconds: 0 }, /ttlSeconds must be a whole number/],
    ['a fractional ttlSeconds', { userId: 'user-42', returnTo: RETURN_TO, ttlSeconds: 1.5 }, /ttlSeconds must be/],
    ['a ttlSeconds over the service\'s 900 s', { userId: 'user-42', returnTo: RETURN_TO, ttlSeconds: 901 }, /between 1 and 900/],
  ])('refuses %s', async (_case, request, message) => {
    const { connect } = client(() => json(500, {}), { signingKey: SIGNING_KEY });

    await expect(connect.createConnectUrl(request)).rejects.toThrow(message);
  });
});

describe('getConnection', () => {
  it('GETs /connections/{userId} with the user id URL-encoded, and returns the parsed connection', async () => {
    const { connect, sent } = client(() => json(200, { ...CONNECTION, userId: 'org/7 user@example.com' }));

    const connection = await connect.getConnection('org/7 user@example.com');

    expect(sent).toHaveLength(1);
    expect(sent[0]?.method).toBe('GET');
    expect(sent[0]?.url).toBe(`${API}/connections/org%2F7%20user%40example.com`);
    expect(sent[0]?.headers.get('accept')).toBe('application/json');
    // Not signed without `aws` (local mode).
    expect(sent[0]?.headers.get('authorization')).toBeNull();
    expect(connection).toEqual({ ...CONNECTION, userId: 'org/7 user@example.com' });
  });

  it('keeps a base path of apiUrl and drops its trailing slash', async () => {
    const { connect, sent } = client(() => json(200, CONNECTION), { apiUrl: 'https://connect.example.com/zoom-connect/' });

    await connect.getConnection('user-42');

    expect(sent[0]?.url).toBe('https://connect.example.com/zoom-connect/connections/user-42');
  });

  it('reads absent Zoom ids (erased after a deauthorization) as null and drops fields it does not know', async () => {
    const { zoomAccountId: _a, zoomUserId: _u, ...erased } = CONNECTION;
    const { connect } = client(() => json(200, { ...erased, status: 'revoked', someFutureField: 1 }));

    const connection = await connect.getConnection('user-42');

    expect(connection).toEqual({ ...erased, status: 'revoked', zoomAccountId: null, zoomUserId: null });
  });

  it('returns undefined for a user who never connected (404)', async () => {
    const { connect } = client(() => json(404, { error: 'No connection for this user.' }));

    await expect(connect.getConnection('nobody')).resolves.toBeUndefined();
  });

  it('throws ConnectApiError with the status on a 500, without the response text', async () => {
    const { connect } = client(() => json(500, { error: 'internal error', stack: 'secret-ish detail' }));

    const error = await connect.getConnection('user-42').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ name: 'ConnectApiError', status: 500 });
    expect((error as Error).message).toBe('GET /connections/{userId} answered 500: internal error');
  });

  it("keeps only the service's own `error` message: an IAM refusal's text (it may quote signed headers) stays out", async () => {
    const { connect } = client(() =>
      json(403, { message: 'The request signature we calculated does not match... x-amz-security-token:SESSION-TOKEN' }),
    );

    const error = await connect.getConnection('user-42').catch((e: unknown) => e);

    expect(error).toMatchObject({ status: 403, message: 'GET /connections/{userId} answered 403' });
    expect((error as Error).message).not.toContain('SESSION-TOKEN');
  });

  it('throws ConnectApiError for a 200 whose body is not a connection', async () => {
    const { connect } = client(() => json(200, { userId: 'user-42', status: 'paused' }));

    await expect(connect.getConnection('user-42')).rejects.toMatchObject({
      name: 'ConnectApiError',
      status: 200,
      message: 'GET /connections/{userId} answered 200 with an unexpected body.',
    });
  });

  it('throws ConnectApiError without a status when the service cannot be reached', async () => {
    const cause = new TypeError('fetch failed');
    const { connect } = client(() => cause);

    const error = await connect.getConnection('user-42').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ status: undefined, cause });
  });

  it.each([
    ['an empty userId', ''],
    ['a userId over 256 characters', 'u'.repeat(257)],
    ['"."', '.'],
    ['".." (a URL parser would resolve it to another route)', '..'],
  ])('refuses %s without a request', async (_case, userId) => {
    const { connect, sent } = client(() => json(200, CONNECTION));

    await expect(connect.getConnection(userId)).rejects.toThrow(TypeError);
    expect(sent).toEqual([]);
  });
});

describe('disconnect', () => {
  it('DELETEs /connections/{userId} and returns the ended connection', async () => {
    const { connect, sent } = client(() => json(200, { ...CONNECTION, status: 'disconnected' }));

    const ended = await connect.disconnect('user 42');

    expect(sent.map((s) => `${s.method} ${s.url}`)).toEqual([`DELETE ${API}/connections/user%2042`]);
    expect(ended?.status).toBe('disconnected');
  });

  it('returns undefined for a user who never connected (404)', async () => {
    const { connect } = client(() => json(404, { error: 'No connection for this user.' }));

    await expect(connect.disconnect('nobody')).resolves.toBeUndefined();
  });

  it('throws ConnectApiError on a 500', async () => {
    const { connect } = client(() => json(500, { error: 'internal error' }));

    await expect(connect.disconnect('user-42')).rejects.toMatchObject({ name: 'ConnectApiError', status: 500 });
  });
});

describe('Connection schema', () => {
  it('knows exactly the statuses the service reports', () => {
    expect([...CONNECTION_STATUSES]).toEqual([...SERVICE_STATUSES]);
  });
});

/*
 * Against a stack whose /connections routes take the product's own JWTs (connectionsAuth: jwt): a bearer-token
 * provider instead of SigV4.
 */
describe('bearerToken', () => {
  const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiYWNrZW5kIn0.c2lnbmF0dXJl';

  it("sends the provider's current token on GET and DELETE, asking for it before each request", async () => {
    // Prepare: a provider that refreshes (a new token on the second call), sync then async.
    const tokens: (string | Promise<string>)[] = [TOKEN, Promise.resolve(`${TOKEN}-refreshed`)];
    const provider = vi.fn(() => tokens.shift() as string | Promise<string>);
    const { connect, sent } = client(() => json(200, CONNECTION), { bearerToken: provider });

    // Act
    const read = await connect.getConnection('user-42');
    await connect.disconnect('user 42/x');

    // Assess
    expect(read).toEqual(CONNECTION);
    expect(provider).toHaveBeenCalledTimes(2);
    expect(sent.map(({ method, url, headers }) => [method, url, headers.get('authorization')])).toEqual([
      ['GET', `${API}/connections/user-42`, `Bearer ${TOKEN}`],
      ['DELETE', `${API}/connections/user%2042%2Fx`, `Bearer ${TOKEN}-refreshed`],
    ]);
    // No SigV4 headers travel with a bearer token.
    expect(sent[0]?.headers.get('x-amz-date')).toBeNull();
  });

  it('reports a refused token (403, e.g. a missing scope) as ConnectApiError with the status, without the token', async () => {
    const { connect } = client(() => json(403, { message: 'Forbidden' }), { bearerToken: () => TOKEN });
    const error = await connect.disconnect('user-42').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ status: 403 });
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('wraps a failing provider, and sends nothing', async () => {
    const cause = new Error('identity provider down');
    const { connect, sent } = client(() => json(200, CONNECTION), { bearerToken: async () => Promise.reject(cause) });
    const error = await connect.getConnection('user-42').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ status: undefined, cause });
    expect(sent).toHaveLength(0);
  });

  it.each(['', 'has space', `${TOKEN}\r\nx-injected: 1`, 42])(
    'refuses a provider value that cannot be a bearer token (%j), never echoing it',
    async (value) => {
      const { connect, sent } = client(() => json(200, CONNECTION), { bearerToken: () => value as string });
      const error = await connect.getConnection('user-42').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TypeError);
      if (value !== '') expect((error as Error).message).not.toContain(String(value));
      expect(sent).toHaveLength(0);
    },
  );

  it('refuses aws and bearerToken together', () => {
    expect(() =>
      createConnectClient({
        apiUrl: API,
        aws: { region: 'us-west-2', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } },
        bearerToken: () => TOKEN,
      }),
    ).toThrow(/one of aws \(SigV4\), bearerToken or signRequest/);
  });
});

describe('signRequest: a request-signing hook of the product\'s own', () => {
  it('adds the headers it returns to every /connections request, and is asked per request', async () => {
    const calls: string[] = [];
    const { connect, sent } = client(() => json(200, CONNECTION), {
      signRequest: async (method, url) => {
        calls.push(`${method} ${url.pathname}`);
        return { authorization: `Scheme token-${calls.length}` };
      },
    });

    await connect.getConnection('user-42');
    await connect.disconnect('user-42');

    expect(calls).toEqual(['GET /connections/user-42', 'DELETE /connections/user-42']);
    expect(sent.map((s) => s.headers.get('authorization'))).toEqual(['Scheme token-1', 'Scheme token-2']);
    expect(sent[0]?.headers.get('accept')).toBe('application/json');
  });

  it('refuses aws and signRequest together', () => {
    expect(() =>
      createConnectClient({
        apiUrl: API,
        aws: { region: 'us-east-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } },
        signRequest: async () => ({}),
      }),
    ).toThrow(/one of aws \(SigV4\), bearerToken or signRequest/);
  });
});

describe('lifecycle event schema', () => {
  const detail: service.ConnectionEventDetail = {
    schemaVersion: 1,
    eventId: 'e-1:replaced',
    type: 'replaced',
    userId: 'user-42',
    status: 'connected',
    recallCredentialId: 'cred-2',
    previousRecallCredentialId: 'cred-1',
    zoomAccountId: null,
    zoomUserId: 'zu-1',
    occurredAt: '2026-12-06T18:00:00.000Z',
    correlationId: 'corr-1',
  };

  it('is the service schema itself (the stable eventId included), under the names the client exports', () => {
    expect(ConnectionEventDetailSchema.parse(service.ConnectionEventDetailSchema.parse(detail))).toEqual(detail);
    expect([...CONNECTION_EVENT_TYPES]).toEqual([...service.CONNECTION_EVENT_TYPES]);
    expect(EVENT_SOURCE).toBe(service.EVENT_SOURCE);
    for (const type of CONNECTION_EVENT_TYPES) expect(detailTypeOf(type)).toBe(service.detailTypeOf(type));
  });

  it('refuses a detail without its eventId, and drops fields a newer service may add', () => {
    const { eventId: _, ...withoutId } = detail;
    expect(ConnectionEventDetailSchema.safeParse(withoutId).success).toBe(false);
    expect(ConnectionEventDetailSchema.parse({ ...detail, addedLater: true })).toEqual(detail);
  });
});
