import { generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import {
  MAX_ATTEMPT_CLAIM_BYTES,
  MAX_RETURN_TO_LENGTH,
  MAX_USER_ID_LENGTH,
  signConnectToken,
  verifyConnectToken,
} from '../../../functions/connect/connect-token.js';
import { sha256Hex } from '../../../functions/core/crypto.js';
import { InvalidConnectTokenError, RequestError } from '../../../functions/core/errors.js';
import { rejectionOf } from '../../helpers/rejection.js';

const KEY = 'current-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz';
const PREVIOUS_KEY = 'previous-signing-key-0123456789-abcdefghijklmnopqrstuvwxy';
const OTHER_KEY = 'someone-elses-signing-key-0123456789-abcdefghijklmnopqrstu';
const ALLOWLIST = ['https://app.example/settings', 'http://127.0.0.1:8080/'];
const RETURN_TO = 'https://app.example/settings/zoom?tab=integrations';
const encoder = new TextEncoder();
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Runs a verification expected to fail and hands back the error for assertions. */
async function refusal(jwt: string, keys: readonly string[] = [KEY], allowlist = ALLOWLIST) {
  const refused = await rejectionOf(verifyConnectToken(jwt, keys, allowlist), InvalidConnectTokenError);
  expect(refused).toBeInstanceOf(RequestError);
  expect(refused.statusCode).toBe(400);
  // No part of the token (header, payload or signature) and no claim value may leak into the message.
  for (const part of jwt.split('.').filter((segment) => segment.length > 3)) {
    expect(refused.message).not.toContain(part);
  }
  expect(refused.message).not.toContain(RETURN_TO);
  return refused;
}

function hs256(claims: Record<string, unknown>) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('connect token', () => {
  it('round-trips the user id and return URL through sign and verify', async () => {
    // Prepare
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, KEY);

    // Act
    const token = await verifyConnectToken(jwt, [KEY], ALLOWLIST);

    // Assess
    expect(token).toEqual({ userId: 'user-42', returnTo: RETURN_TO, linkId: sha256Hex(jwt), expiresAt: expect.any(Number) });
  });

  it('signs with HS256 over the UTF-8 bytes of the key, with sub, return_to and exp claims', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, KEY, 120);
    const [header, payload] = jwt.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));

    expect(header.alg).toBe('HS256');
    expect(payload.sub).toBe('user-42');
    expect(payload.return_to).toBe(RETURN_TO);
    expect(payload.exp - payload.iat).toBe(120);
  });

  it('accepts a token minted by another HS256 implementation with the same key', async () => {
    const jwt = await hs256({ return_to: RETURN_TO })
      .setSubject('user-7')
      .setExpirationTime(nowSeconds() + 60)
      .sign(encoder.encode(KEY));

    await expect(verifyConnectToken(jwt, [KEY], ALLOWLIST)).resolves.toMatchObject({ userId: 'user-7', returnTo: RETURN_TO });
  });

  it('refuses an expired token with problem "expired"', async () => {
    const jwt = await hs256({ return_to: RETURN_TO })
      .setSubject('user-42')
      .setIssuedAt(nowSeconds() - 700)
      .setExpirationTime(nowSeconds() - 100)
      .sign(encoder.encode(KEY));

    const error = await refusal(jwt);

    expect(error.problem).toBe('expired');
    expect(error.message).toBe('This connect link has expired.');
  });

  it('refuses a token signed with another key with problem "bad_signature"', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, OTHER_KEY);

    const error = await refusal(jwt, [KEY, PREVIOUS_KEY]);

    expect(error.problem).toBe('bad_signature');
  });

  it('refuses a token whose signature was tampered with', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, KEY);
    const [header, , signature] = jwt.split('.');
    const forged = `${header}.${base64url({ sub: 'admin', return_to: RETURN_TO, exp: nowSeconds() + 60 })}.${signature}`;

    const error = await refusal(forged);

    expect(error.problem).toBe('bad_signature');
  });

  it('refuses a token without sub', async () => {
    const jwt = await hs256({ return_to: RETURN_TO }).setExpirationTime(nowSeconds() + 60).sign(encoder.encode(KEY));

    const error = await refusal(jwt);

    expect(error.problem).toBe('missing_claims');
  });

  it('refuses a token with an empty sub', async () => {
    const jwt = await hs256({ return_to: RETURN_TO }).setSubject('').setExpirationTime(nowSeconds() + 60).sign(encoder.encode(KEY));

    const error = await refusal(jwt);

    expect(error.problem).toBe('missing_claims');
  });

  it('refuses a token without exp', async () => {
    const jwt = await hs256({ return_to: RETURN_TO }).setSubject('user-42').sign(encoder.encode(KEY));

    const error = await refusal(jwt);

    expect(error.problem).toBe('missing_claims');
  });

  it('refuses a token without return_to', async () => {
    const jwt = await hs256({}).setSubject('user-42').setExpirationTime(nowSeconds() + 60).sign(encoder.encode(KEY));

    const error = await refusal(jwt);

    expect(error.problem).toBe('missing_claims');
  });

  it('refuses an unsigned token (alg "none")', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
      sub: 'user-42',
      return_to: RETURN_TO,
      exp: nowSeconds() + 60,
    })}.`;

    const error = await refusal(unsigned);

    expect(error.problem).not.toBe('expired');
  });

  it('refuses an HS512 token even when it is signed with the right key', async () => {
    const jwt = await new SignJWT({ return_to: RETURN_TO })
      .setProtectedHeader({ alg: 'HS512' })
      .setSubject('user-42')
      .setExpirationTime(nowSeconds() + 60)
      .sign(encoder.encode(KEY));

    await refusal(jwt);
  });

  it('refuses an RS256 token', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const jwt = await new SignJWT({ return_to: RETURN_TO })
      .setProtectedHeader({ alg: 'RS256' })
      .setSubject('user-42')
      .setExpirationTime(nowSeconds() + 60)
      .sign(privateKey);

    await refusal(jwt);
  });

  it('refuses a return_to that is not on the allow-list', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: 'http://127.0.0.1:8080.evil.example/' }, KEY);

    const error = await refusal(jwt);

    expect(error.problem).toBe('return_to_not_allowed');
    expect(error.message).not.toContain('evil.example');
  });

  it('refuses a javascript: return_to', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: 'javascript:alert(document.cookie)' }, KEY);

    const error = await refusal(jwt);

    expect(error.problem).toBe('return_to_not_allowed');
  });

  it('verifies a token signed with the second key of the list during a rotation', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, PREVIOUS_KEY);

    await expect(verifyConnectToken(jwt, [KEY, PREVIOUS_KEY], ALLOWLIST)).resolves.toMatchObject({
      userId: 'user-42',
      returnTo: RETURN_TO,
    });
  });

  it('reports an expired token signed with the rotated-out key as expired', async () => {
    const jwt = await hs256({ return_to: RETURN_TO })
      .setSubject('user-42')
      .setExpirationTime(nowSeconds() - 100)
      .sign(encoder.encode(PREVIOUS_KEY));

    const error = await refusal(jwt, [KEY, PREVIOUS_KEY]);

    expect(error.problem).toBe('expired');
  });

  it.each(['garbage', 'a.b.c', '', 'eyJhbGciOiJIUzI1NiJ9', 'x.y'])('refuses %j as malformed', async (garbage) => {
    const error = await refusal(garbage);

    expect(error.problem).toBe('malformed');
    expect(error.message).toBe('This connect link is not valid.');
  });

  it('returns the normalized return URL', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: 'HTTP://127.0.0.1:8080/a/./b' }, KEY);

    await expect(verifyConnectToken(jwt, [KEY], ALLOWLIST)).resolves.toMatchObject({
      userId: 'user-42',
      returnTo: 'http://127.0.0.1:8080/a/b',
    });
  });
});

describe('connect token: what the attempt cookie can carry', () => {
  const BASE = 'https://app.example/settings/zoom?q=';
  const returnToOf = (length: number, fill = 'a') => `${BASE}${fill.repeat(length - BASE.length)}`;

  it('accepts a return URL of exactly MAX_RETURN_TO_LENGTH characters with the longest user id', async () => {
    const jwt = await signConnectToken({ userId: 'u'.repeat(MAX_USER_ID_LENGTH), returnTo: returnToOf(MAX_RETURN_TO_LENGTH) }, KEY);

    await expect(verifyConnectToken(jwt, [KEY], ALLOWLIST)).resolves.toMatchObject({ returnTo: returnToOf(MAX_RETURN_TO_LENGTH) });
  });

  it('refuses a return URL one character longer with problem "too_long"', async () => {
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: returnToOf(MAX_RETURN_TO_LENGTH + 1) }, KEY);

    const error = await refusal(jwt);

    expect(error.problem).toBe('too_long');
    expect(error.message).toBe('This connect link is not valid.');
  });

  it('measures the URL the user is sent back to, after normalization', async () => {
    // Each "é" becomes %C3%A9 in the normalized URL: 400 characters as signed, 2,400 as it would be stored.
    const jwt = await signConnectToken({ userId: 'user-42', returnTo: `${BASE}${'é'.repeat(400)}` }, KEY);

    expect((await refusal(jwt)).problem).toBe('too_long');
  });

  it('refuses claims whose escaping would outgrow the cookie, though each is within its own length', async () => {
    // A backslash stays raw in a query and takes two bytes once encoded; so does a quote in the user id.
    const jwt = await signConnectToken({ userId: '"'.repeat(MAX_USER_ID_LENGTH), returnTo: returnToOf(MAX_RETURN_TO_LENGTH, '\\') }, KEY);
    const fits = await signConnectToken(
      { userId: '"'.repeat(MAX_USER_ID_LENGTH / 2), returnTo: returnToOf((MAX_RETURN_TO_LENGTH + BASE.length) / 2, '\\') },
      KEY,
    );

    expect((await refusal(jwt)).problem).toBe('too_long');
    await expect(verifyConnectToken(fits, [KEY], ALLOWLIST)).resolves.toMatchObject({ userId: '"'.repeat(MAX_USER_ID_LENGTH / 2) });
    expect(MAX_ATTEMPT_CLAIM_BYTES).toBe(MAX_USER_ID_LENGTH + MAX_RETURN_TO_LENGTH);
  });
});

describe('connect token: key handling', () => {
  it('imports each HS256 key once, however many tokens it signs and verifies', async () => {
    const key = `a-key-used-only-by-this-test-${Date.now()}-0123456789abcdef`;
    const importKey = vi.spyOn(crypto.subtle, 'importKey');
    try {
      for (let i = 0; i < 5; i++) {
        const jwt = await signConnectToken({ userId: `user-${i}`, returnTo: RETURN_TO }, key);
        await verifyConnectToken(jwt, [key], ALLOWLIST);
      }

      expect(importKey).toHaveBeenCalledTimes(1);
      expect(importKey.mock.calls[0]?.[0]).toBe('raw');
      expect(importKey.mock.calls[0]?.[2]).toEqual({ name: 'HMAC', hash: 'SHA-256' });
    } finally {
      importKey.mockRestore();
    }
  });

  it('keeps the key as the UTF-8 bytes of the string: tokens verify with any HS256 implementation keyed so', async () => {
    const key = 'ключ-подписи-с-кириллицей-0123456789abcdef';
    const mintedElsewhere = await hs256({ return_to: RETURN_TO })
      .setSubject('user-1')
      .setExpirationTime(nowSeconds() + 60)
      .sign(encoder.encode(key));
    const ours = await signConnectToken({ userId: 'user-1', returnTo: RETURN_TO }, key);

    await expect(verifyConnectToken(mintedElsewhere, [key], ALLOWLIST)).resolves.toMatchObject({ userId: 'user-1' });
    expect((await jwtVerify(ours, encoder.encode(key))).payload.sub).toBe('user-1');
  });

  describe('lifetime: a link is a bearer credential', () => {
    const claims = { sub: 'user-42', return_to: RETURN_TO };
    const sign = (extra: Record<string, unknown>) => hs256({ ...claims, ...extra }).sign(encoder.encode(KEY));

    it('refuses a token whose exp is further ahead than the maximum (the year 2100), with the invalid-link page', async () => {
      const refused = await refusal(await sign({ exp: Date.parse('2100-01-01T00:00:00Z') / 1000 }));

      expect(refused.problem).toBe('lives_too_long');
      expect(refused.message).toBe('This connect link is not valid.');
    });

    it('accepts exp exactly the maximum ahead, and refuses one second more', async () => {
      const now = Date.now();
      const at = Math.floor(now / 1000);

      await expect(verifyConnectToken(await sign({ exp: at + 300 }), [KEY], ALLOWLIST, 300, now)).resolves.toMatchObject({ userId: 'user-42' });
      await expect(verifyConnectToken(await sign({ exp: at + 301 }), [KEY], ALLOWLIST, 300, now)).rejects.toMatchObject({
        problem: 'lives_too_long',
      });
    });

    it('accepts a token without iat (products mint sub, return_to and exp only)', async () => {
      await expect(verifyConnectToken(await sign({ exp: nowSeconds() + 60 }), [KEY], ALLOWLIST)).resolves.toMatchObject({
        userId: 'user-42',
      });
    });

    it('refuses an iat more than 60 s in the future, and accepts one within the skew', async () => {
      const at = nowSeconds();

      expect((await refusal(await sign({ iat: at + 120, exp: at + 300 }))).problem).toBe('lives_too_long');
      await expect(verifyConnectToken(await sign({ iat: at + 30, exp: at + 300 }), [KEY], ALLOWLIST)).resolves.toMatchObject({
        userId: 'user-42',
      });
    });

    it('refuses exp - iat beyond the maximum even when little of it is left', async () => {
      const at = nowSeconds();

      expect((await refusal(await sign({ iat: at - 7200, exp: at + 60 }))).problem).toBe('lives_too_long');
    });

    it('names the link by the SHA-256 of the JWT, never the JWT itself', async () => {
      const jwt = await sign({ exp: nowSeconds() + 60 });

      const token = await verifyConnectToken(jwt, [KEY], ALLOWLIST);

      expect(token.linkId).toBe(sha256Hex(jwt));
      expect(token.linkId).not.toContain(jwt.split('.')[2]);
    });
  });
});
