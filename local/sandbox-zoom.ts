import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { html, type SafeHtml, sendPage, sendProblemPage } from './html.js';
import { parseForm, readBody, sendRedirect } from './http-util.js';

/**
 * A sandbox of Zoom's OAuth consent step (https://zoom.us/oauth/authorize) and of the code exchange that Recall
 * performs with Zoom. It keeps Zoom's rules that the service must survive: the redirect URI matches byte for byte
 * (a mismatch is an error page, never a redirect), codes live 5 minutes and work once, and PKCE S256 is checked.
 */

/** Who consented at Zoom; Recall learns these from Zoom when it exchanges the code. */
export interface ZoomIdentity {
  accountId: string;
  userId: string;
}

export interface SandboxZoomUser extends ZoomIdentity {
  key: string;
  name: string;
  email: string;
  accountName: string;
}

/** Two users of one account and one of another: enough for user-level and account-level conflicts. */
export const SANDBOX_ZOOM_USERS: readonly SandboxZoomUser[] = [
  {
    key: 'ada',
    name: 'Ada Lovelace',
    email: 'ada@acme.example',
    accountName: 'Acme',
    accountId: 'AcmeAcct4Hq2vR7xLp9Tz1',
    userId: 'AdaUser7Kc3nW8mQe5Ys0b',
  },
  {
    key: 'grace',
    name: 'Grace Hopper',
    email: 'grace@acme.example',
    accountName: 'Acme',
    accountId: 'AcmeAcct4Hq2vR7xLp9Tz1',
    userId: 'GraceUsr2Pd6fJ1hVt8Ma4',
  },
  {
    key: 'alan',
    name: 'Alan Turing',
    email: 'alan@globex.example',
    accountName: 'Globex',
    accountId: 'GlobexAc9Rb5sN3kXw7Fe2',
    userId: 'AlanUser5Gm1tZ6cLq4Ud8',
  },
];

export const CODE_TTL_MS = 5 * 60 * 1000;
/** Zoom ids are short opaque strings; the free-text identity accepts the same shape. */
const ZOOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
const PKCE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  identity: ZoomIdentity;
  expiresAt: number;
  used: boolean;
}

export interface CodeExchangeInput {
  code: string;
  redirectUri: string;
  codeVerifier?: string | null | undefined;
  /** The client id of the OAuth app doing the exchange (Recall's OAuth app); checked when given. */
  clientId?: string;
}

/** Zoom's OAuth error codes, with the description Zoom's error table gives (4733, 4734, 4709). */
export type CodeExchangeError = 'invalid_grant' | 'invalid_request' | 'invalid_client';

export type CodeExchangeResult =
  | { ok: true; identity: ZoomIdentity }
  | { ok: false; error: CodeExchangeError; description: string };

/** What Recall's sandbox needs from Zoom. */
export interface ZoomCodeExchanger {
  /** Exchanges a code: spends it on first use, even when a later check fails (as Zoom does). */
  exchange(input: CodeExchangeInput): CodeExchangeResult;
  /** The same checks without spending the code: models a Recall that refuses before exchanging. */
  inspect(input: CodeExchangeInput): CodeExchangeResult;
}

export interface SandboxZoomOptions {
  /** The Zoom app's client id; the consent page refuses any other. */
  clientId: string;
  /** The redirect URI registered for the app; compared byte for byte. */
  redirectUri: string;
  codeTtlMs?: number;
  now?: () => number;
  /**
   * Origins the browser may end up on after the consent form, besides the redirect URI's: the return URLs the
   * service redirects to. The consent page's `form-action` must allow the whole redirect chain of its submission.
   */
  returnOrigins?: readonly string[];
}

type ConsentParams = {
  clientId: string;
  redirectUri: string;
  state: string | undefined;
  codeChallenge: string;
};

export class SandboxZoom implements ZoomCodeExchanger {
  readonly #codes = new Map<string, IssuedCode>();
  readonly #options: Required<SandboxZoomOptions>;

  constructor(options: SandboxZoomOptions) {
    this.#options = { codeTtlMs: CODE_TTL_MS, now: Date.now, returnOrigins: [], ...options };
  }

