import { describe, expect, it, vi } from 'vitest';
import { ConnectApiError, createConnectClient } from '../../../client/index.js';

/*
 * The client against a stack whose /connections routes take the product's own JWTs (connectionsAuth: jwt): a
 * bearer-token provider instead of SigV4.
 */
const API = 'https://abc123.execute-api.us-west-2.amazonaws.com';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiYWNrZW5kIn0.c2lnbmF0dXJl';

const CONNECTION = {
  userId: 'user-42',
  status: 'connected',
  recallCredentialId: 'cred-1',
  zoomAccountId: 'za-1',
  zoomUserId: 'zu-1',
  oauthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  connectedAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
};

function recordingFetch(status = 200) {
  const sent: { method: string; url: string; headers: Headers }[] = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({ method: init?.method ?? 'GET', url: String(input), headers: new Headers(init?.headers) });
    return new Response(JSON.stringify(status === 200 ? CONNECTION : { error: 'Forbidden' }), { status });
  }) as unknown as typeof globalThis.fetch;
  return { sent, fetch };
}

describe('createConnectClient with bearerToken', () => {
  it('sends the provider\'s current token on GET and DELETE, asking for it before each request', async () => {
    // Prepare: a provider that refreshes (a new token on the second call), sync then async.
    const { sent, fetch } = recordingFetch();
    const tokens = [TOKEN, Promise.resolve(`${TOKEN}-refreshed`)];
    const provider = vi.fn(() => tokens.shift() as string | Promise<string>);
    const client = createConnectClient({ apiUrl: API, fetch, bearerToken: provider });

    // Act
    const read = await client.getConnection('user-42');
    await client.disconnect('user 42/x');

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
    const { fetch } = recordingFetch(403);
    const client = createConnectClient({ apiUrl: API, fetch, bearerToken: () => TOKEN });
    const error = await client.disconnect('user-42').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ status: 403 });
    expect(String((error as Error).message)).not.toContain(TOKEN);
  });

  it('wraps a failing provider, and sends nothing', async () => {
    const { sent, fetch } = recordingFetch();
    const cause = new Error('identity provider down');
    const client = createConnectClient({ apiUrl: API, fetch, bearerToken: async () => Promise.reject(cause) });
    const error = await client.getConnection('user-42').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectApiError);
    expect(error).toMatchObject({ status: undefined, cause });
    expect(sent).toHaveLength(0);
  });

  it.each(['', 'has space', `${TOKEN}\r\nx-injected: 1`, 42])(
    'refuses a provider value that cannot be a bearer token (%j), never echoing it',
    async (value) => {
      const { sent, fetch } = recordingFetch();
      const client = createConnectClient({ apiUrl: API, fetch, bearerToken: () => value as string });
      const error = await client.getConnection('user-42').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).not.toContain(String(value) || 'never');
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
    ).toThrow(TypeError);
  });
});
