import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { bindingCookieName } from '../../../functions/connect/browser-binding.js';
import { MAX_RETURN_TO_LENGTH, signConnectToken } from '../../../functions/connect/connect-token.js';
import { type OAuthState, openOAuthState, sealOAuthState } from '../../../functions/connect/oauth-state.js';
import { pkceChallenge, sha256Hex } from '../../../functions/core/crypto.js';
import { filledSecret, generatedKey } from '../../helpers/aws.js';
import { bundleHandler } from '../../helpers/bundle.js';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { handlerEntry, handlerHarness, type HandlerOf } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { EXTENSION_SESSION_TOKEN } from '../../helpers/secrets-extension.js';

// Logs and metrics on: some tests assert on them. The function reads its secrets through the Parameters and Secrets
// extension: a real HTTP stand-in for it here, answering from the Secrets Manager mock.
const h = handlerHarness('authorize', { logLevel: 'INFO', metrics: true, secretsExtension: true });
const output = { logs: () => h.output.logs(), text: () => h.output.text() };
afterEach(() => {
  // Whatever the test did: no DynamoDB call, ever (the function is not given the client at all).
  expect(h.ddb.calls()).toHaveLength(0);
});

/** A handler with nothing cached yet: a fresh module instance, as a cold start gets. */
const coldHandler = () => h.cold();

const OLD_SIGNING_KEY = 'the-signing-key-before-the-rotation-0123456789abcdef';
const NEW_SIGNING_KEY = 'the-signing-key-after-the-rotation-0123456789abcdefgh';

/** The signing key secret's versions: `AWSCURRENT`, and `AWSPREVIOUS` when given (none before a first rotation). */
function signingKeyVersions(current: string, previous?: string): void {
  generatedKey(h.secretsManager, AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID, current, previous);
}

/** The attempt sealed in a redirect's cookie, opened with the state key; and the cookie's parts. */
async function attemptOf(response: APIGatewayProxyStructuredResultV2, keys: readonly string[] = [SECRETS.stateKey]) {
  const state = new URL(String(response.headers?.location)).searchParams.get('state') ?? '';
  const cookie = response.cookies?.[0] ?? '';
  const value = cookie.slice(cookie.indexOf('=') + 1, cookie.indexOf(';'));
  const opened = await openOAuthState(value, sha256Hex(state), keys);
  return { state, cookie, value, opened, attempt: opened.status === 'opened' ? opened.state : undefined };
}

const emitted = () => h.emitted();

const RETURN_TO = 'https://app.example.com/settings/integrations?tab=zoom';

function authorize(token: string | undefined, handler: HandlerOf<'authorize'> = h.handler): Promise<APIGatewayProxyStructuredResultV2> {
  return handler(httpEvent({ path: '/zoom/authorize', ...(token === undefined ? {} : { query: { connect_token: token } }) }));
}

const validToken = (claims: { userId?: string; returnTo?: string } = {}) =>
  signConnectToken({ userId: claims.userId ?? 'user-42', returnTo: claims.returnTo ?? RETURN_TO }, SECRETS.signingKey);