  /**
   * Issues a one-time code as if the user had clicked Allow. For tests that need a code without the HTML page.
   * @returns the code (treat it like a secret: never log it)
   */
  issueCode(input: {
    redirectUri: string;
    codeChallenge: string;
    identity: ZoomIdentity;
    clientId?: string;
  }): string {
    this.#prune();
    const code = randomBytes(24).toString('base64url');
    this.#codes.set(code, {
      clientId: input.clientId ?? this.#options.clientId,
      redirectUri: input.redirectUri,
      codeChallenge: input.codeChallenge,
      identity: { accountId: input.identity.accountId, userId: input.identity.userId },
      expiresAt: this.#options.now() + this.#options.codeTtlMs,
      used: false,
    });
    return code;
  }

  exchange(input: CodeExchangeInput): CodeExchangeResult {
    return this.#check(input, true);
  }

  inspect(input: CodeExchangeInput): CodeExchangeResult {
    return this.#check(input, false);
  }

  /** Codes issued and not yet spent or expired (tests use it to see that a code was spent). */
  get liveCodeCount(): number {
    const now = this.#options.now();
    return [...this.#codes.values()].filter((code) => !code.used && code.expiresAt > now).length;
  }

  #check(input: CodeExchangeInput, spend: boolean): CodeExchangeResult {
    const issued = this.#codes.get(input.code);
    if (!issued || issued.used) return invalidGrant('Invalid authorization code.');
    if (spend) issued.used = true;
    if (issued.expiresAt <= this.#options.now()) return invalidGrant('Code is expired.');
    if (input.clientId !== undefined && input.clientId !== issued.clientId) {
      return { ok: false, error: 'invalid_client', description: 'Invalid client_id.' };
    }
    if (input.redirectUri !== issued.redirectUri) return invalidGrant('Redirect URI mismatch.');
    if (!input.codeVerifier) {
      return { ok: false, error: 'invalid_request', description: 'Missing code_verifier.' };
    }
    if (!sameText(s256(input.codeVerifier), issued.codeChallenge)) return invalidGrant('Invalid code verifier.');
    return { ok: true, identity: { ...issued.identity } };
  }

  #prune(): void {
    const now = this.#options.now();
    for (const [code, issued] of this.#codes) if (issued.expiresAt <= now) this.#codes.delete(code);
  }

  /**
   * Serves `GET|POST /sandbox/zoom/oauth/authorize`: the consent page, then the Allow/Decline decision.
   * @returns false when the path is not the sandbox's
   */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname !== '/sandbox/zoom/oauth/authorize') return false;
    if (req.method !== 'GET' && req.method !== 'POST') {
      sendProblemPage(res, {
        status: 405,
        heading: 'Zoom sandbox: method not allowed',
        what: 'The consent page answers only GET (to show it) and POST (to submit the decision).',
        next: 'Start again from the demo page.',
        link: START_AGAIN,
        headers: { allow: 'GET, POST' },
      });
      return true;
    }
    // The decision form re-sends every parameter; they are checked again, never trusted from the form.
    const params =
      req.method === 'GET'
        ? new URL(req.url ?? '/', 'http://sandbox.invalid').searchParams
        : parseForm(await readBody(req, 64 * 1024));
    const checked = this.#checkAuthorizeRequest(params);
    if ('problem' in checked) this.#errorPage(res, checked.problem);
    else if (req.method === 'GET') this.#consentPage(res, checked);
    else this.#decide(res, checked, params);
    return true;
  }

  /** Zoom shows its own error page for these and never redirects: a bad redirect URI must not be followed. */
  #checkAuthorizeRequest(params: URLSearchParams): ConsentParams | { problem: SandboxProblem } {
    const clientId = params.get('client_id');
    const redirectUri = params.get('redirect_uri');
    if (clientId !== this.#options.clientId) {
      return {
        problem: {
          heading: 'Zoom sandbox: invalid client_id',
          what:
            'Invalid client_id (4702): no Zoom app has the client id this link names, so Zoom cannot ask you to ' +
            'allow it.',
          next: html`This is a set-up problem, not something you did: make <code>ZOOM_CLIENT_ID</code> the app’s
client id, then start again.`,
        },
      };
    }
    if (redirectUri !== this.#options.redirectUri) {
      return {
        problem: {
          heading: 'Zoom sandbox: invalid redirect',
          what: html`Invalid redirect url (4700). The <code>redirect_uri</code> must match the one registered for the
app exactly, including any trailing slash, so Zoom will not send you anywhere.`,
          next: html`This is a set-up problem, not something you did: make <code>ZOOM_REDIRECT_URI</code> the URL
registered for the app, byte for byte, then start again.`,
        },
      };
    }
    if (params.get('response_type') !== 'code') {
      return {
        problem: {
          heading: 'Zoom sandbox: unsupported response type',
          what: html`The link asks for <code>response_type=${params.get('response_type') ?? ''}</code>; Zoom only
issues authorization codes (<code>response_type=code</code>).`,
          next: 'Start again from the app; if it happens again, the app builds its Zoom link wrongly.',
        },
      };
    }
    const codeChallenge = params.get('code_challenge');
    if (params.get('code_challenge_method') !== 'S256' || !codeChallenge || !PKCE_CHALLENGE.test(codeChallenge)) {
      return {
        problem: {
          heading: 'Zoom sandbox: invalid PKCE request',
          what: html`This sandbox requires <code>code_challenge_method=S256</code> and a 43-character base64url
<code>code_challenge</code>, and the link has no valid pair.`,
          next: 'Start again from the app; if it happens again, the app builds its Zoom link wrongly.',
        },
      };
    }
    return { clientId, redirectUri, state: params.get('state') ?? undefined, codeChallenge };
  }

  #errorPage(res: ServerResponse, problem: SandboxProblem): void {
    sendProblemPage(res, { status: 400, ...problem, link: START_AGAIN });
  }

  /**
   * The consent page; shown again (400) with `problem` in an alert when the decision form was incomplete, keeping
   * what the user had chosen.
   */
  #consentPage(
    res: ServerResponse,
    params: ConsentParams,
    again?: { problem: string; form: URLSearchParams },
  ): void {
    const chosen = again?.form.get('identity') ?? SANDBOX_ZOOM_USERS[0]?.key;
    const checked = (key: string) => (key === chosen ? html` checked` : '');
    const typed = (name: string) => again?.form.get(name) ?? '';
    const users = SANDBOX_ZOOM_USERS.map(
      (user) => html`<label><input type="radio" name="identity" value="${user.key}"${checked(user.key)}> ${user.name} — ${
        user.email
      }, account ${user.accountName}</label>`,
    );
    const body = html`<h1>Zoom sandbox: allow access?</h1>
${again ? html`<div class="notice error" role="alert"><p>${again.problem}</p></div>` : ''}
<p>An app (client id <code>${params.clientId}</code>) asks to access your Zoom account. This page stands in for
Zoom's consent screen in local mode: choose who you are at Zoom, then <strong>Allow</strong> to connect, or
<strong>Decline</strong> to go back without connecting.</p>
<form method="post" action="/sandbox/zoom/oauth/authorize">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="${params.clientId}">
<input type="hidden" name="redirect_uri" value="${params.redirectUri}">
${params.state === undefined ? '' : html`<input type="hidden" name="state" value="${params.state}">`}
<input type="hidden" name="code_challenge" value="${params.codeChallenge}">
<input type="hidden" name="code_challenge_method" value="S256">
<fieldset>
<legend>Sign in to Zoom as</legend>
${users}
<label><input type="radio" name="identity" value="custom"${checked('custom')}> Another Zoom user, with these ids:</label>
<label>Zoom account id <input type="text" name="custom_account_id" value="${typed('custom_account_id')}"
autocomplete="off" aria-describedby="id-hint"></label>
<label>Zoom user id <input type="text" name="custom_user_id" value="${typed('custom_user_id')}"
autocomplete="off" aria-describedby="id-hint"></label>
<p class="hint" id="id-hint">Ids are letters, digits, <code>-</code> and <code>_</code>.</p>
</fieldset>
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="decline" class="secondary">Decline</button>
</form>`;
    const redirectOrigin = new URL(params.redirectUri).origin;
    sendPage(res, {
      ...(again ? { status: 400 } : {}),
      title: 'Zoom sandbox: allow access?',
      body,
      formTargets: [redirectOrigin, ...this.#options.returnOrigins],
    });
  }

  #decide(res: ServerResponse, params: ConsentParams, form: URLSearchParams): void {
    const decision = form.get('decision');
    if (decision === 'decline') {
      sendRedirect(
        res,
        withQuery(params.redirectUri, {
          error: 'access_denied',
          error_description: 'The user denied the authorization request.',
          state: params.state,
        }),
      );
      return;
    }
    if (decision !== 'allow') {
      return this.#consentPage(res, params, { problem: 'Nothing was decided yet. Choose Allow or Decline.', form });
    }
    const identity = chosenIdentity(form);
    if (!identity) {
      return this.#consentPage(res, params, {
        problem:
          'Choose a Zoom user: pick one of the sandbox users, or choose “Another Zoom user” and enter both a Zoom ' +
          'account id and a Zoom user id (letters, digits, - and _).',
        form,
      });
    }
    const code = this.issueCode({ ...params, identity });
    sendRedirect(res, withQuery(params.redirectUri, { code, state: params.state }));
  }
}

