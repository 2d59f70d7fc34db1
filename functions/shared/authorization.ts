import { bindingCookie } from './browser-binding.js';
import { pkceChallenge, randomToken, sha256Hex } from './crypto.js';
import { sealOAuthState } from './oauth-state.js';

/** How long the binding cookie outlives the attempt it carries, so an expired attempt can still be reported. */
export const COOKIE_GRACE_SECONDS = 3600;

export interface AuthorizationSettings {
  zoomAuthorizeUrl: string;
  zoomRedirectUri: string;
  zoomClientId: string;
  stateTtlSeconds: number;
  /** The current state key: the attempt is sealed into its cookie with it. */
  stateKey: string;
}

export interface AuthorizationRequest {
  userId: string;
  returnTo: string;
  correlationId: string;
  /** 0 for a flow the product started; 1 when the callback sends the user back for a fresh code. */
  reauthCount: number;
}

export interface AuthorizationRedirect {
  /** Zoom's consent URL. */
  location: string;
  /** The browser-binding `Set-Cookie` value: the attempt, sealed. */
  cookie: string;
}

/**
 * Starts one attempt: a one-time state (256-bit, expiring), a PKCE S256 verifier, and the cookie that carries the
 * attempt (user, return URL, verifier, expiry), sealed, to the callback in this browser and no other. Nothing is
 * stored: the callback records the state as used when it comes back. Used by the authorize step and by the
 * callback's re-authorize.
 */
export async function beginZoomAuthorization(
  request: AuthorizationRequest,
  settings: AuthorizationSettings,
  nowMs: number,
): Promise<AuthorizationRedirect> {
  const state = randomToken();
  const stateId = sha256Hex(state);
  const codeVerifier = randomToken();
  const sealed = await sealOAuthState(
    {
      stateId,
      userId: request.userId,
      returnTo: request.returnTo,
      codeVerifier,
      expiresAt: Math.floor(nowMs / 1000) + settings.stateTtlSeconds,
      reauthCount: request.reauthCount,
      correlationId: request.correlationId,
    },
    settings.stateKey,
  );
  const location = new URL(settings.zoomAuthorizeUrl);
  location.searchParams.set('response_type', 'code');
  location.searchParams.set('client_id', settings.zoomClientId);
  location.searchParams.set('redirect_uri', settings.zoomRedirectUri);
  location.searchParams.set('state', state);
  location.searchParams.set('code_challenge', pkceChallenge(codeVerifier));
  location.searchParams.set('code_challenge_method', 'S256');
  const cookiePath = new URL(settings.zoomRedirectUri).pathname;
  // The cookie outlives the attempt by a grace period: its expiry is sealed inside it, so a user who comes back
  // late still lands on the product with reason=state_expired instead of a dead-end page.
  const cookieMaxAge = settings.stateTtlSeconds + COOKIE_GRACE_SECONDS;
  return { location: location.href, cookie: bindingCookie(stateId, sealed, cookiePath, cookieMaxAge) };
}