describe('GET /zoom/authorize', () => {
  it('redirects a valid connect token to Zoom consent with PKCE S256 and the exact redirect URI', async () => {
    // Act
    const response = await authorize(await validToken());

    // Assess
    expect(response.statusCode).toBe(302);
    const location = new URL(String(response.headers?.location));
    expect(`${location.origin}${location.pathname}`).toBe('https://zoom.us/oauth/authorize');
    expect([...location.searchParams.keys()].sort()).toEqual(
      ['client_id', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'response_type', 'state'].sort(),
    );
    expect(location.searchParams.get('response_type')).toBe('code');
    expect(location.searchParams.get('client_id')).toBe(SECRETS.zoomClientId);
    expect(location.searchParams.get('redirect_uri')).toBe(AWS_FUNCTION_ENV.ZOOM_REDIRECT_URI);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(response.headers?.['referrer-policy']).toBe('no-referrer');
  });

  it('seals the attempt in the cookie: state hash, user, return URL, verifier and a 10-minute expiry', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await authorize(await validToken());

    const { state, value, attempt } = await attemptOf(response);
    expect(Buffer.from(state, 'base64url')).toHaveLength(32);
    expect(attempt).toMatchObject({ stateId: sha256Hex(state), userId: 'user-42', returnTo: RETURN_TO, reauthCount: 0 });
    expect(pkceChallenge(attempt?.codeVerifier ?? '')).toBe(new URL(String(response.headers?.location)).searchParams.get('code_challenge'));
    expect(attempt?.expiresAt).toBeGreaterThanOrEqual(before + 600);
    expect(attempt?.expiresAt).toBeLessThanOrEqual(before + 601);
    // Encrypted: neither the state, the user, the return URL nor the verifier can be read off the cookie.
    const readable = [value, Buffer.from(value.split('.').join(''), 'base64url').toString('latin1')].join(' ');
    for (const secret of [state, 'user-42', RETURN_TO, attempt?.codeVerifier ?? '']) expect(readable).not.toContain(secret);
    // ...nor opened with another key.
    expect((await attemptOf(response, ['another-state-key-that-is-long-enough-0123456789'])).opened.status).toBe('unreadable');
  });

  it('binds the attempt to this browser with an HttpOnly, Secure, SameSite=Lax cookie for the callback path', async () => {
    const response = await authorize(await validToken());

    expect(response.cookies).toHaveLength(1);
    const { state, cookie } = await attemptOf(response);
    expect(cookie.startsWith(`${bindingCookieName(sha256Hex(state))}=`)).toBe(true);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    // The path authorize and the callback share, so authorize sees the browser's earlier attempts.
    expect(cookie).toMatch(/; Path=\/zoom(;|$)/);
    // 10 minutes for the attempt, plus a minute in which a late return is still reported as state_expired.
    expect(cookie).toMatch(/; Max-Age=660;/);
  });

  it('reads its secrets through the Parameters and Secrets extension, with the session token', async () => {
    const cold = await coldHandler();
    await authorize(await validToken(), cold);

    expect(h.extension.requests.length).toBeGreaterThan(0);
    for (const request of h.extension.requests) {
      expect(request).toMatchObject({ method: 'GET', path: '/secretsmanager/get', token: EXTENSION_SESSION_TOKEN });
    }
    expect(h.extension.requests.map((r) => `${r.secretId}@${r.versionStage ?? '-'}`).sort()).toEqual(
      [
        `${AWS_FUNCTION_ENV.ZOOM_CLIENT_ID_SECRET_ID}@-`,
        `${AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID}@AWSCURRENT`,
        `${AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID}@AWSPREVIOUS`,
        `${AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID}@AWSCURRENT`,
        `${AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID}@AWSPREVIOUS`,
      ].sort(),
    );
  });

  it('reads secrets once and serves the next invocation from the cache', async () => {
    await authorize(await validToken());
    const afterFirst = h.secretsManager.commandCalls(GetSecretValueCommand).length;
    const served = h.extension.requests.length;
    await authorize(await validToken());
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).length).toBe(afterFirst);
    expect(h.extension.requests.length).toBe(served);
  });

  it('seals with the current state key while a rotation leaves a previous one', async () => {
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, 'the-state-key-after-the-rotation-0123456789abcdef', SECRETS.stateKey);
    const cold = await coldHandler();

    const response = await authorize(await validToken(), cold);

    expect((await attemptOf(response, ['the-state-key-after-the-rotation-0123456789abcdef'])).opened.status).toBe('opened');
    expect((await attemptOf(response, [SECRETS.stateKey])).opened.status).toBe('unreadable');
  });

  it('refuses a return URL longer than the cookie can carry with a 400 page, and accepts the longest allowed one', async () => {
    const base = 'https://app.example.com/settings/?q=';
    const longest = `${base}${'a'.repeat(MAX_RETURN_TO_LENGTH - base.length)}`;

    const accepted = await authorize(await validToken({ returnTo: longest }));
    const refused = await authorize(await validToken({ returnTo: `${longest}a` }));

    expect(accepted.statusCode).toBe(302);
    expect(accepted.cookies?.[0]?.split(';')[0]?.length).toBeLessThan(3600);
    expect((await attemptOf(accepted)).attempt?.returnTo).toBe(longest);
    expect(refused.statusCode).toBe(400);
    expect(refused.cookies ?? []).toEqual([]);
    expect(output.logs().find((line) => line.message === 'Request refused')).toMatchObject({ problem: 'too_long' });
  });

  it.each([
    ['signed with another key', () => signConnectToken({ userId: 'u', returnTo: RETURN_TO }, 'another-key-'.repeat(4))],
    ['expired', () => signConnectToken({ userId: 'u', returnTo: RETURN_TO }, SECRETS.signingKey, -60)],
    [
      'without sub',
      () =>
        new SignJWT({ return_to: RETURN_TO })
          .setProtectedHeader({ alg: 'HS256' })
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(SECRETS.signingKey)),
    ],
    ['returning off the allow-list', () => validToken({ returnTo: 'https://app.example.com.evil.example/settings/' })],
    ['returning to a sibling path', () => validToken({ returnTo: 'https://app.example.com/settings-evil/' })],
    ['tampered', async () => `${(await validToken()).slice(0, -4)}AAAA`],
    ['not a JWT', async () => 'not-a-token'],
  ])('refuses a token %s with a 400 page and never reaches Zoom', async (_case, makeToken) => {
    const response = await authorize(await makeToken());

    expect(response.statusCode).toBe(400);
    expect(response.headers?.location).toBeUndefined();
    expect(response.cookies ?? []).toEqual([]);
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).not.toMatch(/at .*\.ts:\d+/);
  });

  it('refuses a request without a connect token with a 400 page', async () => {
    const response = await authorize(undefined);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('incomplete');
  });
});