type SandboxProblem = { heading: string; what: string | SafeHtml; next: string | SafeHtml };

/** Every sandbox error page offers a way back to where a flow starts locally. */
const START_AGAIN = { href: '/', text: 'Back to the demo page' };

function chosenIdentity(form: URLSearchParams): ZoomIdentity | undefined {
  const choice = form.get('identity');
  if (choice === 'custom') {
    const accountId = form.get('custom_account_id')?.trim() ?? '';
    const userId = form.get('custom_user_id')?.trim() ?? '';
    return ZOOM_ID.test(accountId) && ZOOM_ID.test(userId) ? { accountId, userId } : undefined;
  }
  const user = SANDBOX_ZOOM_USERS.find((candidate) => candidate.key === choice);
  return user && { accountId: user.accountId, userId: user.userId };
}

/** Appends parameters without re-serializing the redirect URI, which must stay byte for byte as registered. */
function withQuery(base: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(
    Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined),
  ).toString();
  const [beforeHash = base, hash] = base.split('#', 2);
  const joiner = beforeHash.includes('?') ? (beforeHash.endsWith('?') || beforeHash.endsWith('&') ? '' : '&') : '?';
  return `${beforeHash}${joiner}${query}${hash === undefined ? '' : `#${hash}`}`;
}

const invalidGrant = (description: string): CodeExchangeResult => ({ ok: false, error: 'invalid_grant', description });

