import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AuthorizationRequest,
  type AuthorizationSettings,
  beginZoomAuthorization,
  COOKIE_GRACE_SECONDS,
} from '../../../functions/connect/authorization.js';
import { bindingCookieName, readCookie } from '../../../functions/connect/browser-binding.js';
import { type OAuthState, openOAuthState } from '../../../functions/connect/oauth-state.js';

const STATE_KEY = 'state-cookie-key-for-the-authorization-tests-0123456789';
const SETTINGS: AuthorizationSettings = {
  zoomAuthorizeUrl: 'https://zoom.us/oauth/authorize',
  zoomRedirectUri: 'https://connect.example.com/prod/zoom/callback/',
  zoomClientId: 'zoomClientIdQwErTy',
  stateTtlSeconds: 600,
  stateKey: STATE_KEY,
};
const REQUEST: AuthorizationRequest = {
  userId: 'user-42',
  returnTo: 'https://app.example.com/settings/zoom',
  correlationId: 'corr-1',
  reauthCount: 0,
};
const NOW_MS = 1_796_061_600_789;

const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');
const s256 = (value: string) => createHash('sha256').update(value, 'ascii').digest('base64url');


function parseCookie(setCookie: string) {
  const [pair = '', ...attributes] = setCookie.split(';').map((part) => part.trim());
  const eq = pair.indexOf('=');
  return {
    name: pair.slice(0, eq),
    value: pair.slice(eq + 1),
    attributes: attributes.map((attribute) => attribute.toLowerCase()),
    attribute: (name: string) =>
      attributes
        .find((attribute) => attribute.toLowerCase().startsWith(`${name.toLowerCase()}=`))
        ?.slice(name.length + 1),
  };
}

/** Starts an attempt and opens what its cookie carries, as the callback would. */
async function begin(settings = SETTINGS, request = REQUEST) {
  const redirect = await beginZoomAuthorization(request, settings, NOW_MS);
  const url = new URL(redirect.location);
  const cookie = parseCookie(redirect.cookie);
  const stateId = sha256Hex(url.searchParams.get('state') ?? '');
  const opened = await openOAuthState(cookie.value, stateId, [settings.stateKey]);
  expect(opened.status).toBe('opened');
  const saved = { stateId, state: (opened as { state: OAuthState }).state };
  return { redirect, saved, url, cookie };
}

