import {
  bindingCookie,
  bindingCookieName,
  bindingCookiePath,
  bindingCookies,
  clearedCookie,
  MAX_BINDING_COOKIES,
} from './browser-binding.js';
import { pkceChallenge, randomToken, sha256Hex } from '../core/crypto.js';
import { type OAuthState, openAnyOAuthState, sealOAuthState } from './oauth-state.js';
import type { ServiceConfig } from '../core/config.js';

/**
 * How long the binding cookie outlives the attempt it carries: long enough that a user who comes back just after
 * the state expired still lands on the product with reason=state_expired, short enough that abandoned attempts
 * leave the browser soon.
 */
export const COOKIE_GRACE_SECONDS = 60;

export interface AuthorizationSettings {
  zoomAuthorizeUrl: string;
  zoomRedirectUri: string;
  zoomClientId: string;
  stateTtlSeconds: number;
  /** The current state key: the attempt is sealed into its cookie with it. */
  stateKey: string;
}

/** The settings both connect steps send a browser to Zoom with, from the service's configuration. */
export function authorizationSettingsOf(
  config: Pick<ServiceConfig, 'zoomAuthorizeUrl' | 'zoomRedirectUri' | 'oauthStateTtlSeconds'>,
): Omit<AuthorizationSettings, 'zoomClientId' | 'stateKey'> {
  return {
    zoomAuthorizeUrl: config.zoomAuthorizeUrl,
    zoomRedirectUri: config.zoomRedirectUri,
    stateTtlSeconds: config.oauthStateTtlSeconds,
  };
}

export interface AuthorizationRequest {
  userId: string;
  returnTo: string;
  correlationId: string;
  /** 0 for a flow the product started; 1 when the callback sends the user back for a fresh code. */
  reauthCount: number;
  /** The connect link that started the flow (see `OAuthState.link`). */
  link?: OAuthState['link'];
}

export interface AuthorizationRedirect {
  /** Zoom's consent URL. */
  location: string;
  /** The browser-binding `Set-Cookie` value: the attempt, sealed. */
  cookie: string;
}

/**
 * Starts one attempt: a one-time state (256-bit, expiring), a PKCE S256 verifier, and the cookie that carries the
 * attempt (user, return URL, verifier, link, start and expiry), sealed, to the callback in this browser and no
 * other. Nothing is stored: the callback records the state as used when it comes back. Used by the authorize step
 * and by the callback's re-authorize.
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
      startedAtMs: nowMs,
      reauthCount: request.reauthCount,
      correlationId: request.correlationId,
      ...(request.link ? { link: request.link } : {}),
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
  // The cookie outlives the attempt by a short grace period: its expiry is sealed inside it, so a user who comes
  // back just late still lands on the product with reason=state_expired instead of a dead-end page.
  const cookieMaxAge = settings.stateTtlSeconds + COOKIE_GRACE_SECONDS;
  const cookiePath = bindingCookiePath(settings.zoomRedirectUri);
  return { location: location.href, cookie: bindingCookie(stateId, sealed, cookiePath, cookieMaxAge) };
}

/**
 * The `Set-Cookie` values that expire this browser's older binding cookies, so that with the one about to be set
 * it holds at most `MAX_BINDING_COOKIES`: the newest attempts stay (one may still be in another tab), the oldest go,
 * and so does any binding cookie no current key opens (it can never finish).
 * @param stateKeys - current first; a cookie sealed with a key rotated out cannot be opened and is expired too
 */
export async function expiredBindingCookies(
  cookies: readonly string[] | undefined,
  stateKeys: readonly string[],
  redirectUri: string,
): Promise<string[]> {
  const found = bindingCookies(cookies);
  if (found.length < MAX_BINDING_COOKIES) return [];
  const opened = await Promise.all(
    found.map(async ({ name, value }) => {
      const state = await openAnyOAuthState(value, stateKeys);
      return { name, startedAtMs: state && bindingCookieName(state.stateId) === name ? state.startedAtMs : -1 };
    }),
  );
  opened.sort((a, b) => b.startedAtMs - a.startedAtMs);
  const path = bindingCookiePath(redirectUri);
  return opened.slice(MAX_BINDING_COOKIES - 1).map(({ name }) => clearedCookie(name, path));
}
