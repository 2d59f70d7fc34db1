import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { InvalidConnectTokenError } from './errors.js';
import { allowedReturnUrl } from './return-url.js';

/**
 * A connect token is what the product backend mints for a logged-in user: a JWT (HS256, keyed with the UTF-8
 * bytes of the signing key) with `sub` = product user id, `return_to` = where the user lands afterwards, `exp`.
 */
export interface ConnectToken {
  userId: string;
  returnTo: string;
}

const encoder = new TextEncoder();
const MAX_USER_ID_LENGTH = 256;

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
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(encoder.encode(signingKey));
}

/**
 * Verifies signature, expiry and claims, and checks `return_to` against the allow-list.
 * @param signingKeys - the current key first; during a rotation, the previous one too
 * @throws InvalidConnectTokenError with the problem found
 */
export async function verifyConnectToken(
  jwt: string,
  signingKeys: readonly string[],
  returnUrlAllowlist: readonly string[],
): Promise<ConnectToken> {
  let lastError: unknown;
  for (const key of signingKeys) {
    try {
      const { payload } = await jwtVerify(jwt, encoder.encode(key), {
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
      });
      const { sub, return_to: returnTo } = payload;
      if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_USER_ID_LENGTH) {
        throw new InvalidConnectTokenError('missing_claims');
      }
      if (typeof returnTo !== 'string') throw new InvalidConnectTokenError('missing_claims');
      const allowed = allowedReturnUrl(returnTo, returnUrlAllowlist);
      if (!allowed) throw new InvalidConnectTokenError('return_to_not_allowed');
      return { userId: sub, returnTo: allowed.href };
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
