import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CODE_TTL_MS, s256, SANDBOX_ZOOM_USERS, SandboxZoom } from '../../../local/sandbox-zoom.js';

const REDIRECT_URI = 'http://localhost:3000/zoom/callback';
const CLIENT_ID = 'sandbox-client';
const ada = SANDBOX_ZOOM_USERS[0] as (typeof SANDBOX_ZOOM_USERS)[number];

function setup() {
  let now = 1_000_000;
  const zoom = new SandboxZoom({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI, now: () => now });
  const codeVerifier = randomBytes(32).toString('base64url');
  const code = zoom.issueCode({ redirectUri: REDIRECT_URI, codeChallenge: s256(codeVerifier), identity: ada });
  return { zoom, code, codeVerifier, advance: (ms: number) => (now += ms) };
}

describe('SandboxZoom.exchange', () => {
  it('returns the consenting identity once, then invalid_grant', () => {
    const { zoom, code, codeVerifier } = setup();
    expect(zoom.exchange({ code, redirectUri: REDIRECT_URI, codeVerifier, clientId: CLIENT_ID })).toEqual({
      ok: true,
      identity: { accountId: ada.accountId, userId: ada.userId },
    });
    expect(zoom.exchange({ code, redirectUri: REDIRECT_URI, codeVerifier })).toMatchObject({ ok: false, error: 'invalid_grant' });
  });

  it('spends the code on a failed attempt, like Zoom', () => {
    const { zoom, code, codeVerifier } = setup();
    expect(zoom.exchange({ code, redirectUri: `${REDIRECT_URI}/`, codeVerifier })).toMatchObject({
      ok: false,
      error: 'invalid_grant',
      description: 'Redirect URI mismatch.',
    });
    expect(zoom.exchange({ code, redirectUri: REDIRECT_URI, codeVerifier }).ok).toBe(false);
  });

  it('checks PKCE S256, the verifier\'s presence and the client id', () => {
    const wrong = setup();
    expect(wrong.zoom.exchange({ code: wrong.code, redirectUri: REDIRECT_URI, codeVerifier: 'x'.repeat(43) })).toMatchObject({
      error: 'invalid_grant',
    });
    const missing = setup();
    expect(missing.zoom.exchange({ code: missing.code, redirectUri: REDIRECT_URI })).toMatchObject({ error: 'invalid_request' });
    const client = setup();
    expect(
      client.zoom.exchange({ code: client.code, redirectUri: REDIRECT_URI, codeVerifier: client.codeVerifier, clientId: 'other' }),
    ).toMatchObject({ error: 'invalid_client' });
  });

  it('refuses a code after 5 minutes', () => {
    const { zoom, code, codeVerifier, advance } = setup();
    advance(CODE_TTL_MS);
    expect(zoom.exchange({ code, redirectUri: REDIRECT_URI, codeVerifier })).toMatchObject({ description: 'Code is expired.' });
  });

  it('inspects without spending', () => {
    const { zoom, code, codeVerifier } = setup();
    expect(zoom.inspect({ code, redirectUri: REDIRECT_URI, codeVerifier }).ok).toBe(true);
    expect(zoom.liveCodeCount).toBe(1);
    expect(zoom.exchange({ code, redirectUri: REDIRECT_URI, codeVerifier }).ok).toBe(true);
    expect(zoom.liveCodeCount).toBe(0);
  });
});

describe('the sandbox consent page', () => {
  const zoom = new SandboxZoom({ clientId: CLIENT_ID, redirectUri: REDIRECT_URI });
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      void zoom.handle(req, res, (req.url ?? '/').split('?')[0] ?? '/').then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sandbox/zoom/oauth/authorize`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const challenge = s256('verifier-'.repeat(6));
  const query = (overrides: Record<string, string | undefined> = {}) => {
    const params: Record<string, string | undefined> = {
      response_type: 'code',
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      state: 'the-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...overrides,
    };
    return new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined));
  };

  it('shows an accessible consent form under a strict CSP', async () => {
    const response = await fetch(`${base}?${query()}`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'.*style-src 'sha256-/);
    expect(html).not.toContain('<script');
    expect(html).toContain('<legend>Sign in to Zoom as</legend>');
    for (const user of SANDBOX_ZOOM_USERS) expect(html).toContain(`value="${user.key}"`);
    expect(html).toContain('>Allow</button>');
    expect(html).toContain('>Decline</button>');
  });

  it('shows an error page and never redirects when the redirect URI differs, even by a trailing slash', async () => {
    for (const redirect_uri of [`${REDIRECT_URI}/`, 'http://localhost:3000/zoom/Callback', undefined]) {
      const response = await fetch(`${base}?${query({ redirect_uri })}`, { redirect: 'manual' });
      expect(response.status).toBe(400);
      expect(response.headers.get('location')).toBeNull();
      expect(await response.text()).toContain('Invalid redirect');
    }
  });

  it('refuses an unknown client, a missing PKCE challenge and response types other than code', async () => {
    for (const overrides of [
      { client_id: 'other' },
      { code_challenge_method: 'plain' },
      { code_challenge: undefined },
      { response_type: 'token' },
    ]) {
      const response = await fetch(`${base}?${query(overrides)}`, { redirect: 'manual' });
      expect(response.status, JSON.stringify(overrides)).toBe(400);
    }
  });

  const decide = (form: Record<string, string>) =>
    fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...Object.fromEntries(query()), ...form }),
      redirect: 'manual',
    });

  it('redirects Allow with a one-time code and the state', async () => {
    const response = await decide({ decision: 'allow', identity: 'grace' });
    expect(response.status).toBe(302);
    const location = new URL(response.headers.get('location') as string);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('the-state');
    const code = location.searchParams.get('code') as string;
    expect(zoom.inspect({ code, redirectUri: REDIRECT_URI, codeVerifier: 'verifier-'.repeat(6) })).toMatchObject({
      ok: true,
      identity: { userId: SANDBOX_ZOOM_USERS[1]?.userId },
    });
  });

  it('redirects Decline with error=access_denied and the state', async () => {
    const response = await decide({ decision: 'decline' });
    const location = new URL(response.headers.get('location') as string);
    expect(location.searchParams.get('error')).toBe('access_denied');
    expect(location.searchParams.get('state')).toBe('the-state');
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('accepts a typed-in identity and refuses a malformed one', async () => {
    const ok = await decide({ decision: 'allow', identity: 'custom', custom_account_id: 'acct-1', custom_user_id: 'user-1' });
    expect(ok.status).toBe(302);
    const bad = await decide({ decision: 'allow', identity: 'custom', custom_account_id: 'a b', custom_user_id: '' });
    expect(bad.status).toBe(400);
  });

  it('re-checks the redirect URI on submit instead of trusting the form', async () => {
    const response = await decide({ decision: 'allow', identity: 'ada', redirect_uri: 'https://evil.example/cb' });
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });
});
