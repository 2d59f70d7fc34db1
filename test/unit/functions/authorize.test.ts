import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
} from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { signConnectToken } from '../../../functions/shared/connect-token.js';
import { pkceChallenge, sha256Hex } from '../../../functions/shared/crypto.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

useAwsFunctionEnv();
// Logs and metrics on: some tests assert on them; the capture keeps them out of the test output.
process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const ddb = mockClient(DynamoDBClient);
let secretsManager: ReturnType<typeof mockSecretsManager>;
let handler: (typeof import('../../../functions/authorize/handler.js'))['handler'];
let output: CapturedOutput;

beforeAll(async () => {
  ({ handler } = await import('../../../functions/authorize/handler.js'));
});
afterAll(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

beforeEach(() => {
  ddb.reset();
  ddb.on(PutItemCommand).resolves({});
  secretsManager = mockSecretsManager();
  output = captureOutput();
});
afterEach(() => {
  output.restore();
  vi.useRealTimers();
});

/** A handler with nothing cached yet: a fresh module instance, as a cold start gets. */
async function coldHandler(): Promise<typeof handler> {
  vi.resetModules();
  return (await import('../../../functions/authorize/handler.js')).handler;
}

const OLD_SIGNING_KEY = 'the-signing-key-before-the-rotation-0123456789abcdef';
const NEW_SIGNING_KEY = 'the-signing-key-after-the-rotation-0123456789abcdefgh';

/** The signing key secret's versions: `AWSCURRENT`, and `AWSPREVIOUS` when given (none before a first rotation). */
function signingKeyVersions(current: string, previous?: string): void {
  secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID }).callsFake(
    (input: GetSecretValueCommandInput) => {
      if (input.VersionStage !== 'AWSPREVIOUS') return { SecretString: current };
      if (previous === undefined) {
        throw new ResourceNotFoundException({ message: "can't find the specified secret value for staging label: AWSPREVIOUS", $metadata: {} });
      }
      return { SecretString: previous };
    },
  );
}

const emitted = () => metricsOf(output.emf());

const RETURN_TO = 'https://app.example.com/settings/integrations?tab=zoom';

async function authorize(token: string | undefined): Promise<APIGatewayProxyStructuredResultV2> {
  const event = httpEvent({ path: '/zoom/authorize', ...(token === undefined ? {} : { query: { connect_token: token } }) });
  return (await handler(event, context)) as APIGatewayProxyStructuredResultV2;
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

  it('stores the state hashed with the user, return URL, verifier and a 10-minute expiry', async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await authorize(await validToken());

    const location = new URL(String(response.headers?.location));
    const state = location.searchParams.get('state') ?? '';
    expect(Buffer.from(state, 'base64url')).toHaveLength(32);
    const put = ddb.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(put?.TableName).toBe(AWS_FUNCTION_ENV.TABLE_NAME);
    expect(put?.Item?.pk?.S).toBe(`STATE#${sha256Hex(state)}`);
    expect(JSON.stringify(put?.Item)).not.toContain(state);
    expect(put?.Item?.userId?.S).toBe('user-42');
    expect(put?.Item?.returnTo?.S).toBe(RETURN_TO);
    expect(pkceChallenge(put?.Item?.codeVerifier?.S ?? '')).toBe(location.searchParams.get('code_challenge'));
    const expiresAt = Number(put?.Item?.expiresAt?.N);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600);
    expect(expiresAt).toBeLessThanOrEqual(before + 601);
    expect(put?.ConditionExpression).toContain('attribute_not_exists');
  });

  it('binds the attempt to this browser with an HttpOnly, Secure, SameSite=Lax cookie for the callback path', async () => {
    const response = await authorize(await validToken());

    expect(response.cookies).toHaveLength(1);
    const cookie = response.cookies?.[0] ?? '';
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; SameSite=Lax/);
    expect(cookie).toMatch(/; Path=\/zoom\/callback(;|$)/);
    expect(cookie).toMatch(/; Max-Age=600/);
    const nonce = cookie.slice(cookie.indexOf('=') + 1, cookie.indexOf(';'));
    const put = ddb.commandCalls(PutItemCommand)[0]?.args[0].input;
    expect(put?.Item?.bindingHash?.S).toBe(sha256Hex(nonce));
  });

  it('reads secrets once and serves the next invocation from the cache', async () => {
    await authorize(await validToken());
    const afterFirst = secretsManager.commandCalls(GetSecretValueCommand).length;
    await authorize(await validToken());
    expect(secretsManager.commandCalls(GetSecretValueCommand).length).toBe(afterFirst);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(2);
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
  ])('refuses a token %s with a 400 page and never reaches Zoom or DynamoDB', async (_case, makeToken) => {
    const response = await authorize(await makeToken());

    expect(response.statusCode).toBe(400);
    expect(response.headers?.location).toBeUndefined();
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).not.toMatch(/at .*\.ts:\d+/);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });

  it('refuses a request without a connect token with a 400 page', async () => {
    const response = await authorize(undefined);
    expect(response.statusCode).toBe(400);
    expect(response.body).toContain('incomplete');
  });

});