describe('beginZoomAuthorization', () => {
  it('sends the user to the Zoom authorize endpoint with exactly the six OAuth parameters', async () => {
    const { url } = await begin();

    expect(`${url.origin}${url.pathname}`).toBe('https://zoom.us/oauth/authorize');
    expect([...url.searchParams.keys()].sort()).toEqual(
      ['client_id', 'code_challenge', 'code_challenge_method', 'redirect_uri', 'response_type', 'state'].sort(),
    );
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('client_id')).toBe(SETTINGS.zoomClientId);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('carries the redirect URI byte-identical after URL decoding, trailing slash preserved', async () => {
    const { url } = await begin();

    expect(url.searchParams.get('redirect_uri')).toBe('https://connect.example.com/prod/zoom/callback/');
  });

  it('keeps a redirect URI without a trailing slash without one', async () => {
    const { url } = await begin({ ...SETTINGS, zoomRedirectUri: 'https://connect.example.com/zoom/callback' });

    expect(url.searchParams.get('redirect_uri')).toBe('https://connect.example.com/zoom/callback');
  });

  it('derives code_challenge as base64url(sha256(code_verifier)) of the saved verifier', async () => {
    const { url, saved } = await begin();

    expect(url.searchParams.get('code_challenge')).toBe(s256(saved.state.codeVerifier));
    expect(url.searchParams.get('code_challenge')).not.toBe(saved.state.codeVerifier);
  });

  it('uses a verifier RFC 7636 allows: 43 to 128 unreserved characters', async () => {
    const { saved } = await begin();

    expect(saved.state.codeVerifier).toMatch(/^[A-Za-z0-9\-._~]{43,128}$/);
  });

  it('binds the sealed attempt to the SHA-256 of its state, never carrying the state itself', async () => {
    const { url, saved } = await begin();
    const state = url.searchParams.get('state') ?? '';

    expect(state.length).toBeGreaterThanOrEqual(43);
    expect(saved.state.stateId).toBe(sha256Hex(state));
    expect(JSON.stringify(saved)).not.toContain(state);
  });

  it('seals the attempt: nothing in the cookie can be read, and another key cannot open it', async () => {
    const { cookie, saved } = await begin();

    const readable = `${cookie.value} ${Buffer.from(cookie.value.replaceAll('.', ''), 'base64url').toString('latin1')}`;
    for (const value of [saved.state.userId, saved.state.returnTo, saved.state.codeVerifier, saved.state.correlationId]) {
      expect(readable).not.toContain(value);
    }
    expect(await openOAuthState(cookie.value, saved.stateId, ['another-key-that-is-long-enough-0123456789abcdef'])).toEqual({
      status: 'unreadable',
    });
  });

  it('seals the user, return URL, correlation id and re-authorization count', async () => {
    const { saved } = await begin(SETTINGS, { ...REQUEST, reauthCount: 1 });

    expect(saved.state).toMatchObject({
      userId: 'user-42',
      returnTo: 'https://app.example.com/settings/zoom',
      correlationId: 'corr-1',
      reauthCount: 1,
    });
  });

  it('expires the attempt at now + TTL, in epoch seconds', async () => {
    const { saved } = await begin();

    expect(saved.state.expiresAt).toBe(Math.floor(NOW_MS / 1000) + 600);
  });

  it('sets an HttpOnly, Secure, SameSite=Lax cookie for the TTL plus at most 60 s, on the path authorize and the callback share', async () => {
    const { cookie } = await begin();

    expect(cookie.attributes).toContain('httponly');
    expect(cookie.attributes).toContain('secure');
    expect(cookie.attribute('SameSite')).toBe('Lax');
    expect(cookie.attribute('Max-Age')).toBe(String(600 + COOKIE_GRACE_SECONDS));
    expect(COOKIE_GRACE_SECONDS).toBeLessThanOrEqual(60);
    // The redirect URI's parent: /prod/zoom/authorize is under it too.
    expect(cookie.attribute('Path')).toBe('/prod/zoom');
    expect(cookie.attribute('Domain')).toBeUndefined();
  });

  it('names the cookie so the callback can find it from the state', async () => {
    const { cookie, saved } = await begin();

    expect(cookie.name).toBe(bindingCookieName(saved.stateId));
    expect(readCookie([`${cookie.name}=${cookie.value}`], bindingCookieName(saved.stateId))).toBe(cookie.value);
  });

  it('gives two attempts different states, verifiers, cookie names and cookie values', async () => {
    const first = await begin();
    const second = await begin();

    expect(second.url.searchParams.get('state')).not.toBe(first.url.searchParams.get('state'));
    expect(second.saved.state.codeVerifier).not.toBe(first.saved.state.codeVerifier);
    expect(second.cookie.name).not.toBe(first.cookie.name);
    expect(second.cookie.value).not.toBe(first.cookie.value);
  });

  it('works with a local authorize endpoint on another origin', async () => {
    const { url } = await begin({ ...SETTINGS, zoomAuthorizeUrl: 'http://localhost:3000/sandbox/zoom/authorize' });

    expect(`${url.origin}${url.pathname}`).toBe('http://localhost:3000/sandbox/zoom/authorize');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
  });

  it('seals with the key it is given: another attempt sealed with another key opens only with that key', async () => {
    const other = 'a-rotated-state-cookie-key-0123456789abcdefghijkl';
    const { cookie, saved } = await begin({ ...SETTINGS, stateKey: other });

    expect((await openOAuthState(cookie.value, saved.stateId, [STATE_KEY])).status).toBe('unreadable');
    expect((await openOAuthState(cookie.value, saved.stateId, [STATE_KEY, other])).status).toBe('opened');
  });
});
