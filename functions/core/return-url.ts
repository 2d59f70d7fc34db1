/**
 * The return URL allow-list. Entries match as URLs, never as string prefixes: same scheme, host and port, and a
 * path at or under the entry's path, so `http://127.0.0.1:8080.evil.example/` does not match
 * `http://127.0.0.1:8080/` and `https://app.example/settings-evil` does not match `https://app.example/settings`.
 */

/** The entries of `RETURN_URL_ALLOWLIST` as written: comma-separated, blanks around and empty entries ignored. */
export function allowlistEntries(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
}

/**
 * @param candidate - the `return_to` a connect token carries
 * @param allowlist - configured entries (origin + path prefix)
 * @returns the normalized URL to redirect to, or `undefined` when it is not allowed
 */
export function allowedReturnUrl(candidate: string, allowlist: readonly string[]): URL | undefined {
  const url = parseHttpUrl(candidate);
  if (!url || url.username || url.password) return undefined;
  const allowed = allowlist.some((entry) => {
    const base = parseHttpUrl(entry);
    return (
      base !== undefined &&
      base.protocol === url.protocol &&
      base.hostname === url.hostname &&
      base.port === url.port &&
      isPathUnder(url.pathname, base.pathname)
    );
  });
  return allowed ? url : undefined;
}

function isPathUnder(path: string, prefix: string): boolean {
  if (prefix.endsWith('/')) return path.startsWith(prefix) || path === prefix.slice(0, -1);
  return path === prefix || path.startsWith(`${prefix}/`);
}

function parseHttpUrl(value: string): URL | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
}

export type ConnectOutcome =
  | { zoom_connect: 'connected' }
  | { zoom_connect: 'denied' }
  /** A Zoom Marketplace install arrived without an attempt: the product signs the user in and starts one. */
  | { zoom_connect: 'install' }
  | { zoom_connect: 'error'; reason: string };

/** The parameters the service owns on a return URL: one outcome, never two. */
const OUTCOME_PARAMS = new Set(['zoom_connect', 'reason']);

/**
 * Adds the outcome to the return URL's own query, leaving what the product put there byte for byte, except that
 * a `zoom_connect` or `reason` already in it is replaced (removed, then the outcome added): the product reads one
 * outcome, never `?zoom_connect=connected&zoom_connect=denied`.
 * @param returnTo - an allow-listed return URL
 */
export function withOutcome(returnTo: string, outcome: ConnectOutcome): string {
  const url = new URL(returnTo);
  const extra = new URLSearchParams(outcome).toString();
  const hash = url.hash;
  url.hash = '';
  const kept = url.search
    .slice(1)
    .split('&')
    .filter((pair) => pair !== '' && !OUTCOME_PARAMS.has(paramName(pair)));
  url.search = '';
  const base = url.href.endsWith('?') ? url.href.slice(0, -1) : url.href;
  return `${base}?${[...kept, extra].join('&')}${hash}`;
}

/** A query pair's name as a reader decodes it (`zoom%5Fconnect` and `zoom+connect` included). */
function paramName(pair: string): string {
  const name = pair.split('=', 1)[0] as string;
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}
