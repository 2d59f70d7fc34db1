import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AuthorizationRequest,
  type AuthorizationSettings,
  beginZoomAuthorization,
} from '../../../functions/shared/authorization.js';
import { bindingCookieName, readCookie } from '../../../functions/shared/browser-binding.js';
import type { OAuthState } from '../../../functions/shared/oauth-state-repository.js';

const SETTINGS: AuthorizationSettings = {
  zoomAuthorizeUrl: 'https://zoom.us/oauth/authorize',
  zoomRedirectUri: 'https://connect.example.com/prod/zoom/callback/',
  zoomClientId: 'zoomClientIdQwErTy',
  stateTtlSeconds: 600,
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

/** A fake state repository that keeps what it is given. */
function stateSink() {
  const saved: { stateId: string; state: OAuthState }[] = [];
  return {
    saved,
    save: async (stateId: string, state: OAuthState) => {
      saved.push({ stateId, state });
    },
  };
}

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

async function begin(settings = SETTINGS, request = REQUEST) {
  const states = stateSink();
  const redirect = await beginZoomAuthorization(request, settings, states, NOW_MS);
  expect(states.saved).toHaveLength(1);
  const saved = states.saved[0] as { stateId: string; state: OAuthState };
  return { redirect, saved, url: new URL(redirect.location), cookie: parseCookie(redirect.cookie) };
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

  it('saves the state under its SHA-256, never the state itself', async () => {
    const { url, saved } = await begin();
    const state = url.searchParams.get('state') ?? '';

    expect(state.length).toBeGreaterThanOrEqual(43);
    expect(saved.stateId).toBe(sha256Hex(state));
    expect(saved.stateId).not.toBe(state);
    expect(JSON.stringify(saved)).not.toContain(state);
  });

  it('saves the SHA-256 of the cookie value as the binding hash', async () => {
    const { saved, cookie } = await begin();

    expect(cookie.value.length).toBeGreaterThanOrEqual(43);
    expect(saved.state.bindingHash).toBe(sha256Hex(cookie.value));
    expect(JSON.stringify(saved)).not.toContain(cookie.value);
  });

  it('saves the user, return URL, correlation id and re-authorization count', async () => {
    const { saved } = await begin(SETTINGS, { ...REQUEST, reauthCount: 1 });

    expect(saved.state).toMatchObject({
      userId: 'user-42',
      returnTo: 'https://app.example.com/settings/zoom',
      correlationId: 'corr-1',
      reauthCount: 1,
    });
  });

  it('expires the state at now + TTL, in epoch seconds', async () => {
    const { saved } = await begin();

    expect(saved.state.expiresAt).toBe(Math.floor(NOW_MS / 1000) + 600);
  });

  it('sets an HttpOnly, Secure, SameSite=Lax cookie for the TTL, scoped to the redirect URI path', async () => {
    const { cookie } = await begin();

    expect(cookie.attributes).toContain('httponly');
    expect(cookie.attributes).toContain('secure');
    expect(cookie.attribute('SameSite')).toBe('Lax');
    expect(cookie.attribute('Max-Age')).toBe('600');
    expect(cookie.attribute('Path')).toBe('/prod/zoom/callback/');
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

  it('saves the state before handing out the redirect', async () => {
    const events: string[] = [];
    const states = {
      save: async () => {
        events.push('saved');
      },
    };

    await beginZoomAuthorization(REQUEST, SETTINGS, states, NOW_MS).then(() => events.push('redirect'));

    expect(events).toEqual(['saved', 'redirect']);
  });

  it('fails without a redirect when the state cannot be saved', async () => {
    const states = {
      save: async () => {
        throw new Error('ConditionalCheckFailed');
      },
    };

    await expect(beginZoomAuthorization(REQUEST, SETTINGS, states, NOW_MS)).rejects.toThrow('ConditionalCheckFailed');
  });
});