describe('GET /zoom/authorize before ops filled in the secrets', () => {
  it('sends the user back to the verified return URL with reason=misconfigured while the app secret is a placeholder', async () => {
    // Prepare: the signing key (generated by the stack) is fine; the app secret still holds the placeholder.
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' }),
    });
    signingKeyVersions(SECRETS.signingKey);
    const cold = await coldHandler();

    // Act
    const response = (await cold(
      httpEvent({ path: '/zoom/authorize', query: { connect_token: await validToken() } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    // Assess: a redirect the product can act on, not a crash or a 500.
    expect(response.statusCode).toBe(302);
    expect(response.headers?.location).toBe(`${RETURN_TO}&zoom_connect=error&reason=misconfigured`);
    expect(response.cookies ?? []).toEqual([]);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
    // ...and exactly one clear log line naming the secret and its fields, never a value.
    const errors = output.logs().filter((line) => line.level === 'ERROR');
    expect(errors).toEqual([
      expect.objectContaining({
        message: 'Service misconfigured',
        reason: 'misconfigured',
        secret: AWS_FUNCTION_ENV.APP_SECRET_ID,
        fields: ['recallApiKey', 'zoomClientId'],
      }),
    ]);
    expect(output.text()).not.toContain(SECRETS.signingKey);
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'misconfigured' })).toBe(1);
    expect(metricSum(emitted(), 'ConnectFailed')).toBe(1);
    expect(metricSum(emitted(), 'ConnectStarted')).toBe(0);
  });

  it('answers a small 503 page when the signing key cannot be read: no return URL can be trusted', async () => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: SECRETS.recallApiKey, zoomClientId: SECRETS.zoomClientId }),
    });
    secretsManager
      .on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID })
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const cold = await coldHandler();

    const response = (await cold(
      httpEvent({ path: '/zoom/authorize', query: { connect_token: await validToken() } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(503);
    expect(response.headers?.location).toBeUndefined();
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).toContain('not configured yet');
    expect(response.body).not.toContain('AccessDenied');
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({ message: 'Service misconfigured', secret: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID }),
    ]);
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'misconfigured' })).toBe(1);
  });

  it('starts working on the next request once ops fill the secret in, without a restart', async () => {
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' }),
    });
    signingKeyVersions(SECRETS.signingKey);
    const cold = await coldHandler();
    const event = httpEvent({ path: '/zoom/authorize', query: { connect_token: await validToken() } });
    await cold(event, context);

    mockSecretsManager();
    const response = (await cold(event, context)) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(302);
    expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\/oauth\/authorize\?/);
  });
});

describe('GET /zoom/authorize across a signing-key rotation', () => {
  it('accepts a token signed with the previous key (AWSPREVIOUS) as well as the current one', async () => {
    signingKeyVersions(NEW_SIGNING_KEY, OLD_SIGNING_KEY);
    const cold = await coldHandler();
    const minted = (key: string) => signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, key);

    const withOld = (await cold(httpEvent({ path: '/zoom/authorize', query: { connect_token: await minted(OLD_SIGNING_KEY) } }), context)) as APIGatewayProxyStructuredResultV2;
    const withNew = (await cold(httpEvent({ path: '/zoom/authorize', query: { connect_token: await minted(NEW_SIGNING_KEY) } }), context)) as APIGatewayProxyStructuredResultV2;
    const withOther = (await cold(httpEvent({ path: '/zoom/authorize', query: { connect_token: await minted('yet-another-key-that-was-never-stored-0123456789') } }), context)) as APIGatewayProxyStructuredResultV2;

    expect(withOld.statusCode).toBe(302);
    expect(withNew.statusCode).toBe(302);
    expect(withOther.statusCode).toBe(400);
  });

  it('accepts a token signed with a key rotated in after this warm container cached the old one', async () => {
    // Prepare: a warm container holds the old key; then ops rotate, and the product signs with the new key at once.
    vi.useFakeTimers({ toFake: ['Date'] });
    signingKeyVersions(OLD_SIGNING_KEY);
    const warm = await coldHandler();
    const first = (await warm(
      httpEvent({ path: '/zoom/authorize', query: { connect_token: await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, OLD_SIGNING_KEY) } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;
    signingKeyVersions(NEW_SIGNING_KEY, OLD_SIGNING_KEY);
    vi.setSystemTime(Date.now() + 31_000);

    // Act: well within the 5-minute cache, but the keys are older than the 30 s refresh bound.
    const token = await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, NEW_SIGNING_KEY);
    const response = (await warm(httpEvent({ path: '/zoom/authorize', query: { connect_token: token } }), context)) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(first.statusCode).toBe(302);
    expect(response.statusCode).toBe(302);
  });

  it('reads the keys again at most every 30 s, however many unknown signatures arrive', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    signingKeyVersions(SECRETS.signingKey);
    const warm = await coldHandler();
    await warm(httpEvent({ path: '/zoom/authorize', query: { connect_token: await validToken() } }), context);
    const readsAfterFirst = secretsManager.commandCalls(GetSecretValueCommand).length;
    vi.setSystemTime(Date.now() + 31_000);

    for (let i = 0; i < 5; i++) {
      const forged = await signConnectToken({ userId: 'u', returnTo: RETURN_TO }, `forged-key-${i}-`.repeat(4));
      const response = (await warm(httpEvent({ path: '/zoom/authorize', query: { connect_token: forged } }), context)) as APIGatewayProxyStructuredResultV2;
      expect(response.statusCode).toBe(400);
    }

    // One refresh (current + previous), not one per forged token.
    expect(secretsManager.commandCalls(GetSecretValueCommand).length - readsAfterFirst).toBe(2);
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

  it('counts a failed connect with reason=internal when the state cannot be stored (500 page)', async () => {
    ddb.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    const response = await authorize(await validToken());

    expect(response.statusCode).toBe(500);
    expect(metricSum(emitted(), 'ConnectFailed', { service: 'recall-zoom-connect', reason: 'internal' })).toBe(1);
  });
});
