import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { signConnectToken } from '../client/token.js';
import { OUTCOME_REASONS, type OutcomeReason } from '../functions/core/outcome-reasons.js';
import { AUTHORIZE_PATH, connectionPath } from '../functions/core/routes.js';
import type { HttpApi, HttpApiResponse } from './api-gateway.js';
import { html, type SafeHtml, sendPage, sendProblemPage } from './html.js';
import { parseForm, readBody, sendRedirect } from './http-util.js';
import type { SandboxRecall } from './sandbox-recall.js';
import { deauthorizationEvent, zoomWebhookHeaders } from './sandbox-zoom.js';

/**
 * The demo product's onboarding page at `/`: what a product integrating this service would show. The "Connect Zoom"
 * button is a plain link; `/demo/connect` plays the product backend, minting the connect token for the user.
 * The user's connection is read through the real `GET /connections/{userId}` handler, in-process.
 *
 * With the sandboxes, the page can also play the other parties of a connection's life: Zoom (a signed
 * `app_deauthorized` webhook, sent over HTTP to the real `/zoom/webhook`), Recall (a credential turning unhealthy
 * or healthy) and the schedule (a health sync run now). Plain forms, no script: the pages' CSP allows none.
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
  /** Runs the health sync now (the local schedule's on-demand run). */
  healthSync?: { run(): Promise<unknown> };
  /** Waits until queued webhooks are processed, so the page shows their outcome. */
  drain?: () => Promise<void>;
  /**
   * Only when both Zoom and Recall are the sandboxes: what the page needs to act as Zoom (the webhook Secret
   * Token and client id, and where the service's webhook listens) and as Recall.
   */
  sandbox?: { recall: SandboxRecall; webhookSecretToken: string; zoomClientId: string; webhookUrl: string };
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

/**
 * Zoom's deauthorization event always names a Zoom user (the one who removed the app), but an account-level
 * connection records only the account: the simulated event then names this stand-in for the account's admin.
 */
export const SIMULATED_ACCOUNT_ADMIN_USER_ID = 'sandbox-account-admin';

/** Each status in plain words, with what the user can do next. */
const STATUS_TEXT: Record<string, { label: string; next: string }> = {
  connected: { label: 'Connected', next: 'Recall can use your Zoom account. Nothing to do.' },
  revoked: {
    label: 'Removed in Zoom',
    next:
      'The app was removed from your Zoom account, so Recall can no longer use it. Choose “Connect Zoom” to ' +
      'connect again.',
  },
  unhealthy: {
    label: 'Needs reconnecting',
    next:
      'Recall reports that it can no longer use your Zoom account (its access expired or was withdrawn). Choose ' +
      '“Connect Zoom” to connect again.',
  },
  disconnected: {
    label: 'Disconnected',
    next:
      'You ended this connection, and Recall no longer uses your Zoom account. Choose “Connect Zoom” to connect ' +
      'again.',
  },
};

const DEMO_NOTICES = {
  disconnected: { tone: 'ok', text: 'Zoom is disconnected. Choose “Connect Zoom” whenever you want to connect again.' },
  not_connected: { tone: '', text: 'There was no connection to end, so nothing changed.' },
  failed: { tone: 'error', text: 'Disconnecting failed, so Zoom is still connected. Try again; the server log says why.' },
  revoke_sent: {
    tone: 'ok',
    text:
      'The sandbox Zoom sent a signed “app deauthorized” event to the service, as Zoom does when the app is removed.',
  },
  revoke_failed: {
    tone: 'error',
    text: 'The service refused or failed the simulated Zoom event, so nothing changed. The server log says why.',
  },
  no_connection: { tone: 'error', text: 'This user has no Zoom connection. Choose “Connect Zoom” first.' },
  marked_unhealthy: {
    tone: 'ok',
    text: 'The sandbox Recall now reports this credential unhealthy. The service notices at its next health sync.',
  },
  marked_healthy: {
    tone: 'ok',
    text: 'The sandbox Recall now reports this credential healthy. The service notices at its next health sync.',
  },
  credential_gone: {
    tone: 'error',
    text: 'The sandbox Recall has no such credential any more. Run the health sync, or connect Zoom again.',
  },
  health_sync_done: { tone: 'ok', text: 'The health sync ran; the status above is up to date.' },
  health_sync_failed: { tone: 'error', text: 'The health sync failed. Try again; the server log says why.' },
  no_identity: {
    tone: 'error',
    text: 'This connection no longer records a Zoom identity, so there is nothing to revoke. Connect Zoom again.',
  },
} as const satisfies Record<string, { tone: '' | 'ok' | 'error'; text: string }>;
type DemoNotice = keyof typeof DEMO_NOTICES;

