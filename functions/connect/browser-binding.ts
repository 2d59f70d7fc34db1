/**
 * The cookie that binds one connect attempt to the browser that started it. Its name is derived from the state,
 * so two attempts in two tabs do not overwrite each other; its value is the attempt itself, sealed (`oauth-state.ts`):
 * only the browser that started the attempt can finish it. HttpOnly and Secure; SameSite=Lax so that Zoom's
 * top-level redirect back still carries it.
 */
const COOKIE_PREFIX = 'zc_';

export const bindingCookieName = (stateId: string): string => `${COOKIE_PREFIX}${stateId.slice(0, 16)}`;

/**
 * The most binding cookies a browser holds at once: authorize expires the oldest beyond it. Each is about 700
 * bytes, and API Gateway refuses a request whose headers pass 10,240 bytes: without a cap, abandoned attempts
 * would pile up until the browser could not reach the service at all.
 */
export const MAX_BINDING_COOKIES = 3;

/**
 * The path binding cookies are set on: the redirect URI's parent (`/zoom` for `/zoom/callback`), which the
 * authorize route shares, so that authorize sees the browser's earlier attempts and can expire the oldest.
 */
export function bindingCookiePath(redirectUri: string): string {
  const path = new URL(redirectUri).pathname.replace(/\/+$/, '');
  const parent = path.slice(0, path.lastIndexOf('/'));
  return parent === '' ? '/' : parent;
}

/**
 * @param stateId - SHA-256 (hex) of the state
 * @param value - the sealed attempt (base64url and dots: nothing a cookie value must escape)
 * @param path - `bindingCookiePath`: the connect routes and nowhere else
 */
export function bindingCookie(stateId: string, value: string, path: string, maxAgeSeconds: number): string {
  return `${bindingCookieName(stateId)}=${value}; Max-Age=${maxAgeSeconds}; Path=${path}; HttpOnly; Secure; SameSite=Lax`;
}

export function clearedBindingCookie(stateId: string, path: string): string {
  return clearedCookie(bindingCookieName(stateId), path);
}

export const clearedCookie = (name: string, path: string): string =>
  `${name}=; Max-Age=0; Path=${path}; HttpOnly; Secure; SameSite=Lax`;

/** The `name=value` pairs of API Gateway payload 2.0's `cookies` array (not the Cookie header), trimmed. */
function* cookiePairs(cookies: readonly string[] | undefined): Generator<{ name: string; value: string }> {
  for (const cookie of cookies ?? []) {
    const eq = cookie.indexOf('=');
    if (eq > 0) yield { name: cookie.slice(0, eq).trim(), value: cookie.slice(eq + 1).trim() };
  }
}

/** Reads a cookie from API Gateway payload 2.0's `cookies` array. */
export function readCookie(cookies: readonly string[] | undefined, name: string): string | undefined {
  for (const pair of cookiePairs(cookies)) if (pair.name === name) return pair.value;
  return undefined;
}

/** Every binding cookie the browser sent, by name. */
export function bindingCookies(cookies: readonly string[] | undefined): { name: string; value: string }[] {
  return [...cookiePairs(cookies)].filter(({ name }) => name.startsWith(COOKIE_PREFIX));
}
