/**
 * A minimal browser for driving redirect chains over real HTTP: `fetch` with `redirect: 'manual'` and a cookie
 * jar that follows RFC 6265 where it matters here: host-only cookies, Path matching (a cookie for `/zoom/callback`
 * is not sent to `/`), Max-Age/Expires (`Max-Age=0` deletes), and Secure cookies only over https or to loopback,
 * which browsers treat as a secure context.
 */

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
  expiresAt: number | undefined;
}

export interface Hop {
  url: string;
  status: number;
  location: string | undefined;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export class TestBrowser {
  #cookies: StoredCookie[] = [];

  /**
   * One request, no redirect following; cookies are sent and stored like a browser would.
   * @param init - method, form or JSON body, extra headers
   */
  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { 'user-agent': 'integration-test-browser', ...init.headers };
    const cookie = this.cookieHeaderFor(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      // What Chromium sends for a form on the local pages, which carry `Referrer-Policy: no-referrer`: an opaque
      // origin, and the fetch metadata that says the form was on this same origin.
      // A test that sets an origin of its own plays another site instead.
      if (headers.origin === undefined) {
        headers.origin = 'null';
        headers['sec-fetch-site'] ??= 'same-origin';
      }
    }
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const header of response.headers.getSetCookie()) this.#store(url, header);
    return response;
  }

  /**
   * Follows redirects from `url` until a response is not a redirect or `stop` says so.
   * @returns the last response (its body unread) and every hop on the way
   */
  async navigate(
    url: string,
    stop: (location: string) => boolean = () => false,
    maxHops = 10,
  ): Promise<{ response: Response; url: string; hops: Hop[] }> {
    const hops: Hop[] = [];
    let current = url;
    for (let i = 0; i < maxHops; i++) {
      const response = await this.request(current);
      const location = response.headers.get('location') ?? undefined;
      hops.push({ url: current, status: response.status, location });
      if (response.status < 300 || response.status >= 400 || !location) return { response, url: current, hops };
      await response.body?.cancel();
      const next = new URL(location, current).href;
      if (stop(next)) return { response, url: current, hops };
      current = next;
    }
    throw new Error(`More than ${maxHops} redirects from ${url}`);
  }

  /** The Cookie header this browser would send to `url`. */
  cookieHeaderFor(url: string): string {
    const target = new URL(url);
    const now = Date.now();
    this.#cookies = this.#cookies.filter((cookie) => cookie.expiresAt === undefined || cookie.expiresAt > now);
    return this.#cookies
      .filter(
        (cookie) =>
          cookie.host === target.hostname &&
          pathMatches(target.pathname, cookie.path) &&
          (!cookie.secure || target.protocol === 'https:' || LOOPBACK.has(target.hostname)),
      )
      .map((cookie) => `${cookie.name}=${cookie.value}`)
      .join('; ');
  }

  /** Stored cookies (name, path and flags), for assertions. */
  get cookies(): readonly Omit<StoredCookie, 'value'>[] {
    return this.#cookies.map(({ value: _value, ...cookie }) => cookie);
  }

  #store(requestUrl: string, header: string): void {
    const url = new URL(requestUrl);
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const cookie: StoredCookie = {
      name: pair.slice(0, eq).trim(),
      value: pair.slice(eq + 1).trim(),
      host: url.hostname,
      path: defaultPath(url.pathname),
      secure: false,
      httpOnly: false,
      sameSite: undefined,
      expiresAt: undefined,
    };
    for (const attribute of attributes) {
      const [rawName = '', ...rest] = attribute.split('=');
      const name = rawName.trim().toLowerCase();
      const value = rest.join('=').trim();
      if (name === 'path' && value.startsWith('/')) cookie.path = value;
      else if (name === 'secure') cookie.secure = true;
      else if (name === 'httponly') cookie.httpOnly = true;
      else if (name === 'samesite') cookie.sameSite = value;
      else if (name === 'max-age') cookie.expiresAt = Date.now() + Number(value) * 1000;
      else if (name === 'expires' && cookie.expiresAt === undefined) cookie.expiresAt = Date.parse(value);
      else if (name === 'domain') return; // not used by this service; refusing keeps the jar simple and strict
    }
    // A Secure cookie set over plain http is refused, except on loopback (a secure context).
    if (cookie.secure && url.protocol !== 'https:' && !LOOPBACK.has(url.hostname)) return;
    this.#cookies = this.#cookies.filter(
      (existing) => !(existing.name === cookie.name && existing.host === cookie.host && existing.path === cookie.path),
    );
    if (cookie.expiresAt === undefined || cookie.expiresAt > Date.now()) this.#cookies.push(cookie);
  }
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** RFC 6265 §5.1.4 default-path. */
function defaultPath(requestPath: string): string {
  const slash = requestPath.lastIndexOf('/');
  return slash <= 0 ? '/' : requestPath.slice(0, slash);
}
