import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { sendProblemPage } from './html.js';
import { sendJson } from './http-util.js';

/**
 * Local mode listens on loopback only, but a web page the developer has open can still reach it: a cross-site form
 * POST needs no permission, and a DNS-rebinding page makes the browser send requests to 127.0.0.1 under its own
 * host name. Two checks close both, before any route runs:
 * - the `Host` must be a loopback name on the server's port (or the host of a configured `ZOOM_REDIRECT_URI`, e.g.
 *   an https tunnel the operator chose): a rebinding page's requests carry its own host name and are refused;
 * - a request that changes something must come from one of local mode's own pages when it comes from a browser.
 *
 * Browsers mark every POST and DELETE they send: `Sec-Fetch-Site` (Chromium, Firefox, Safari) and `Origin`. The
 * pages send `Referrer-Policy: no-referrer`, under which Chromium sends `Origin: null` even for a same-origin form,
 * so `Sec-Fetch-Site: same-origin` is what proves a same-origin form there. A request with neither header did not
 * come from a browser (curl, the AWS SDK, the handlers' own calls, scripts on this machine) and is not a
 * cross-site request: it is let through, as the loopback-only listener already limits who can send it.
 */

/** Loopback names local mode answers to, as they appear in a `Host` header (IPv6 in brackets). */
export const LOCAL_HOST_NAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

/** Methods that never change anything here; every other method is checked for its origin. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The `Host` values the server answers: each loopback name with the port (and without it on port 80), plus the
 * hosts of `extraOrigins` (the redirect URI's origin, when the operator set one elsewhere).
 */
export function allowedHosts(port: number, extraOrigins: readonly string[] = []): Set<string> {
  const hosts = new Set<string>();
  for (const name of LOCAL_HOST_NAMES) {
    hosts.add(`${name}:${port}`);
    if (port === 80) hosts.add(name);
  }
  for (const origin of extraOrigins) {
    try {
      hosts.add(new URL(origin).host.toLowerCase());
    } catch {
      // Not a URL: the handlers' own config check reports it.
    }
  }
  return hosts;
}

/** Whether the request's `Host` is one of `hosts` (case-insensitive, as host names are). */
export function isAllowedHost(host: string | undefined, hosts: ReadonlySet<string>): boolean {
  return host !== undefined && hosts.has(host.toLowerCase());
}

export type OriginVerdict = 'same-origin' | 'not-a-browser' | 'cross-site';

/**
 * Classifies a request by where a browser says it came from.
 * @param ownOrigin - `http://<Host>` of this request (the Host already checked)
 */
export function originVerdict(headers: IncomingHttpHeaders, ownOrigin: string): OriginVerdict {
  const fetchSite = headers['sec-fetch-site'];
  const origin = headers.origin;
  if (fetchSite === 'same-origin') return 'same-origin';
  if (origin !== undefined && origin.toLowerCase() === ownOrigin.toLowerCase()) return 'same-origin';
  if (fetchSite === undefined && origin === undefined) return 'not-a-browser';
  return 'cross-site';
}

/** Whether a request must be refused: a browser request that changes something and did not come from our pages. */
export function isCrossSiteWrite(method: string | undefined, headers: IncomingHttpHeaders, ownOrigin: string): boolean {
  if (SAFE_METHODS.has((method ?? 'GET').toUpperCase())) return false;
  return originVerdict(headers, ownOrigin) === 'cross-site';
}

/** The one-line reason a request for another host gets (421 Misdirected Request). */
export function wrongHostMessage(port: number): string {
  return (
    `Local mode answers only http://localhost:${port}, http://127.0.0.1:${port} and http://[::1]:${port}; ` +
    'this request named another host, so it was refused.'
  );
}

export const CROSS_SITE_MESSAGE =
  'Cross-site request refused: local mode accepts changes only from its own pages (or from tools such as curl).';

/** Paths whose requests come from the local pages' forms: refused with a page, the rest with JSON. */
const PAGE_PATHS = ['/demo/', '/sandbox/zoom/'];

/** Refuses a cross-site write: a page for the pages' forms (a way back included), JSON for the API-like routes. */
export function refuseCrossSite(res: ServerResponse, pathname: string): void {
  if (!PAGE_PATHS.some((prefix) => pathname.startsWith(prefix))) {
    sendJson(res, 403, { message: CROSS_SITE_MESSAGE });
    return;
  }
  sendProblemPage(res, {
    status: 403,
    heading: 'Cross-site request refused',
    what: 'This form was sent from another site, so the demo ignored it and nothing changed.',
    next: 'Use the buttons on the demo page itself.',
    link: { href: '/', text: 'Back to the demo page' },
  });
}

/** Refuses a request for a host local mode does not answer, with one line of plain text. */
export function refuseWrongHost(res: ServerResponse, port: number): void {
  res.writeHead(421, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${wrongHostMessage(port)}\n`);
}