/**
 * What the user sees on return from the connect flow, for every `zoom_connect` outcome and every documented
 * `reason`: what happened, then what to do next, in plain words (docs/integrating.md, "Outcomes on the return URL").
 */
export interface OutcomeMessage {
  /** `ok` and `info` are status messages; `error` is an alert. */
  tone: 'ok' | 'info' | 'error';
  /** The page title while the message shows. */
  title: string;
  what: string;
  next: string;
}

export const CONNECT_OUTCOME_MESSAGES = {
  connected: {
    tone: 'ok',
    title: 'Zoom connected',
    what: 'Your Zoom account is connected.',
    next: 'Recall can now use it for your meetings. There is nothing else to do.',
  },
  denied: {
    tone: 'info',
    title: 'Zoom not connected',
    what: 'You declined access at Zoom, so nothing changed.',
    next: 'Choose “Connect Zoom” whenever you want to try again.',
  },
  install: {
    tone: 'info',
    title: 'Finish connecting Zoom',
    what: 'You added the app in the Zoom App Marketplace; this page has to link it to your account here.',
    next: 'Choose “Connect Zoom”: Zoom, already authorized, sends you straight back.',
  },
} as const satisfies Record<string, OutcomeMessage>;

const AGAIN = 'Choose “Connect Zoom” to try again.';

export const CONNECT_ERROR_MESSAGES: Record<OutcomeReason, OutcomeMessage> = {
  state_expired: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: the sign-in took longer than 10 minutes, or its link had already been used.',
    next: 'Choose “Connect Zoom” to start again, and finish at Zoom within 10 minutes.',
  },
  browser_mismatch: {
    tone: 'error',
    title: 'Zoom not connected',
    what:
      'Zoom was not connected: Zoom sent you back to a different browser from the one you started in, or this ' +
      'browser blocked the cookie that ties the two together.',
    next: 'Choose “Connect Zoom” again in this browser, with cookies allowed for this site.',
  },
  code_rejected: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: Recall could not use the one-time code from Zoom (it expired or was already used).',
    next: `${AGAIN} If it keeps happening, the Zoom app’s redirect URL does not match this service’s: check it.`,
  },
  conflict_unresolved: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: another connection of the same Zoom account was being set up at the same moment.',
    next: `Wait a moment. ${AGAIN}`,
  },
  recall_rejected: {
    tone: 'error',
    title: 'Zoom cannot be connected right now',
    what: 'Zoom can’t be connected right now: Recall.ai refused the service’s request.',
    next: 'Try again later. If you run this service, check its Recall API key, region and OAuth app id.',
  },
  recall_unavailable: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: Recall.ai could not be reached.',
    next: `Wait a few minutes. ${AGAIN}`,
  },
  misconfigured: {
    tone: 'error',
    title: 'Zoom cannot be connected right now',
    what: 'Zoom can’t be connected right now: this service is not fully set up yet.',
    next: 'Try again later. If you run this service, fill in its secrets; the server log names what is missing.',
  },
  internal: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: something went wrong in the service.',
    next: `${AGAIN} If it keeps failing, the server log has the details.`,
  },
  link_used: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: this connect link had already been used once.',
    next: AGAIN,
  },
  credential_unhealthy: {
    tone: 'error',
    title: 'Zoom not connected',
    what: 'Zoom was not connected: Recall.ai reports that it cannot use this Zoom authorization.',
    next: `${AGAIN} If it keeps happening, remove the app in Zoom’s Marketplace and connect again.`,
  },
};

/** A reason this page does not know (a newer service): still say what happened and what to do. */
export const UNKNOWN_ERROR_MESSAGE: OutcomeMessage = {
  tone: 'error',
  title: 'Zoom not connected',
  what: 'Zoom was not connected.',
  next: AGAIN,
};

