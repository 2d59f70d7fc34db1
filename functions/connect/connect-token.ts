import { randomUUID } from 'node:crypto';
import { type CryptoKey, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { CONNECT_TOKEN_MAX_TTL } from '../core/config.js';
import { sha256Hex } from '../core/crypto.js';
import { InvalidConnectTokenError } from '../core/errors.js';
import { allowedReturnUrl } from '../core/return-url.js';

/**
 * A connect token is what the product backend mints for a logged-in user: a JWT (HS256, keyed with the UTF-8
 * bytes of the signing key) with `sub` = product user id, `return_to` = where the user lands afterwards, `exp`.
 */
export interface ConnectToken {
  userId: string;
  returnTo: string;
}

/** A verified token, with what the callback needs to use it up: its id (a digest) and its expiry. */
export interface VerifiedConnectToken extends ConnectToken {
  /** SHA-256 (hex) of the JWT: names the link without carrying it. */
  linkId: string;
  /** `exp`, epoch seconds. */
  expiresAt: number;
}

/** How far ahead of this service's clock a token's `iat` may be (the product's clock may run ahead). */
export const CLOCK_SKEW_SECONDS = 60;

const encoder = new TextEncoder();
/** Longest `sub` accepted, in characters. */
export const MAX_USER_ID_LENGTH = 256;
/** Longest `return_to` accepted, in characters of the normalized URL the user is sent back to. */
export const MAX_RETURN_TO_LENGTH = 2048;
/**
 * The attempt, user id and return URL included, travels to the callback in a cookie, and browsers keep cookies of
 * up to 4096 bytes. Escaping can make a value take more room than its length says (a backslash in a query, a
 * user id in another script), so the two together may take at most as many bytes, encoded, as the longest plain
 * ASCII ones would: the sealed cookie then stays well under 4 KB (tested in oauth-state.test.ts).
 */
export const MAX_ATTEMPT_CLAIM_BYTES = MAX_USER_ID_LENGTH + MAX_RETURN_TO_LENGTH;

/** Keys rotate rarely; a handful covers a rotation in flight without letting the map grow. */
const MAX_CACHED_KEYS = 8;
const hmacKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The HS256 key for a signing key string, imported once. jose re-imports raw key bytes (and a `KeyObject`, which
 * it exports to bytes first) on every sign and verify; a `CryptoKey` it uses as it is.
 */
function hmacKey(signingKey: string): Promise<CryptoKey> {
  const cached = hmacKeys.get(signingKey);
  if (cached) return cached;
  const key = crypto.subtle.importKey('raw', encoder.encode(signingKey), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
    'verify',
  ]);
  if (hmacKeys.size >= MAX_CACHED_KEYS) hmacKeys.delete(hmacKeys.keys().next().value as string);
  hmacKeys.set(signingKey, key);
  key.catch(() => hmacKeys.delete(signingKey));
  return key;
}

const encodedBytes = (value: string): number => Buffer.byteLength(JSON.stringify(value), 'utf8') - 2;

/**
 * Mints a connect token. Used by `npm run connect-link`, the product backend client and tests.
 * @param token - user and return URL
 * @param signingKey - the shared HS256 key
 * @param ttlSeconds - lifetime; keep it short, the link is a bearer credential for starting a flow
 */
export async function signConnectToken(token: ConnectToken, signingKey: string, ttlSeconds = 600): Promise<string> {
  return new SignJWT({ return_to: token.returnTo })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(token.userId)
    // Each link is used up by the connection it completes (by its digest): two minted in the same second for the
    // same user and return URL must still be two links.
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(await hmacKey(signingKey));
}

/**
 * Verifies signature, expiry and claims, checks `return_to` against the allow-list, the claims' length (see
 * `MAX_ATTEMPT_CLAIM_BYTES`) and the token's lifetime: a link is a bearer credential, so one that lives for long
 * (an `exp` further ahead than `maxTtlSeconds`, or an `exp - iat` longer than it) is refused like a forged one, and
 * so is one whose optional `iat` lies in the future.
 * @param signingKeys - the current key first; during a rotation, the previous one too
 * @param maxTtlSeconds - the longest a token may still have to live
 * @throws InvalidConnectTokenError with the problem found
 */
export async function verifyConnectToken(
  jwt: string,
  signingKeys: readonly string[],
  returnUrlAllowlist: readonly string[],
  maxTtlSeconds: number = CONNECT_TOKEN_MAX_TTL.default,
  nowMs: number = Date.now(),
): Promise<VerifiedConnectToken> {
  let lastError: unknown;
  for (const key of signingKeys) {
    try {
      const { payload } = await jwtVerify(jwt, await hmacKey(key), {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
        currentDate: new Date(nowMs),
      });
      const { sub, return_to: returnTo, exp, iat } = payload;
      const now = Math.floor(nowMs / 1000);
      if (typeof exp !== 'number' || exp - now > maxTtlSeconds) throw new InvalidConnectTokenError('lives_too_long');
      if (iat !== undefined && (iat > now + CLOCK_SKEW_SECONDS || exp - iat > maxTtlSeconds)) {
        throw new InvalidConnectTokenError('lives_too_long');
      }
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_USER_ID_LENGTH) {
        throw new InvalidConnectTokenError('missing_claims');
      }
      if (typeof returnTo !== 'string') throw new InvalidConnectTokenError('missing_claims');
      const allowed = allowedReturnUrl(returnTo, returnUrlAllowlist);
      if (!allowed) throw new InvalidConnectTokenError('return_to_not_allowed');
      if (allowed.href.length > MAX_RETURN_TO_LENGTH || encodedBytes(sub) + encodedBytes(allowed.href) > MAX_ATTEMPT_CLAIM_BYTES) {
        throw new InvalidConnectTokenError('too_long');
      }
      return { userId: sub, returnTo: allowed.href, linkId: sha256Hex(jwt), expiresAt: exp };
    } catch (error) {
      if (error instanceof InvalidConnectTokenError) throw error;
      lastError = error;
      // Only a signature mismatch is worth trying with the next key; anything else fails the same way again.
      if (!(error instanceof joseErrors.JWSSignatureVerificationFailed)) break;
    }
  }
  throw new InvalidConnectTokenError(problemOf(lastError), { cause: lastError });
}

function problemOf(error: unknown): InvalidConnectTokenError['problem'] {
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return 'missing_claims';
  return 'malformed';
}