describe('GET /zoom/authorize before ops filled in the secrets', () => {
  /** A cold start with the keys the stack generates, and the Zoom client id secret holding `zoomClientId`. */
  async function coldWithZoomClientId(zoomClientId: string): Promise<HandlerOf<'authorize'>> {
    h.secretsManager.reset();
    filledSecret(h.secretsManager, 'zoomClientId', zoomClientId);
    signingKeyVersions(SECRETS.signingKey);
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, SECRETS.stateKey);
    return coldHandler();
  }

  it('sends the user back to the verified return URL with reason=misconfigured while the Zoom client id is a placeholder', async () => {
    // Prepare: the keys (generated by the stack) are fine; the Zoom client id secret still holds the placeholder.
    const cold = await coldWithZoomClientId('REPLACE_ME');

    // Act
    const response = await authorize(await validToken(), cold);

    // Assess: a redirect the product can act on, not a crash or a 500.
    expect(response.statusCode).toBe(302);
    expect(response.headers?.location).toBe(`${RETURN_TO}&zoom_connect=error&reason=misconfigured`);
    expect(response.cookies ?? []).toEqual([]);
    // ...and exactly one clear log line naming the secret and its fields, never a value.
    const errors = output.logs().filter((line) => line.level === 'ERROR');
    expect(errors).toEqual([
      expect.objectContaining({
        message: 'Service misconfigured',
        reason: 'misconfigured',
        secret: AWS_FUNCTION_ENV.ZOOM_CLIENT_ID_SECRET_ID,
        fields: ['zoomClientId'],
      }),
    ]);
    expect(output.text()).not.toContain(SECRETS.signingKey);
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'misconfigured' })).toBe(1);
    expect(metricSum(emitted(), 'ConnectFailed')).toBe(1);
    expect(metricSum(emitted(), 'ConnectStarted')).toBe(0);
  });

  it('answers a small 503 page when the signing key cannot be read: no return URL can be trusted', async () => {
    const cold = await coldWithZoomClientId(SECRETS.zoomClientId);
    h.secretsManager
      .on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID })
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));

    const response = await authorize(await validToken(), cold);

    expect(response.statusCode).toBe(503);
    expect(response.headers?.location).toBeUndefined();
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).toContain('not configured yet');
    expect(response.body).not.toContain('AccessDenied');
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({ message: 'Service misconfigured', secret: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID }),
    ]);
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'misconfigured' })).toBe(1);
  });

  it('starts working on the next request once ops fill the secret in, without a restart', async () => {
    const cold = await coldWithZoomClientId('REPLACE_ME');
    const token = await validToken();
    await authorize(token, cold);

    filledSecret(h.secretsManager, 'zoomClientId', SECRETS.zoomClientId);
    const response = await authorize(token, cold);

    expect(response.statusCode).toBe(302);
    expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\/oauth\/authorize\?/);
  });
});

