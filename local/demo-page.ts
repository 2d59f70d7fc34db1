import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { signConnectToken } from '../functions/shared/connect-token.js';
import { OUTCOME_REASONS, type OutcomeReason } from '../functions/shared/errors.js';
import type { HttpApi, HttpApiResponse } from './api-gateway.js';
import { html, sendPage, type SafeHtml } from './html.js';
import { parseForm, readBody, sendRedirect } from './http-util.js';

/**
 * The demo product's onboarding page at `/`: what a product integrating this service would show. The "Connect Zoom"
 * button is a plain link; `/demo/connect` plays the product backend, minting the connect token for the user.
 * The user's connection is read through the real `GET /connections/{userId}` handler, in-process.
 */

export const DEFAULT_DEMO_USER = 'demo-user';
const USER_ID = /^[A-Za-z0-9._@-]{1,128}$/;

export interface DemoPageOptions {
  /** `http://localhost:<port>`: return URLs point here (it is on the default allow-list). */
  baseUrl: string;
  /** Origin serving `/zoom/authorize`: the redirect URI's, so the browser-binding cookie comes back. */
  apiBaseUrl: string;
  signingKey: string;
  api: Pick<HttpApi, 'invoke'>;
}

const ConnectionSchema = z.looseObject({
  userId: z.string(),
  status: z.string(),
  recallCredentialId: z.optional(z.nullable(z.string())),
  zoomAccountId: z.optional(z.nullable(z.string())),
  zoomUserId: z.optional(z.nullable(z.string())),
});
type Connection = z.infer<typeof ConnectionSchema>;

type ConnectionLookup = { kind: 'found'; connection: Connection } | { kind: 'none' } | { kind: 'failed'; status: number };

const ADVICE: Record<OutcomeReason, string> = {
  state_expired: 'The connect attempt expired or was already used. Start again with “Connect Zoom”.',
  browser_mismatch:
    'The attempt was started in another browser, or its cookie was lost. Start again in this browser.',
  code_rejected: 'Zoom’s one-time code was not accepted (it may have expired). Start again with “Connect Zoom”.',
  conflict_unresolved:
    'This Zoom account is already connected and could not be moved here. Try again, or disconnect it first.',
  recall_rejected: 'Recall refused the request. Check the Recall API key, the OAuth app id and the redirect URI.',
  recall_unavailable: 'Recall could not be reached. Wait a minute and try again.',
  misconfigured: 'The service is not configured correctly. Check the server’s configuration and logs.',
  internal: 'Something went wrong in the service. Try again; if it keeps failing, check the server logs.',
};

export class DemoPage {
  constructor(private readonly options: DemoPageOptions) {}

  /** @returns false when the path is not the demo's */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const query = new URL(req.url ?? '/', 'http://demo.invalid').searchParams;
    if (pathname === '/' && req.method === 'GET') {
      await this.#page(res, query);
      return true;
    }
    if (pathname === '/demo/connect' && req.method === 'GET') {
      await this.#connect(res, query);
      return true;
    }
    if (pathname === '/demo/disconnect' && req.method === 'POST') {
      await this.#disconnect(req, res);
      return true;
    }
    return false;
  }

  async #page(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const requested = query.get('user');
    const userId = requested !== null && USER_ID.test(requested) ? requested : DEFAULT_DEMO_USER;
    const invalidUser = requested !== null && requested !== userId;
    const lookup = await this.#connectionOf(userId);
    const connected = lookup.kind === 'found' && lookup.connection.status === 'connected';
    const body = html`<h1>Demo product: connect your Zoom account</h1>
${invalidUser ? html`<p class="notice error" role="alert">That user id is not valid here; showing <code>${userId}</code>.</p>` : ''}
${outcomeNotice(query)}
<p>You are signed in to the demo product as <strong>${userId}</strong>.</p>
<h2>Your Zoom connection</h2>
${connectionDetails(lookup)}
<p><a class="button" href="/demo/connect?user=${encodeURIComponent(userId)}">Connect Zoom</a></p>
${
  connected
    ? html`<form method="post" action="/demo/disconnect">