/** The outcome message for a return URL's query, if it carries a known `zoom_connect`. */
export function connectOutcomeMessage(query: URLSearchParams): (OutcomeMessage & { reason?: string }) | undefined {
  const outcome = query.get('zoom_connect');
  if (outcome === 'connected' || outcome === 'denied' || outcome === 'install') return CONNECT_OUTCOME_MESSAGES[outcome];
  if (outcome !== 'error') return undefined;
  const reason = query.get('reason') ?? '';
  return (OUTCOME_REASONS as readonly string[]).includes(reason)
    ? { ...CONNECT_ERROR_MESSAGES[reason as OutcomeReason], reason }
    : UNKNOWN_ERROR_MESSAGE;
}

/** Why a demo request was refused: an error page that says what to do next and links back to the page. */
const INVALID_USER = {
  status: 400,
  heading: 'That user id can’t be used',
  what: 'Demo user ids are 1 to 128 letters, digits, dots, underscores, hyphens or @, and this one is not.',
  next: 'Go back to the demo page and switch to a user id of that form.',
  link: { href: '/', text: 'Back to the demo page' },
} as const;

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
    if (pathname === '/demo/health-sync' && req.method === 'POST' && this.options.healthSync) {
      await this.#healthSync(req, res, this.options.healthSync);
      return true;
    }
    const sandbox = this.options.sandbox;
    if (pathname === '/demo/simulate-revoke' && req.method === 'POST' && sandbox) {
      await this.#simulateRevoke(req, res, sandbox);
      return true;
    }
    if (pathname === '/demo/sandbox-credential-status' && req.method === 'POST' && sandbox) {
      await this.#setCredentialStatus(req, res, sandbox.recall);
      return true;
    }
    return false;
  }

  async #page(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const requested = query.get('user');
    const userId = requested !== null && USER_ID.test(requested) ? requested : DEFAULT_DEMO_USER;
    const invalidUser = requested !== null && requested !== userId;
    const lookup = await this.#connectionOf(userId);
    const connection = lookup.kind === 'found' ? lookup.connection : undefined;
    const active = connection !== undefined && connection.status !== 'disconnected';
    const outcome = invalidUser ? undefined : connectOutcomeMessage(query);
    const body = html`<h1>Demo product: connect your Zoom account</h1>
${
  invalidUser
    ? html`<div class="notice error" role="alert"><p>That user id can’t be used here, so this page shows
<code>${userId}</code> instead.</p><p>Switch to a user id of 1 to 128 letters, digits, dots, underscores, hyphens or
@ below.</p></div>`
    : ''
}
${demoNotice(query)}
${outcome ? outcomeNotice(outcome) : ''}
<p>You are signed in to the demo product as <strong>${userId}</strong>.</p>
<h2>Your Zoom connection</h2>
${connectionDetails(lookup)}
<p><a class="button" href="/demo/connect?user=${encodeURIComponent(userId)}">Connect Zoom</a></p>
${
  active
    ? html`<form method="post" action="/demo/disconnect">
<input type="hidden" name="user" value="${userId}">
<button type="submit" class="secondary">Disconnect Zoom</button>
</form>`
    : ''
}
${this.#lifecycleControls(userId, connection)}
<h2>Switch demo user</h2>
<form method="get" action="/">
<label>Product user id <input type="text" name="user" value="${userId}" autocomplete="off"></label>
<button type="submit" class="secondary">Switch user</button>
</form>`;
    const title = outcome ? `${outcome.title}: demo product` : 'Demo product: connect Zoom';
    sendPage(res, { title, body });
  }

  async #connect(res: ServerResponse, query: URLSearchParams): Promise<void> {
    const userId = query.get('user') ?? DEFAULT_DEMO_USER;
    if (!USER_ID.test(userId)) return sendProblemPage(res, INVALID_USER);
    const returnTo = `${this.options.baseUrl}/?user=${encodeURIComponent(userId)}`;
    const token = await signConnectToken({ userId, returnTo }, this.options.signingKey);
    sendRedirect(res, `${this.options.apiBaseUrl}${AUTHORIZE_PATH}?connect_token=${encodeURIComponent(token)}`);
  }

  async #disconnect(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = await this.#demoForm(req, res);
    if (!form) return;
    const response = await this.#callConnections('DELETE', form.userId);
    const notice = response.statusCode < 300 ? 'disconnected' : response.statusCode === 404 ? 'not_connected' : 'failed';
    backToPage(res, form.userId, notice);
  }

  /** The sandbox controls, in plain words; each is a form posting to this page's own routes. */
  #lifecycleControls(userId: string, connection: Connection | undefined): SafeHtml | '' {
    const { sandbox, healthSync } = this.options;
    if (!sandbox && !healthSync) return '';
    const credential = connection?.recallCredentialId
      ? sandbox?.recall.state.credentials.get(connection.recallCredentialId)
      : undefined;
    const revocable =
      sandbox !== undefined &&
      connection !== undefined &&
      (connection.status === 'connected' || connection.status === 'unhealthy') &&
      Boolean(connection.zoomAccountId ?? connection.zoomUserId);
    const nextStatus = credential?.status === 'unhealthy' ? 'healthy' : 'unhealthy';
    const intro = sandbox
      ? html`<h2>Play the other side (sandbox)</h2>
<p>These stand in for what happens outside the product: a user removing the app in Zoom, Recall losing access,
and the service's scheduled health check.</p>`
      : html`<h2>Health sync</h2>
<p>The service asks Recall for unhealthy credentials on a schedule; run it now to see a change at once.</p>`;
    return html`${intro}
${
  revocable
    ? html`<form method="post" action="/demo/simulate-revoke">