describe('GET /zoom/authorize across a signing-key rotation', () => {
  it('accepts a token signed with the previous key (AWSPREVIOUS) as well as the current one', async () => {
    signingKeyVersions(NEW_SIGNING_KEY, OLD_SIGNING_KEY);
    const cold = await coldHandler();
    const minted = (key: string) => signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, key);

    const withOld = await authorize(await minted(OLD_SIGNING_KEY), cold);
    const withNew = await authorize(await minted(NEW_SIGNING_KEY), cold);
    const withOther = await authorize(await minted('yet-another-key-that-was-never-stored-0123456789'), cold);

    expect(withOld.statusCode).toBe(302);
    expect(withNew.statusCode).toBe(302);
    expect(withOther.statusCode).toBe(400);
  });

  it('accepts a token signed with a key rotated in after this warm container cached the old one', async () => {
    // Prepare: a warm container holds the old key; then ops rotate, and the product signs with the new key at once.
    vi.useFakeTimers({ toFake: ['Date'] });
    signingKeyVersions(OLD_SIGNING_KEY);
    const warm = await coldHandler();
    const first = await authorize(await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, OLD_SIGNING_KEY), warm);
    signingKeyVersions(NEW_SIGNING_KEY, OLD_SIGNING_KEY);
    vi.setSystemTime(Date.now() + 31_000);

    // Act: well within the 5-minute cache, but the keys are older than the 30 s refresh bound.
    const token = await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, NEW_SIGNING_KEY);
    const response = await authorize(token, warm);

    // Assess
    expect(first.statusCode).toBe(302);
    expect(response.statusCode).toBe(302);
  });

  it('reads the keys again at most every 30 s, however many unknown signatures arrive', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    signingKeyVersions(SECRETS.signingKey);
    const warm = await coldHandler();
    await authorize(await validToken(), warm);
    const readsAfterFirst = h.secretsManager.commandCalls(GetSecretValueCommand).length;
    vi.setSystemTime(Date.now() + 31_000);

    for (let i = 0; i < 5; i++) {
      const forged = await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, `forged-key-${i}-`.repeat(4));
      const response = await authorize(forged, warm);
      expect(response.statusCode).toBe(400);
    }

    // One refresh (current + previous), not one per forged token.
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).length - readsAfterFirst).toBe(2);
  });
});