<input type="hidden" name="user" value="${userId}">
<button type="submit" class="secondary">Disconnect Zoom</button>
</form>`
    : ''
}
<h2>Switch demo user</h2>
<form method="get" action="/">
<label>Product user id <input type="text" name="user" value="${userId}" autocomplete="off"></label>
<button type="submit" class="secondary">Switch user</button>
</form>`;
    sendPage(res, { title: 'Demo product: connect Zoom', body });
  }

  async #connect(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const userId = query.get('user') ?? DEFAULT_DEMO_USER;
    if (!USER_ID.test(userId)) {
      sendPage(res, { status: 400, title: 'Invalid user', body: html`<h1>That user id is not valid</h1>` });
      return;
    }
    const returnTo = `${this.options.baseUrl}/?user=${encodeURIComponent(userId)}`;
    const token = await signConnectToken({ userId, returnTo }, this.options.signingKey);
    sendRedirect(res, `${this.options.apiBaseUrl}/zoom/authorize?connect_token=${encodeURIComponent(token)}`);
  }

  async #disconnect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A cross-site form must not be able to disconnect the demo user.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      sendPage(res, { status: 403, title: 'Forbidden', body: html`<h1>Cross-site request refused</h1>` });
      return;
    }
    const userId = parseForm(await readBody(req, 16 * 1024)).get('user') ?? '';
    if (!USER_ID.test(userId)) {
      sendPage(res, { status: 400, title: 'Invalid user', body: html`<h1>That user id is not valid</h1>` });
      return;
    }
    const response = await this.#callConnections('DELETE', userId);
    const notice = response.statusCode < 300 ? 'disconnected' : response.statusCode === 404 ? 'not_connected' : 'failed';
    sendRedirect(res, `/?user=${encodeURIComponent(userId)}&demo_notice=${notice}`);
  }

  async #connectionOf(userId: string): Promise<ConnectionLookup> {
    const response = await this.#callConnections('GET', userId);
    if (response.statusCode === 404) return { kind: 'none' };
    if (response.statusCode !== 200) return { kind: 'failed', status: response.statusCode };
    try {
      const parsed = ConnectionSchema.safeParse(JSON.parse(response.body.toString('utf8')));
      return parsed.success ? { kind: 'found', connection: parsed.data } : { kind: 'failed', status: 200 };
    } catch {
      return { kind: 'failed', status: 200 };
    }
  }

  #callConnections(method: 'GET' | 'DELETE', userId: string): Promise<HttpApiResponse> {
    const host = new URL(this.options.apiBaseUrl).host;
    return this.options.api.invoke({
      method,
      target: `/connections/${encodeURIComponent(userId)}`,
      rawHeaders: ['Host', host, 'User-Agent', 'recall-zoom-connect-demo-page', 'Accept', 'application/json'],
      body: Buffer.alloc(0),
      sourceIp: '127.0.0.1',
      protocol: 'HTTP/1.1',
    });
  }
}

function outcomeNotice(query: URLSearchParams): SafeHtml | '' {
  const notice = query.get('demo_notice');
  if (notice === 'disconnected') return html`<p class="notice ok" role="status">Zoom is disconnected.</p>`;
  if (notice === 'not_connected') return html`<p class="notice" role="status">There was no connection to end.</p>`;
  if (notice === 'failed') {
    return html`<p class="notice error" role="alert">Disconnecting failed. Try again; check the server logs.</p>`;
  }
  switch (query.get('zoom_connect')) {
    case 'connected':
      return html`<p class="notice ok" role="status">Your Zoom account is connected.</p>`;
    case 'denied':
      return html`<p class="notice" role="status">You declined access at Zoom, so nothing changed. Choose
“Connect Zoom” whenever you want to try again.</p>`;
    case 'error': {
      const reason = query.get('reason') ?? '';
      const known = (OUTCOME_REASONS as readonly string[]).includes(reason) ? (reason as OutcomeReason) : undefined;
      return html`<p class="notice error" role="alert">Connecting Zoom failed${
        known ? html` (<code>${known}</code>)` : ''
      }. ${known ? ADVICE[known] : 'Try again with “Connect Zoom”.'}</p>`;
    }
    default:
      return '';
  }
}

function connectionDetails(lookup: ConnectionLookup): SafeHtml {
  if (lookup.kind === 'none') return html`<p>Not connected yet.</p>`;
  if (lookup.kind === 'failed') {
    return html`<p class="notice error">Could not read the connection (HTTP ${lookup.status}).</p>`;
  }
  const { status, zoomAccountId, zoomUserId, recallCredentialId } = lookup.connection;
  return html`<dl>
<dt>Status</dt><dd>${status}</dd>
<dt>Zoom account id</dt><dd>${zoomAccountId ?? '—'}</dd>
<dt>Zoom user id</dt><dd>${zoomUserId ?? '—'}</dd>
<dt>Recall credential id</dt><dd>${recallCredentialId ?? '—'}</dd>
</dl>`;
}
