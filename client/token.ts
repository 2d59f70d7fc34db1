import { SignJWT } from 'jose';

/**
 * Connect tokens, as the service verifies them: a JWT, HS256, keyed with the UTF-8 bytes of the signing key, with
 * `sub` (the product's user id), `return_to` (where the user lands afterwards), `iat` and `exp`. The service
 * refuses a token whose `exp` lies further ahead than its `CONNECT_TOKEN_MAX_TTL_SECONDS` (900 by default), whose
 * `iat` lies in the future, or which has expired; a token starts one connection at most. So keep it short: the
 * default is 60 s, long enough for a click, and a token is minted per page view, not stored.
 */

/** The default lifetime of a connect token, in seconds. */
export const DEFAULT_CONNECT_TOKEN_TTL_SECONDS = 60;
/** The longest lifetime the service accepts by default (`CONNECT_TOKEN_MAX_TTL_SECONDS`). */
export const MAX_CONNECT_TOKEN_TTL_SECONDS = 900;
/** The longest product user id the service accepts, in characters. */
export const MAX_USER_ID_LENGTH = 256;

export interface ConnectTokenRequest {
  /** The product's user id (`sub`): 1 to 256 characters. */
  userId: string;
  /** Where the user lands afterwards (`return_to`): an http(s) URL on the service's RETURN_URL_ALLOWLIST. */
  returnTo: string;
  /** Lifetime in whole seconds, 1 to 900. @default 60 */
  ttlSeconds?: number | undefined;
}

/**
 * Mints a connect token.
 * @param request - the user, the return URL and, optionally, the lifetime
 * @param signingKey - the service's connect-token signing key (its SigningKeySecretArn secret; locally
 *   CONNECT_SIGNING_KEY)
 * @throws TypeError for a user id, return URL, lifetime or key the service would refuse
 */
export async function signConnectToken(request: ConnectTokenRequest, signingKey: string): Promise<string> {
  const { userId, returnTo, ttlSeconds = DEFAULT_CONNECT_TOKEN_TTL_SECONDS } = request;
  checkUserId(userId);
  if (!isHttpUrl(returnTo)) throw new TypeError('returnTo must be an http(s) URL.');
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_CONNECT_TOKEN_TTL_SECONDS) {
    throw new TypeError(`ttlSeconds must be a whole number between 1 and ${MAX_CONNECT_TOKEN_TTL_SECONDS}.`);
  }
  if (typeof signingKey !== 'string' || signingKey.length === 0) throw new TypeError('signingKey must be a non-empty string.');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ return_to: returnTo })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlSeconds)
    // A token completes one connection: two links minted in the same second for the same user must still differ.
    .setJti(globalThis.crypto.randomUUID())
    .sign(new TextEncoder().encode(signingKey));
}

/**
 * The service accepts 1 to 256 characters. `.` and `..` cannot travel as a path segment: URL parsers resolve them
 * (even percent-encoded), so a request would reach another route.
 */
export function checkUserId(userId: string): void {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new TypeError(`userId must be 1 to ${MAX_USER_ID_LENGTH} characters.`);
  }
  if (userId === '.' || userId === '..') throw new TypeError('userId cannot be "." or "..".');
}

export function isHttpUrl(value: string): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}
