/**
 * The return URL allow-list. Entries match as URLs, never as string prefixes: same scheme, host and port, and a
 * path at or under the entry's path, so `http://127.0.0.1:8080.evil.example/` does not match
 * `http://127.0.0.1:8080/` and `https://app.example/settings-evil` does not match `https://app.example/settings`.
 */

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
  | { zoom_connect: 'error'; reason: string };

/**
 * Adds the outcome to the return URL's own query, leaving what the product put there byte for byte.
 * @param returnTo - an allow-listed return URL
 */
export function withOutcome(returnTo: string, outcome: ConnectOutcome): string {
  const url = new URL(returnTo);
  const extra = new URLSearchParams(outcome).toString();
  const hash = url.hash;
  url.hash = '';
  const base = url.href;
  const joiner = url.search ? '&' : base.endsWith('?') ? '' : '?';
  return `${base}${joiner}${extra}${hash}`;
}
