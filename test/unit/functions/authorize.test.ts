import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { SignJWT } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signConnectToken } from '../../../functions/shared/connect-token.js';
import { pkceChallenge, sha256Hex } from '../../../functions/shared/crypto.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';

useAwsFunctionEnv();
const ddb = mockClient(DynamoDBClient);
let secretsManager: ReturnType<typeof mockSecretsManager>;
let handler: (typeof import('../../../functions/authorize/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/authorize/handler.js'));
});

beforeEach(() => {
  ddb.reset();
  ddb.on(PutItemCommand).resolves({});
  secretsManager = mockSecretsManager();
});

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

  it('answers a generic 500 page when secrets still hold the placeholder, revealing nothing', async () => {
    // Prepare: a fresh module instance, so the cache from earlier tests is empty.
    const { vi } = await import('vitest');
    vi.resetModules();
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
      SecretString: JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' }),
    });
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: SECRETS.signingKey });
    const fresh = await import('../../../functions/authorize/handler.js');

    const response = (await fresh.handler(
      httpEvent({ path: '/zoom/authorize', query: { connect_token: await validToken() } }),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('REPLACE_ME');
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});