describe('GET /zoom/authorize: metrics', () => {
  it('counts ConnectStarted with the attempt\'s correlation id as metadata, and nothing else', async () => {
    const response = await authorize(await validToken());

    expect(response.statusCode).toBe(302);
    const metrics = emitted();
    expect(metrics.map((metric) => metric.name)).toEqual(['ConnectStarted']);
    expect(metrics[0]).toMatchObject({
      namespace: 'RecallZoomConnect',
      dimensions: ['service'],
      dimensionValues: { service: 'recall-zoom-connect' },
      value: 1,
      metadata: { correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    });
    const started = output.logs().find((line) => line.message === 'Connect attempt started');
    expect(started?.correlationId).toBe(metrics[0]?.metadata.correlationId);
  });

  it('counts nothing for a refused token (a 4xx is not a failed connect), and never writes the token', async () => {
    const token = await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, 'another-key-'.repeat(4));

    const response = await authorize(token);

    expect(response.statusCode).toBe(400);
    expect(emitted()).toEqual([]);
    expect(output.text()).not.toContain(token);
    expect(output.logs().map((line) => line.message)).toContain('Request refused');
  });

  it('counts a failed connect with reason=internal when the extension fails (500 page), and tries again next time', async () => {
    const cold = await coldHandler();
    h.extension.override((_req, res) => res.writeHead(503).end());
    const token = await validToken();

    const response = await authorize(token, cold);
    h.extension.override(undefined);
    const next = await authorize(token, cold);

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('503');
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'internal' })).toBe(1);
    expect(next.statusCode).toBe(302);
  });

  it('answers a 503 page naming nothing when the extension layer is missing (nothing listens on its port)', async () => {
    const cold = await coldHandler();
    process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = '1';
    try {
      const response = await authorize(await validToken(), cold);

      expect(response.statusCode).toBe(503);
      expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
        expect.objectContaining({ message: 'Service misconfigured', fields: ['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT'] }),
      ]);
    } finally {
      h.extension.useEnv();
    }
  });
});

describe('GET /zoom/authorize without a usable state key', () => {
  it('sends the user back with reason=misconfigured when the state key cannot be read (the token is trusted)', async () => {
    h.secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID }).rejects(
      Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }),
    );
    const cold = await coldHandler();

    const response = await authorize(await validToken(), cold);

    expect(response.headers?.location).toBe(`${RETURN_TO}&zoom_connect=error&reason=misconfigured`);
    expect(response.cookies ?? []).toEqual([]);
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({ message: 'Service misconfigured', secret: AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID }),
    ]);
  });

  it('sends the user back with reason=misconfigured when the state key is too short, never showing it', async () => {
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, 'short-state-key');
    const cold = await coldHandler();

    const response = await authorize(await validToken(), cold);

    expect(response.headers?.location).toBe(`${RETURN_TO}&zoom_connect=error&reason=misconfigured`);
    expect(output.text()).not.toContain('short-state-key');
  });

  it.each([
    ['STATE_KEY_SECRET_ID', {}],
    ['STATE_ENCRYPTION_KEY', { RECALL_API_KEY_SECRET_ID: undefined, ZOOM_CLIENT_ID_SECRET_ID: undefined, ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID: undefined, RECALL_API_KEY: 'k', ZOOM_CLIENT_ID: 'z', CONNECT_SIGNING_KEY: SECRETS.signingKey }],
  ])('fails its cold start when %s is not set', async (variable, overrides: Record<string, string | undefined>) => {
    const names = [...Object.keys(overrides), 'STATE_KEY_SECRET_ID', 'STATE_ENCRYPTION_KEY'];
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    const set = (values: Record<string, string | undefined>) => {
      for (const [name, value] of Object.entries(values)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    };
    set({ ...overrides, STATE_KEY_SECRET_ID: undefined, STATE_ENCRYPTION_KEY: undefined });
    try {
      await expect(coldHandler()).rejects.toThrow(variable);
    } finally {
      set(saved);
    }
  });

  it('needs no table: starts without TABLE_NAME', async () => {
    const saved = process.env.TABLE_NAME;
    delete process.env.TABLE_NAME;
    try {
      const cold = await coldHandler();
      const response = await authorize(await validToken(), cold);
      expect(response.statusCode).toBe(302);
    } finally {
      process.env.TABLE_NAME = saved;
    }
  });
});