<input type="hidden" name="user" value="${userId}">
<label><input type="checkbox" name="keep_data" value="true"> The Zoom user lets the app keep their data
(<code>user_data_retention</code>)</label>
<button type="submit" class="secondary">Simulate revoke in Zoom (sandbox)</button>
</form>`
    : ''
}
${
  credential
    ? html`<p>In the sandbox Recall, this credential is <strong>${credential.status}</strong>.</p>
<form method="post" action="/demo/sandbox-credential-status">
<input type="hidden" name="user" value="${userId}">
<input type="hidden" name="status" value="${nextStatus}">
<button type="submit" class="secondary">Mark ${nextStatus} in Recall (sandbox)</button>
</form>`
    : sandbox && connection
      ? html`<p>The sandbox Recall has no credential for this connection any more.</p>`
      : ''
}
${
  healthSync
    ? html`<form method="post" action="/demo/health-sync">
<input type="hidden" name="user" value="${userId}">
<button type="submit" class="secondary">Run health sync now</button>
</form>`
    : ''
}`;
  }

  /** Acts as Zoom: signs an `app_deauthorized` event for the user's Zoom identity and POSTs it to the service. */
  async #simulateRevoke(
    req: IncomingMessage,
    res: ServerResponse,
    sandbox: NonNullable<DemoPageOptions['sandbox']>,
  ): Promise<void> {
    const form = await this.#demoForm(req, res);
    if (!form) return;
    const lookup = await this.#connectionOf(form.userId);
    if (lookup.kind !== 'found') return backToPage(res, form.userId, 'no_connection');
    const { zoomAccountId, zoomUserId } = lookup.connection;
    if (!zoomAccountId && !zoomUserId) return backToPage(res, form.userId, 'no_identity');
    const body = deauthorizationEvent({
      accountId: zoomAccountId ?? '',
      userId: zoomUserId ?? SIMULATED_ACCOUNT_ADMIN_USER_ID,
      clientId: sandbox.zoomClientId,
      userDataRetention: form.fields.get('keep_data') === 'true',
    });
    let accepted = false;
    try {
      const response = await fetch(sandbox.webhookUrl, {
        method: 'POST',
        headers: zoomWebhookHeaders(sandbox.webhookSecretToken, body),
        body,
        signal: AbortSignal.timeout(10_000),
      });
      await response.body?.cancel();
      accepted = response.ok;
    } catch {
      accepted = false;
    }
    // The service queues the event; the page should show its outcome, not the state before it.
    if (accepted) await this.options.drain?.().catch(() => undefined);
    backToPage(res, form.userId, accepted ? 'revoke_sent' : 'revoke_failed');
  }

  /** Acts as Recall: the user's credential becomes unhealthy (or healthy again). */
  async #setCredentialStatus(req: IncomingMessage, res: ServerResponse, recall: SandboxRecall): Promise<void> {
    const form = await this.#demoForm(req, res);
    if (!form) return;
    const status = form.fields.get('status');
    if (status !== 'healthy' && status !== 'unhealthy') {
      return sendProblemPage(res, {
        status: 400,
        heading: 'Choose healthy or unhealthy',
        what: 'The sandbox Recall can only mark a credential healthy or unhealthy, so nothing changed.',
        next: 'Go back to the demo page and use its “Mark … in Recall (sandbox)” button.',
        link: { href: `/?user=${encodeURIComponent(form.userId)}`, text: 'Back to the demo page' },
      });
    }
    const lookup = await this.#connectionOf(form.userId);
    if (lookup.kind !== 'found') return backToPage(res, form.userId, 'no_connection');
    const credentialId = lookup.connection.recallCredentialId;
    const credential = credentialId ? recall.setCredentialStatus(credentialId, status) : undefined;
    if (!credential) return backToPage(res, form.userId, 'credential_gone');
    backToPage(res, form.userId, status === 'healthy' ? 'marked_healthy' : 'marked_unhealthy');
  }

  async #healthSync(req: IncomingMessage, res: ServerResponse, healthSync: { run(): Promise<unknown> }): Promise<void> {
    const form = await this.#demoForm(req, res);
    if (!form) return;
    const ran = await healthSync.run().then(
      () => true,
      () => false,
    );
    backToPage(res, form.userId, ran ? 'health_sync_done' : 'health_sync_failed');
  }

  /**
   * Reads a demo form post with a valid user. Cross-site posts never get here: the server refuses them first.
   * @returns undefined when it already answered with an error page
   */
  async #demoForm(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<{ userId: string; fields: URLSearchParams } | undefined> {
    const fields = parseForm(await readBody(req, 16 * 1024));
    const userId = fields.get('user') ?? '';
    if (!USER_ID.test(userId)) {
      sendProblemPage(res, INVALID_USER);
      return undefined;
    }
    return { userId, fields };
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
      target: connectionPath(userId),
      rawHeaders: ['Host', host, 'User-Agent', 'recall-zoom-connect-demo-page', 'Accept', 'application/json'],
      body: Buffer.alloc(0),
      sourceIp: '127.0.0.1',
      protocol: 'HTTP/1.1',
    });
  }
}

