import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { usedStateKey } from '../../functions/core/table-schema.js';
import { s256 } from '../../local/sandbox-zoom.js';
import { TestBrowser } from './helpers/browser.js';
import { answerAtZoom, connectUrl, describeFlow, getConnection, runConnectFlow, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * Invariants 2, 3 and 5 of docs/design.md over real HTTP: a state is used once, only by the browser that started it; bad
 * input gets a 4xx page or an error redirect and never reaches Recall or Zoom.
 */
const { server, table } = useLocalService();

const recallRequestCount = () => server.sandboxRecall.state.requests.length;

/** Starts a flow in `browser` and stops at the callback URL sandbox Zoom sends it to (not yet followed). */
async function reachCallback(browser: TestBrowser, userId: string): Promise<string> {
  const authorize = await browser.request(await connectUrl(server, { userId }));
  expect(authorize.status).toBe(302);
  return answerAtZoom(browser, authorize.headers.get('location') as string, uniqueIdentity(userId));
}

describe('the callback', () => {
  it('refuses a replayed callback URL with a 400 page, without calling Recall again', async () => {
    // Prepare: one completed flow; keep the cookie the browser held at the callback
    const browser = new TestBrowser();
    const callbackUrl = await reachCallback(browser, uniqueUser('replay'));
    const cookieAtCallback = browser.cookieHeaderFor(callbackUrl);
    const first = await browser.request(callbackUrl);
    expect(first.headers.get('location')).toContain('zoom_connect=connected');
    const before = recallRequestCount();

    // Act: the same URL again, with the same cookie
    const replay = await fetch(callbackUrl, { headers: { cookie: cookieAtCallback }, redirect: 'manual' });

    // Assess
    expect(replay.status).toBe(400);
    expect(replay.headers.get('content-type')).toContain('text/html');
    expect(replay.headers.get('location')).toBeNull();
    expect(recallRequestCount()).toBe(before);
  });

  it('refuses a callback from a browser without the binding cookie, and still lets the right browser finish', async () => {
    // Prepare
    const userId = uniqueUser('binding');
    const browser = new TestBrowser();
    const callbackUrl = await reachCallback(browser, userId);
    const before = recallRequestCount();

    // Act: another browser (no cookie) opens the leaked callback URL
    const stranger = await new TestBrowser().request(callbackUrl);

    // Assess: no connection, no Recall call, no redirect to a success
    expect([302, 400]).toContain(stranger.status);
    if (stranger.status === 302) {
      const location = new URL(stranger.headers.get('location') as string);
      expect(location.searchParams.get('zoom_connect')).toBe('error');
    }
    expect(recallRequestCount()).toBe(before);
    expect((await getConnection(server, userId)).status).toBe(404);

    // Act: the browser that started the flow
    const owner = await browser.request(callbackUrl);

    // Assess: the stranger did not burn the attempt
    expect(owner.headers.get('location')).toContain('zoom_connect=connected');
    expect((await getConnection(server, userId)).connection?.status).toBe('connected');
  });

  it('refuses an attempt\'s cookie carried over to another attempt\'s state, and says to start again in the first browser', async () => {
    // Prepare: two attempts in one browser; the cookie of the first is sent under the name the second's state expects
    const browser = new TestBrowser();
    const first = await reachCallback(browser, uniqueUser('swap-a'));
    const second = await reachCallback(browser, uniqueUser('swap-b'));
    const cookieOf = (url: string) => {
      const state = new URL(url).searchParams.get('state') as string;
      const name = `zc_${createHash('sha256').update(state).digest('hex').slice(0, 16)}`;
      const pair = browser.cookieHeaderFor(url).split('; ').find((entry) => entry.startsWith(`${name}=`)) as string;
      return { name, value: pair.slice(name.length + 1) };
    };
    const swapped = `${cookieOf(second).name}=${cookieOf(first).value}`;
    const before = recallRequestCount();

    // Act
    const response = await fetch(second, { headers: { cookie: swapped }, redirect: 'manual' });

    // Assess
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('start again from the app in the browser you began in');
    expect(recallRequestCount()).toBe(before);
    // ...and both attempts still finish in the browser that holds their own cookies.
    expect((await browser.request(first)).headers.get('location')).toContain('zoom_connect=connected');
    expect((await browser.request(second)).headers.get('location')).toContain('zoom_connect=connected');
  });

  it('keeps nothing server-side for a started attempt: the table learns of a state only when it is used', async () => {
    const browser = new TestBrowser();
    const callbackUrl = await reachCallback(browser, uniqueUser('stateless'));
    const stateId = createHash('sha256').update(new URL(callbackUrl).searchParams.get('state') as string).digest('hex');
    expect(await table.item(usedStateKey(stateId))).toBeUndefined();
    await browser.request(callbackUrl);
    expect(Object.keys((await table.item(usedStateKey(stateId))) ?? {}).sort()).toEqual(['expiresAt', 'pk']);
  });

  it('refuses a forged state with a 400 page, without calling Recall', async () => {
    // Prepare: a real, unspent code and a real browser cookie, but a state the service never issued
    const browser = new TestBrowser();
    await browser.request(await connectUrl(server, { userId: uniqueUser('forger') }));
    const code = server.sandboxZoom.issueCode({
      redirectUri: server.settings.zoomRedirectUri,
      codeChallenge: s256(randomBytes(32).toString('base64url')),
      identity: uniqueIdentity('forged'),
    });
    const before = recallRequestCount();
    const forgedState = randomBytes(32).toString('base64url');

    // Act
    const forged = await browser.request(
      `${server.settings.zoomRedirectUri}?code=${encodeURIComponent(code)}&state=${forgedState}`,
    );
    const missing = await browser.request(`${server.settings.zoomRedirectUri}?code=${encodeURIComponent(code)}`);

    // Assess: a code without a state is a Marketplace install: sent to the install landing page, never exchanged
    expect(forged.status).toBe(400);
    expect(missing.status).toBe(302);
    const landing = new URL(missing.headers.get('location') ?? '');
    expect(landing.searchParams.get('zoom_connect')).toBe('install');
    expect(landing.href).not.toContain(code);
    expect(await forged.text()).not.toContain(code);
    expect(recallRequestCount()).toBe(before);
  });
});

describe('the authorize step', () => {
  const expectRefusedBeforeZoom = async (url: string) => {
    const before = recallRequestCount();
    const browser = new TestBrowser();
    const response = await browser.request(url);
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    expect(response.headers.get('location')).toBeNull();
    expect(browser.cookies).toHaveLength(0);
    expect(recallRequestCount()).toBe(before);
  };

  const signed = (claims: Record<string, unknown>, key = server.settings.connectSigningKey) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(key));
  const authorizeWith = (token: string) =>
    `${server.settings.apiBaseUrl}/zoom/authorize?connect_token=${encodeURIComponent(token)}`;
  const inAMinute = () => Math.floor(Date.now() / 1000) + 60;

  it('refuses a tampered connect token', async () => {
    const url = new URL(await connectUrl(server, { userId: uniqueUser('tampered') }));
    const token = url.searchParams.get('connect_token') as string;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const otherUser = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 'someone-else' }),
    ).toString('base64url');
    await expectRefusedBeforeZoom(authorizeWith(`${header}.${otherUser}.${signature}`));
    const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectRefusedBeforeZoom(authorizeWith(`${header}.${payload}.${flipped}`));
  });

  it('refuses an expired token, one signed with another key, and one without sub', async () => {
    const returnTo = `${server.url}/`;
    await expectRefusedBeforeZoom(
      authorizeWith(await signed({ sub: 'late', return_to: returnTo, exp: Math.floor(Date.now() / 1000) - 5 })),
    );
    await expectRefusedBeforeZoom(
      authorizeWith(await signed({ sub: 'x', return_to: returnTo, exp: inAMinute() }, 'another-key-another-key-another-key')),
    );
    await expectRefusedBeforeZoom(authorizeWith(await signed({ return_to: returnTo, exp: inAMinute() })));
    await expectRefusedBeforeZoom(`${server.settings.apiBaseUrl}/zoom/authorize`);
    await expectRefusedBeforeZoom(authorizeWith('not-a-jwt'));
  });

  it('refuses return URLs off the allow-list, including look-alike hosts', async () => {
    const { port } = server;
    for (const returnTo of [
      `http://localhost:${port}.evil.example/`,
      `http://127.0.0.1:${port}/`,
      `https://localhost:${port}/`,
      `http://localhost:${port + 1}/`,
      'https://evil.example/',
      `http://user:pass@localhost:${port}/`,
    ]) {
      await expectRefusedBeforeZoom(await connectUrl(server, { userId: uniqueUser('elsewhere'), returnTo }));
    }
  });

  it('accepts a valid token and sends only the browser to Zoom (no Recall call yet)', async () => {
    const before = recallRequestCount();
    const browser = new TestBrowser();
    const flow = await runConnectFlow(
      server,
      browser,
      await connectUrl(server, { userId: uniqueUser('control') }),
      uniqueIdentity('control'),
    );
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
    // One create, no list or delete: a first connect has nothing to conflict with.
    expect(server.sandboxRecall.state.requests.slice(before).map((request) => request.operation)).toEqual(['create']);
  });
});