describe('the authorize bundle', () => {
  it('carries no AWS SDK and no DynamoDB code, as the stack bundles it', async () => {
    // Act: the stack's bundling settings (lib/constructs/service-function.ts)
    const { code, included } = await bundleHandler(handlerEntry('authorize'));

    // Assess
    expect(included.some((path) => path.includes(handlerEntry('authorize')))).toBe(true);
    expect(included.some((path) => path.includes('functions/adapters/secrets-extension.ts'))).toBe(true);
    expect(included.filter((path) => /node_modules\/@(aws-sdk|smithy|aws-crypto)\//.test(path))).toEqual([]);
    expect(
      included.filter((path) => /functions\/adapters\/(aws-clients|secrets-sdk|consumed-state-repository|connection-repository|recall-client)\.ts/.test(path)),
    ).toEqual([]);
    expect(code).not.toMatch(/@aws-sdk|@smithy|DynamoDB/);
  });
});

describe('GET /zoom/authorize: connect link lifetime and binding cookies', () => {
  const withCookies = async (token: string, cookies: string[]) =>
    h.handler(httpEvent({ path: '/zoom/authorize', query: { connect_token: token }, cookies }));

  it('refuses a token whose exp is in the year 2100 with the invalid-link 400 page, before Zoom', async () => {
    const token = await new SignJWT({ return_to: RETURN_TO })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('user-42')
      .setExpirationTime(Math.floor(Date.parse('2100-01-01T00:00:00Z') / 1000))
      .sign(new TextEncoder().encode(SECRETS.signingKey));

    const response = await authorize(token);

    expect(response.statusCode).toBe(400);
    expect(String(response.body)).toContain('This connect link is not valid.');
    expect(response.headers?.location).toBeUndefined();
  });

  it('seals the link (the SHA-256 of the token and its exp) and the start in milliseconds into the attempt', async () => {
    const token = await validToken();
    const before = Date.now();

    const { attempt } = await attemptOf(await authorize(token));

    expect(attempt?.link?.id).toBe(sha256Hex(token));
    expect(attempt?.link?.expiresAt).toBeGreaterThan(Math.floor(before / 1000));
    expect(attempt?.startedAtMs).toBeGreaterThanOrEqual(before);
  });

  it('keeps at most 3 binding cookies: expires the oldest attempts beyond 2 and any cookie no key opens', async () => {
    // Prepare: three earlier attempts of this browser, and a stray binding cookie
    const earlier: { name: string; startedAtMs: number }[] = [];
    const cookies: string[] = [];
    for (const startedAtMs of [1_000, 3_000, 2_000]) {
      const response = await authorize(await validToken());
      const { cookie, attempt } = await attemptOf(response);
      const resealed = await sealOAuthState({ ...(attempt as OAuthState), startedAtMs }, SECRETS.stateKey);
      const name = cookie.slice(0, cookie.indexOf('='));
      earlier.push({ name, startedAtMs });
      cookies.push(`${name}=${resealed}`);
    }
    cookies.push('zc_0000000000000000=garbage', 'session=keep-me');

    // Act
    const response = await withCookies(await validToken(), cookies);

    // Assess: the newest two earlier attempts stay; the oldest and the stray go; the new one is set last
    const set = response.cookies ?? [];
    const expired = set.filter((value) => value.includes('Max-Age=0;')).map((value) => value.slice(0, value.indexOf('=')));
    const oldest = earlier.find((entry) => entry.startedAtMs === 1_000)?.name;
    expect(expired.sort()).toEqual([oldest, 'zc_0000000000000000'].sort());
    for (const value of set.filter((v) => v.includes('Max-Age=0;'))) expect(value).toContain('; Path=/zoom;');
    expect(set.at(-1)).toMatch(/; Max-Age=660; Path=\/zoom;/);
    expect(set.some((value) => value.startsWith('session='))).toBe(false);
  });

  it('expires nothing while the browser holds fewer than 3 binding cookies', async () => {
    const { cookie } = await attemptOf(await authorize(await validToken()));

    const response = await withCookies(await validToken(), [cookie.slice(0, cookie.indexOf(';'))]);

    expect(response.cookies).toHaveLength(1);
  });
});