function backToPage(res: ServerResponse, userId: string, notice: DemoNotice): void {
  sendRedirect(res, `/?user=${encodeURIComponent(userId)}&demo_notice=${notice}`);
}

/** A demo control's result, after its redirect back (only known notices: the query is never echoed). */
function demoNotice(query: URLSearchParams): SafeHtml | '' {
  const notice = query.get('demo_notice') ?? '';
  if (!Object.hasOwn(DEMO_NOTICES, notice)) return '';
  const { tone, text } = DEMO_NOTICES[notice as DemoNotice];
  return tone === 'error'
    ? html`<div class="notice error" role="alert"><p>${text}</p></div>`
    : html`<div class="notice${tone ? ` ${tone}` : ''}" role="status"><p>${text}</p></div>`;
}

/** The connect flow's outcome: an alert for errors, a status message otherwise. */
function outcomeNotice(message: OutcomeMessage & { reason?: string }): SafeHtml {
  const content = html`<p><strong>${message.what}</strong></p>
<p>${message.next}</p>
${message.reason ? html`<p class="hint">Reason code: <code>${message.reason}</code></p>` : ''}`;
  return message.tone === 'error'
    ? html`<div class="notice error" role="alert">${content}</div>`
    : html`<div class="notice${message.tone === 'ok' ? ' ok' : ''}" role="status">${content}</div>`;
}

/** An id the connection does not hold (a user-level app records no account; a revoke may erase both). */
export const NOT_RECORDED = 'not recorded';

function connectionDetails(lookup: ConnectionLookup): SafeHtml {
  if (lookup.kind === 'none') return html`<p>Not connected yet. Choose “Connect Zoom” to connect your Zoom account.</p>`;
  if (lookup.kind === 'failed') {
    return html`<div class="notice error" role="alert"><p>The demo could not read your Zoom connection (HTTP
${lookup.status}), so it is unknown whether Zoom is connected.</p><p>Reload the page; if it keeps failing, the server
log says why.</p></div>`;
  }
  const { status, zoomAccountId, zoomUserId, recallCredentialId } = lookup.connection;
  const text = STATUS_TEXT[status];
  return html`${text ? html`<p><strong>${text.label}.</strong> ${text.next}</p>` : ''}
<dl>
<dt>Status</dt><dd>${status}</dd>
<dt>Zoom account id</dt><dd>${zoomAccountId ?? NOT_RECORDED}</dd>
<dt>Zoom user id</dt><dd>${zoomUserId ?? NOT_RECORDED}</dd>
<dt>Recall credential id</dt><dd>${recallCredentialId ?? NOT_RECORDED}</dd>
</dl>`;
}
