import { bindingCookie } from './browser-binding.js';
import { pkceChallenge, randomToken, sha256Hex } from './crypto.js';
import type { OAuthStateRepository } from './oauth-state-repository.js';

export interface AuthorizationSettings {
  zoomAuthorizeUrl: string;
  zoomRedirectUri: string;
  zoomClientId: string;
  stateTtlSeconds: number;
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
  /** The browser-binding `Set-Cookie` value. */
  cookie: string;
}

/**
 * Starts one attempt: a one-time state (256-bit, stored hashed, expiring), a PKCE S256 verifier kept server-side,
 * and a cookie binding the attempt to this browser. Used by the authorize step and by the callback's re-authorize.
 */
export async function beginZoomAuthorization(
  request: AuthorizationRequest,
  settings: AuthorizationSettings,
  states: Pick<OAuthStateRepository, 'save'>,
  nowMs: number,
): Promise<AuthorizationRedirect> {
  const state = randomToken();
  const stateId = sha256Hex(state);
  const codeVerifier = randomToken();
  const bindingNonce = randomToken();
  await states.save(stateId, {
    userId: request.userId,
    returnTo: request.returnTo,
    codeVerifier,
    bindingHash: sha256Hex(bindingNonce),
    expiresAt: Math.floor(nowMs / 1000) + settings.stateTtlSeconds,
    reauthCount: request.reauthCount,
    correlationId: request.correlationId,
  });
  const location = new URL(settings.zoomAuthorizeUrl);
  location.searchParams.set('response_type', 'code');
  location.searchParams.set('client_id', settings.zoomClientId);
  location.searchParams.set('redirect_uri', settings.zoomRedirectUri);
  location.searchParams.set('state', state);
  location.searchParams.set('code_challenge', pkceChallenge(codeVerifier));
  location.searchParams.set('code_challenge_method', 'S256');
  const cookiePath = new URL(settings.zoomRedirectUri).pathname;
  return { location: location.href, cookie: bindingCookie(stateId, bindingNonce, cookiePath, settings.stateTtlSeconds) };
}
