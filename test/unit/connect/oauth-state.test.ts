import { hkdfSync } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { bindingCookie } from '../../../functions/connect/browser-binding.js';
import { MAX_RETURN_TO_LENGTH, MAX_USER_ID_LENGTH } from '../../../functions/connect/connect-token.js';
import { sha256Hex } from '../../../functions/core/crypto.js';
import {
  MAX_SEALED_STATE_LENGTH,
  type OAuthState,
  openOAuthState,
  sealOAuthState,
  STATE_COOKIE_KEY_INFO,
  stateCookieKey,
} from '../../../functions/connect/oauth-state.js';

const KEY = 'state-cookie-key-current-0123456789abcdefghijklmnop';
const PREVIOUS_KEY = 'state-cookie-key-previous-0123456789abcdefghijklmno';
const STATE = 'the-state-in-the-zoom-url-0123456789abcdefghijk';
const STATE_ID = sha256Hex(STATE);
const ATTEMPT: OAuthState = {
  stateId: STATE_ID,
  userId: 'user-42',
  returnTo: 'https://app.example.com/settings/?tab=zoom',
  codeVerifier: 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  expiresAt: 1_796_062_200,
  startedAtMs: 1_796_061_600_123,
  reauthCount: 0,
  correlationId: '7e1f0c1e-5b6e-4c2d-9a8f-1e2d3c4b5a69',
};
const encoder = new TextEncoder();

/** The AES key as the design states it, derived here independently of the module. */
const derivedKey = (secret: string) => new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), STATE_COOKIE_KEY_INFO, 32));

/** Seals any payload the way the module does, with a key derived from `secret`: for payloads it would never make. */
const sealRaw = (payload: unknown, secret = KEY, header: { alg: string; enc: string } = { alg: 'dir', enc: 'A256GCM' }) =>
  new CompactEncrypt(encoder.encode(typeof payload === 'string' ? payload : JSON.stringify(payload)))
    .setProtectedHeader(header)
    .encrypt(derivedKey(secret));