/** PKCE S256: BASE64URL(SHA256(verifier)), RFC 7636 §4.2. */
export const s256 = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The headers Zoom signs a webhook with (docs/upstream.md): `x-zm-signature` = `v0=` + hex HMAC-SHA256 of
 * `v0:{timestamp}:{raw body}` under the app's Secret Token, and the timestamp in epoch seconds.
 * @param rawBody - the exact bytes that will be sent
 */
export function zoomWebhookHeaders(
  secretToken: string,
  rawBody: string | Buffer,
  timestampSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const timestamp = String(timestampSeconds);
  const signature = createHmac('sha256', secretToken).update(`v0:${timestamp}:`).update(rawBody).digest('hex');
  return {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Zoom Marketplace/1.0a',
    'x-zm-request-timestamp': timestamp,
    'x-zm-signature': `v0=${signature}`,
  };
}

/**
 * An `app_deauthorized` event as Zoom sends it when a user or an account admin removes the app (docs/upstream.md),
 * serialized the way Zoom does: compact JSON.
 * @param userDataRetention - Zoom sends the strings "true"/"false"; false obliges the app to delete the user's data
 */
export function deauthorizationEvent(input: {
  accountId: string;
  userId: string;
  clientId: string;
  userDataRetention?: boolean;
  now?: number;
}): string {
  const now = input.now ?? Date.now();
  return JSON.stringify({
    event: 'app_deauthorized',
    event_ts: now,
    payload: {
      account_id: input.accountId,
      user_id: input.userId,
      client_id: input.clientId,
      deauthorization_time: new Date(now).toISOString(),
      user_data_retention: input.userDataRetention ? 'true' : 'false',
    },
  });
}
