import { describe, expect, it } from 'vitest';
import {
  bindingCookie,
  bindingCookieName,
  clearedBindingCookie,
  readCookie,
} from '../../../functions/connect/browser-binding.js';

const STATE_ID = 'f'.repeat(8) + '0123456789abcdef'.repeat(3) + 'e'.repeat(8);

describe('readCookie', () => {
  it('finds the named cookie among several', () => {
    const cookies = ['theme=dark', 'zc_abc=nonce-1', 'session=s3ss10n'];

    expect(readCookie(cookies, 'zc_abc')).toBe('nonce-1');
    expect(readCookie(cookies, 'theme')).toBe('dark');
    expect(readCookie(cookies, 'session')).toBe('s3ss10n');
  });

  it('keeps "=" characters inside the value', () => {
    expect(readCookie(['token=a=b==', 'other=x'], 'token')).toBe('a=b==');
  });

  it('returns undefined for a missing cookie', () => {
    expect(readCookie(['theme=dark'], 'zc_abc')).toBeUndefined();
  });

  it('returns undefined when the request has no cookies at all', () => {
    expect(readCookie(undefined, 'zc_abc')).toBeUndefined();
    expect(readCookie([], 'zc_abc')).toBeUndefined();
  });

  it('matches the whole name, not a prefix or suffix of it', () => {
    const cookies = ['zc_abcd=longer', 'xzc_abc=prefixed'];

    expect(readCookie(cookies, 'zc_abc')).toBeUndefined();
    expect(readCookie(cookies, 'zc_abcd')).toBe('longer');
  });

  it('tolerates whitespace around the name and value', () => {
    expect(readCookie([' zc_abc = nonce-1 '], 'zc_abc')).toBe('nonce-1');
  });

  it('ignores entries without a name', () => {
    expect(readCookie(['=orphan', 'noequals', 'zc_abc=ok'], 'zc_abc')).toBe('ok');
    expect(readCookie(['=orphan'], '')).toBeUndefined();
  });

  it('returns an empty value as an empty string, distinct from missing', () => {
    expect(readCookie(['zc_abc='], 'zc_abc')).toBe('');
  });
});

describe('binding cookies', () => {
  it('derives the cookie name from the state id, so two attempts do not collide', () => {
    const other = '1'.repeat(64);

    expect(bindingCookieName(STATE_ID)).toMatch(/^zc_[0-9a-f]{16}$/);
    expect(bindingCookieName(STATE_ID)).not.toBe(bindingCookieName(other));
  });

  it('builds a cookie readCookie can read back', () => {
    const setCookie = bindingCookie(STATE_ID, 'nonce-value', '/zoom/callback', 600);
    const pair = setCookie.split(';')[0] ?? '';

    expect(readCookie([pair], bindingCookieName(STATE_ID))).toBe('nonce-value');
    expect(setCookie).toContain('Max-Age=600');
    expect(setCookie).toContain('Path=/zoom/callback');
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('Secure');
    expect(setCookie).toContain('SameSite=Lax');
  });

  it('clears the same cookie with Max-Age=0 on the same path', () => {
    const cleared = clearedBindingCookie(STATE_ID, '/zoom/callback');

    expect(cleared.startsWith(`${bindingCookieName(STATE_ID)}=;`)).toBe(true);
    expect(cleared).toContain('Max-Age=0');
    expect(cleared).toContain('Path=/zoom/callback');
  });
});