describe('sealOAuthState / openOAuthState', () => {
  it('round-trips an attempt', async () => {
    const sealed = await sealOAuthState(ATTEMPT, KEY);

    expect(await openOAuthState(sealed, STATE_ID, [KEY])).toEqual({ status: 'opened', state: ATTEMPT });
  });

  it('is a compact JWE, alg dir, enc A256GCM, keyed with HKDF-SHA256(secret, info "recall-zoom-connect/state-cookie/v1", 32 bytes)', async () => {
    const sealed = await sealOAuthState(ATTEMPT, KEY);

    const { plaintext, protectedHeader } = await compactDecrypt(sealed, derivedKey(KEY));

    expect(protectedHeader).toEqual({ alg: 'dir', enc: 'A256GCM' });
    expect(sealed.split('.')[1]).toBe('');
    expect(JSON.parse(new TextDecoder().decode(plaintext))).toEqual({
      v: 1,
      s: STATE_ID,
      u: ATTEMPT.userId,
      r: ATTEMPT.returnTo,
      p: ATTEMPT.codeVerifier,
      x: ATTEMPT.expiresAt,
      n: ATTEMPT.reauthCount,
      c: ATTEMPT.correlationId,
      t: ATTEMPT.startedAtMs,
    });
  });

  it('keeps everything it carries secret: nothing can be read off the sealed value', async () => {
    const sealed = await sealOAuthState(ATTEMPT, KEY);
    const decoded = sealed
      .split('.')
      .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
      .join(' ');

    for (const value of [STATE_ID, ATTEMPT.userId, ATTEMPT.returnTo, ATTEMPT.codeVerifier, ATTEMPT.correlationId]) {
      expect(sealed).not.toContain(value);
      expect(decoded).not.toContain(value);
    }
  });

  it('seals the same attempt differently each time (a fresh IV)', async () => {
    expect(await sealOAuthState(ATTEMPT, KEY)).not.toBe(await sealOAuthState(ATTEMPT, KEY));
  });

  it('opens with the previous key while a rotation leaves one, current key first', async () => {
    const sealedBefore = await sealOAuthState(ATTEMPT, PREVIOUS_KEY);

    expect(await openOAuthState(sealedBefore, STATE_ID, [KEY, PREVIOUS_KEY])).toMatchObject({ status: 'opened' });
    expect(await openOAuthState(sealedBefore, STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
  });

  it('refuses an attempt made for another state, though genuine', async () => {
    const sealed = await sealOAuthState(ATTEMPT, KEY);

    expect(await openOAuthState(sealed, sha256Hex('another-state'), [KEY])).toEqual({ status: 'other_state' });
  });

  it('refuses an attempt sealed with a key the service does not have', async () => {
    const sealed = await sealOAuthState(ATTEMPT, 'an-attackers-own-state-key-0123456789abcdefg');

    expect(await openOAuthState(sealed, STATE_ID, [KEY, PREVIOUS_KEY])).toEqual({ status: 'unreadable' });
  });

  it('refuses any change to any part of the sealed value', async () => {
    const sealed = await sealOAuthState(ATTEMPT, KEY);
    const parts = sealed.split('.');
    const flip = (text: string, at: number) => `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;

    for (const index of [0, 2, 3, 4]) {
      const part = parts[index] ?? '';
      for (const at of [0, Math.floor(part.length / 2), part.length - 2]) {
        const tampered = parts.map((p, i) => (i === index ? flip(p, at) : p)).join('.');
        expect(await openOAuthState(tampered, STATE_ID, [KEY]), `part ${index} at ${at}`).not.toMatchObject({ status: 'opened' });
      }
    }
    expect(await openOAuthState(parts.slice(0, 4).join('.'), STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
    expect(await openOAuthState(`${sealed}x`, STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
  });

  it.each([
    ['not a JWE', 'not-a-jwe'],
    ['empty', ''],
    ['a JWS', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln'],
    ['longer than a browser keeps a cookie', 'a'.repeat(MAX_SEALED_STATE_LENGTH + 1)],
  ])('refuses a value that is %s', async (_case, value) => {
    expect(await openOAuthState(value, STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
  });

  it('refuses other algorithms, even with the right key material', async () => {
    const payload = { v: 1, s: STATE_ID, u: 'u', r: 'https://app.example.com/', p: ATTEMPT.codeVerifier, x: 2e9, n: 0, c: 'c', t: 2e12 };
    const cbc = await new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'dir', enc: 'A128CBC-HS256' })
      .encrypt(derivedKey(KEY));

    expect(await openOAuthState(cbc, STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
    expect(await openOAuthState(await sealRaw(payload), STATE_ID, [KEY])).toMatchObject({ status: 'opened' });
  });

  it.each([
    ['another version', { v: 2 }],
    ['a state id that is not a SHA-256', { s: 'abc' }],
    ['an empty user id', { u: '' }],
    ['a verifier RFC 7636 would refuse', { p: 'short' }],
    ['an expiry that is not a whole number', { x: 1.5 }],
    ['a negative re-authorization count', { n: -1 }],
    ['a field it does not know', { extra: true }],
    ['a missing field', { c: undefined }],
  ])('refuses a genuine seal of a payload with %s', async (_case, change) => {
    const payload = { v: 1, s: STATE_ID, u: 'u', r: 'https://app.example.com/', p: ATTEMPT.codeVerifier, x: 2e9, n: 0, c: 'c', t: 2e12, ...change };

    expect(await openOAuthState(await sealRaw(payload), STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
  });

  it('refuses a genuine seal of something that is not JSON', async () => {
    expect(await openOAuthState(await sealRaw('not json'), STATE_ID, [KEY])).toEqual({ status: 'unreadable' });
  });

  it('opens nothing without keys', async () => {
    expect(await openOAuthState(await sealOAuthState(ATTEMPT, KEY), STATE_ID, [])).toEqual({ status: 'unreadable' });
  });
});

describe('the sealed attempt in its cookie', () => {
  const cookieOf = async (attempt: OAuthState) => {
    const setCookie = bindingCookie(attempt.stateId, await sealOAuthState(attempt, KEY), '/prod/zoom/callback/', 600);
    return { setCookie, pair: setCookie.split(';')[0] ?? '' };
  };

  it('stays well under the 4 KB browsers keep, with the longest user id and return URL a connect token may carry', async () => {
    const base = 'https://app.example.com/settings/integrations?return=';
    const { pair, setCookie } = await cookieOf({
      ...ATTEMPT,
      userId: 'u'.repeat(MAX_USER_ID_LENGTH),
      returnTo: `${base}${'x'.repeat(MAX_RETURN_TO_LENGTH - base.length)}`,
      reauthCount: 1,
    });

    expect(Buffer.byteLength(pair)).toBeLessThan(3_500);
    expect(Buffer.byteLength(setCookie)).toBeLessThan(3_600);
  });

  it('stays under it for the worst escaping the claim budget allows (quotes in the user id, backslashes in the URL)', async () => {
    const base = 'https://app.example.com/settings/?q=';
    // Each quote and backslash takes two bytes once encoded: the budget counts them so.
    const { pair } = await cookieOf({
      ...ATTEMPT,
      userId: '"'.repeat(MAX_USER_ID_LENGTH / 2),
      returnTo: `${base}${'\\'.repeat((MAX_RETURN_TO_LENGTH - base.length) / 2)}`,
    });

    expect(Buffer.byteLength(pair)).toBeLessThan(3_500);
  });

  it('is a valid cookie value: base64url and dots only', async () => {
    const { pair } = await cookieOf(ATTEMPT);

    expect(pair.slice(pair.indexOf('=') + 1)).toMatch(/^[A-Za-z0-9_.-]+$/);
  });
});

describe('stateCookieKey', () => {
  it('derives and imports a key once per secret: a warm invocation reuses it', async () => {
    expect(stateCookieKey(KEY)).toBe(stateCookieKey(KEY));
    expect(stateCookieKey(KEY)).not.toBe(stateCookieKey(PREVIOUS_KEY));
    const key = await stateCookieKey(KEY);
    expect(key.algorithm).toMatchObject({ name: 'AES-GCM', length: 256 });
    expect(key.extractable).toBe(false);
    expect([...key.usages].sort()).toEqual(['decrypt', 'encrypt']);
  });

  it('keeps only a handful of keys, however many secrets it is given', async () => {
    const first = stateCookieKey('secret-0-0123456789abcdefghijklmnopqrstuv');
    for (let i = 1; i <= 20; i++) await stateCookieKey(`secret-${i}-0123456789abcdefghijklmnopqrstuv`);

    // The oldest was dropped: asking again derives it anew (a new promise), and it still works.
    const again = stateCookieKey('secret-0-0123456789abcdefghijklmnopqrstuv');
    expect(again).not.toBe(first);
    const sealed = await sealOAuthState(ATTEMPT, 'secret-0-0123456789abcdefghijklmnopqrstuv');
    expect((await openOAuthState(sealed, STATE_ID, ['secret-0-0123456789abcdefghijklmnopqrstuv'])).status).toBe('opened');
  });
});
