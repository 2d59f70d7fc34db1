/**
 * The cookie that binds one connect attempt to the browser that started it. Its name is derived from the state,
 * so two attempts in two tabs do not overwrite each other; its value is the attempt itself, sealed (`oauth-state.ts`):
 * only the browser that started the attempt can finish it. HttpOnly and Secure; SameSite=Lax so that Zoom's
 * top-level redirect back still carries it.
 */
const COOKIE_PREFIX = 'zc_';

export const bindingCookieName = (stateId: string): string => `${COOKIE_PREFIX}${stateId.slice(0, 16)}`;

/**
 * @param stateId - SHA-256 (hex) of the state
 * @param value - the sealed attempt (base64url and dots: nothing a cookie value must escape)
 * @param path - the redirect URI's path: the cookie goes to the callback and nowhere else
 */
export function bindingCookie(stateId: string, value: string, path: string, maxAgeSeconds: number): string {
  return `${bindingCookieName(stateId)}=${value}; Max-Age=${maxAgeSeconds}; Path=${path}; HttpOnly; Secure; SameSite=Lax`;
}

export function clearedBindingCookie(stateId: string, path: string): string {
  return `${bindingCookieName(stateId)}=; Max-Age=0; Path=${path}; HttpOnly; Secure; SameSite=Lax`;
}

/** Reads a cookie from API Gateway payload 2.0's `cookies` array (not the Cookie header). */
export function readCookie(cookies: readonly string[] | undefined, name: string): string | undefined {
  for (const cookie of cookies ?? []) {
    const eq = cookie.indexOf('=');
    if (eq > 0 && cookie.slice(0, eq).trim() === name) return cookie.slice(eq + 1).trim();
  }
  return undefined;
}
