import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import type { ConflictMode, RecallAppKind } from './local-settings.js';
import type { CodeExchangeInput, CodeExchangeResult, ZoomCodeExchanger, ZoomIdentity } from './sandbox-zoom.js';

/**
 * Recall's Zoom OAuth credential API as a model in memory, with no HTTP in it (docs/upstream.md): the credential
 * store; create, with the code exchanged at a Zoom stand-in, one credential per Zoom identity and OAuth app, and the
 * legacy conflict or an update in place; list, with its filters, small pages and `next` as a full URL; retrieve;
 * delete; the OAuth app; forwarded Zoom webhooks; and `Idempotency-Key` replay. A request goes in as method, path,
 * query, headers and body, and a response comes out as status, headers and body.
 *
 * The Recall stand-ins are built on it: the sandbox's HTTP server (`sandbox-recall.ts`, which adds faults, latency
 * and a request log), the unit tests' `fetch` and use-case fakes (test/helpers/), and the bench's minimal Recall
 * (scripts/bench/fakes.ts).
 */

export type CredentialStatus = 'healthy' | 'unhealthy';

/** A credential as Recall returns it (`ZoomOAuthCredential`). */
export interface SandboxCredential {
  id: string;
  oauth_app: string;
  status: CredentialStatus;
  user_id: string | null;
  account_id: string | null;
  access_token_callback_url: null;
  created_at: string;
  meeting_sync_status: 'not_started' | 'in_progress' | 'completed' | 'failed';
}

/** How the model behaves where Recall's behaviour is undocumented or has changed; all switchable at run time. */
export interface RecallModelBehaviour {
  /** `user_level`: one credential per Zoom user; `account_level`: one per Zoom account. */
  appKind: RecallAppKind;
  /**
   * On a second create for the same Zoom identity: `conflict` answers the legacy 400 with
   * `conflicting_zoom_user_id`/`conflicting_zoom_account_id`; `update` updates the existing credential in place and
   * returns it with 201 (what Recall documents today).
   */
  conflictMode: ConflictMode;
  /**
   * When true, a create refused as a conflict has already exchanged (spent) the code, so creating again with the same
   * code fails with invalid_grant. Real Recall must exchange the code to learn the identity, so it probably does this.
   */
  spendCodeOnConflict: boolean;
  /** Results per list page; small by default so clients must follow `next`. */
  pageSize: number;
  /**
   * Mimic Recall's WAF, which answers 403 (HTML) to a payload containing a localhost URL. Off by default, because
   * local mode's redirect URI is on localhost; tests turn it on to check the service's handling of the 403.
   */
  rejectLocalhostRedirect: boolean;
}

export const MODEL_DEFAULTS: Readonly<RecallModelBehaviour> = Object.freeze({
  appKind: 'user_level',
  conflictMode: 'conflict',
  spendCodeOnConflict: false,
  pageSize: 2,
  rejectLocalhostRedirect: false,
});

export type RecallOperation = 'create' | 'list' | 'retrieve' | 'delete' | 'webhook' | 'app' | 'sandbox' | 'other';

/**
 * A Zoom webhook forwarded to the sandbox and accepted (signature valid). The body is not kept, only its digest:
 * tests compare it with the bytes they sent, to prove the forward was byte-identical.
 */
export interface ForwardedWebhook {
  at: string;
  /** The Recall Zoom OAuth app id in the path. */
  appId: string;
  /** The body's `event` (`app_deauthorized`, `endpoint.url_validation`, …). */
  event: string;
  /** `x-zm-request-timestamp` as received. */
  timestamp: string;
  /** Hex SHA-256 of the raw body. */
  bodySha256: string;
  /** Hex SHA-256 of `x-zm-signature` as received (the signature itself is not kept). */
  signatureSha256: string;
  contentType: string | undefined;
  /** Credentials this event made unhealthy (an `app_deauthorized` for a Zoom identity that still had one). */
  markedUnhealthy: string[];
}

/** Request headers by lower-case name, as Node gives them. */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** One request to the model. */
export interface ModelRequest {
  method: string;
  /** The path below Recall's base, without the query. */
  path: string;
  query: URLSearchParams;
  headers: RequestHeaders;
  body: Buffer;
  /** Recall's base URL as the client reached it, for `next` links. */
  publicBase: string;
}

export interface ModelResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RecallModelOptions {
  /** The only API key accepted. */
  apiKey: string;
  /**
   * The workspace's one Zoom OAuth app: its Recall id (`oauth_app`), the Zoom client id it holds, and its
   * `webhook_secret` (the Zoom app's Secret Token).
   */
  oauthApp: {
    id: string;
    clientId: string;
    webhookSecret: string;
    /**
     * When Recall last saw Zoom validate the app's webhook endpoint (`webhook_last_validation`), updated whenever a
     * forwarded `endpoint.url_validation` is answered. Default: the model's start, as if the Zoom app had been set
     * up; `null` for an app whose endpoint Zoom never validated.
     */
    webhookLastValidation?: string | null | undefined;
  };
  /**
   * Take a create for whichever OAuth app it names, as that app (the bench's Recall, which does not know the app id
   * the stack under test was synthesized with). Off: a create for another app is refused, as Recall refuses it.
   */
  anyOAuthApp?: boolean | undefined;
  /** The Zoom that issued the codes the model will be asked to exchange; can be attached later with `useZoom`. */
  zoom?: ZoomCodeExchanger | undefined;
  now?: (() => number) | undefined;
}

/** A credential as any Recall stand-in keeps it: Recall's shape, with the fields a test may leave out optional. */
export interface StoredCredential {
  id: string;
  oauth_app?: string | undefined;
  status?: string | undefined;
  user_id?: string | null | undefined;
  account_id?: string | null | undefined;
  created_at?: string | undefined;
}

/** Recall's list filters; an absent one does not filter. The `created_at` bounds are inclusive, in epoch ms. */
export interface CredentialFilter {
  oauth_app?: string | null | undefined;
  user_id?: string | null | undefined;
  account_id?: string | null | undefined;
  status?: string | null | undefined;
  created_at_after?: number | undefined;
  created_at_before?: number | undefined;
}

/**
 * The live credentials, by id, and how Recall finds them: what every Recall stand-in shares, from the sandbox to the
 * use-case fakes of the unit tests. Listing order is Recall's cursor order, (created_at, id).
 */
export class CredentialTable<C extends StoredCredential = SandboxCredential> {
  readonly byId = new Map<string, C>();

  /** Every credential the filter matches, in listing order. */
  matching(filter: CredentialFilter): C[] {
    return [...this.byId.values()]
      .filter((credential) => {
        const created = Date.parse(credential.created_at ?? '');
        return (
          matchesFilter(filter.oauth_app, credential.oauth_app) &&
          matchesFilter(filter.account_id, credential.account_id) &&
          matchesFilter(filter.user_id, credential.user_id) &&
          matchesFilter(filter.status, credential.status) &&
          (filter.created_at_after === undefined || created >= filter.created_at_after) &&
          (filter.created_at_before === undefined || created <= filter.created_at_before)
        );
      })
      .sort(byPosition);
  }

  /**
   * The credentials of one Zoom identity in one OAuth app, matched as Recall matches a conflict: on the Zoom user for
   * a user-level app, on the account for an account-level one.
   */
  ofIdentity(oauthApp: string, appKind: RecallAppKind, identity: ZoomIdentity): C[] {
    return [...this.byId.values()].filter(
      (credential) =>
        credential.oauth_app === oauthApp &&
        (appKind === 'user_level' ? credential.user_id === identity.userId : credential.account_id === identity.accountId),
    );
  }
}

const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const ITEM = /^\/api\/v2\/zoom-oauth-credentials\/([^/]+)\/$/;
const APP_WEBHOOK = /^\/api\/v2\/zoom-oauth-apps\/([^/]+)\/webhook$/;
const APP_ITEM = /^\/api\/v2\/zoom-oauth-apps\/([^/]+)\/$/;
const SANDBOX_CREDENTIAL_STATUS = /^\/_sandbox\/credentials\/([^/]+)\/status$/;
/** How long Recall keeps a completed request's response for a repeat with the same `Idempotency-Key`. */
export const IDEMPOTENCY_WINDOW_MS = 60 * 60 * 1000;
const IDEMPOTENT_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const LOCALHOST_IN_PAYLOAD = /localhost|127\.0\.0\.1|\[::1\]/i;

const CreateBodySchema = z.object({
  oauth_app: z.string().check(z.minLength(1)),
  authorization_code: z.object({
    code: z.string().check(z.minLength(1)),
    redirect_uri: z.url(),
    code_verifier: z.optional(z.nullable(z.string())),
  }),
  access_token_callback_url: z.optional(z.nullable(z.string())),
});

const ForwardedEventSchema = z.looseObject({
  event: z.string().check(z.minLength(1)),
  payload: z.optional(
    z.looseObject({
      plainToken: z.optional(z.string()),
      user_id: z.optional(z.string()),
      account_id: z.optional(z.string()),
    }),
  ),
});

const CredentialStatusSchema = z.object({ status: z.enum(['healthy', 'unhealthy']) });

const noZoom: ZoomCodeExchanger = {
  exchange: () => ({ ok: false, error: 'invalid_grant', description: 'No Zoom is attached to this model.' }),
  inspect: () => ({ ok: false, error: 'invalid_grant', description: 'No Zoom is attached to this model.' }),
};

/** Recall's Zoom OAuth credential API in memory (see the top of this file). */
export class RecallModel {
  readonly table = new CredentialTable<SandboxCredential>();
  /** Live credentials by id. Tests may read and change them (e.g. mark one `unhealthy`). */
  readonly credentials = this.table.byId;
  /** Accepted forwarded Zoom webhooks, oldest first. */
  readonly forwardedWebhooks: ForwardedWebhook[] = [];
  readonly behaviour: RecallModelBehaviour;
  readonly apiKey: string;
  readonly oauthApp: { id: string; clientId: string; webhookSecret: string; webhookLastValidation: string | null; createdAt: string };
  readonly #anyOAuthApp: boolean;
  #zoom: ZoomCodeExchanger;
  readonly #now: () => number;
  #lastCreatedMicros = 0;
  /** Requests by idempotency scope (API key, path, key): running, or completed with their response. */
  readonly #idempotent = new Map<string, { running: true } | { running: false; at: number; response: ModelResponse }>();

  /** @param behaviour - kept, not copied: whoever holds it may change it between requests */
  constructor(options: RecallModelOptions, behaviour: RecallModelBehaviour = { ...MODEL_DEFAULTS }) {
    const { apiKey, oauthApp, zoom, now } = options;
    this.behaviour = behaviour;
    this.apiKey = apiKey;
    const createdAt = new Date((now ?? Date.now)()).toISOString();
    this.oauthApp = {
      id: oauthApp.id,
      clientId: oauthApp.clientId,
      webhookSecret: oauthApp.webhookSecret,
      webhookLastValidation: oauthApp.webhookLastValidation === undefined ? createdAt : oauthApp.webhookLastValidation,
      createdAt,
    };
    this.#anyOAuthApp = options.anyOAuthApp ?? false;
    this.#zoom = zoom ?? noZoom;
    this.#now = now ?? Date.now;
  }

  /** Attaches the Zoom that issued the codes this model will be asked to exchange. */
  useZoom(zoom: ZoomCodeExchanger): void {
    this.#zoom = zoom;
  }

  /** Live credentials of one Zoom identity, matched the way this app kind matches them. */
  credentialsFor(identity: { userId?: string; accountId?: string }): SandboxCredential[] {
    return [...this.credentials.values()].filter(
      (credential) =>
        (identity.userId === undefined || credential.user_id === identity.userId) &&
        (identity.accountId === undefined || credential.account_id === identity.accountId),
    );
  }

  /**
   * Sets a credential's health, as Recall does when Zoom refuses its tokens.
   * @returns the credential, or undefined when no credential has this id
   */
  setCredentialStatus(id: string, status: CredentialStatus): SandboxCredential | undefined {
    const credential = this.credentials.get(id);
    if (credential) credential.status = status;
    return credential;
  }

  /**
   * The Zoom identity a create body's code belongs to, found without spending the code; undefined when the body or
   * the code is not one Zoom would exchange.
   */
  zoomIdentityOfCreate(body: Buffer): ZoomIdentity | undefined {
    try {
      const parsed = CreateBodySchema.safeParse(JSON.parse(body.toString('utf8')));
      if (!parsed.success) return undefined;
      const { code, redirect_uri: redirectUri, code_verifier: codeVerifier } = parsed.data.authorization_code;
      const inspected = this.#zoom.inspect({ code, redirectUri, codeVerifier, clientId: this.oauthApp.clientId });
      return inspected.ok ? inspected.identity : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Serves one request with `Idempotency-Key` as Recall documents it: the key, with the caller's API key and the
   * path, names the request; a repeat of one that completed in the last hour gets the first response without being
   * performed again (`replayed`), and a repeat of one still being processed gets 409.
   * @param beforeProcessing - awaited after the idempotency check, before the request is performed (latency)
   */
  async perform(request: ModelRequest, beforeProcessing?: () => Promise<void>): Promise<{ response: ModelResponse; replayed: boolean }> {
    const key = idempotencyKeyOf(request.method, request.headers);
    const scope = key === undefined ? undefined : `${headerValue(request.headers.authorization) ?? ''}\n${request.path}\n${key}`;
    const earlier = scope === undefined ? undefined : this.#idempotent.get(scope);
    if (earlier && (earlier.running || this.#now() - earlier.at < IDEMPOTENCY_WINDOW_MS)) {
      // The endpoint's action is skipped: 409 while the first is running, its response once it completed.
      const response = earlier.running
        ? json(409, { detail: 'A request with this Idempotency-Key is still being processed.' })
        : earlier.response;
      return { response, replayed: true };
    }
    if (scope !== undefined) this.#idempotent.set(scope, { running: true });
    await beforeProcessing?.();
    const response = this.respond(request);
    if (scope !== undefined) this.#idempotent.set(scope, { running: false, at: this.#now(), response });
    return { response, replayed: false };
  }

  /** Performs one request, with no idempotency check (see `perform`). */
  respond({ method, path, query, headers, body, publicBase }: ModelRequest): ModelResponse {
    // Recall's WAF runs before the application (docs/upstream.md): it blocks bodies on GET and localhost URLs.
    if (method === 'GET' && body.length > 0) return wafBlock();
    if (this.behaviour.rejectLocalhostRedirect && LOCALHOST_IN_PAYLOAD.test(body.toString('utf8'))) return wafBlock();

    const webhook = APP_WEBHOOK.exec(path);
    if (webhook) return this.#forwardedWebhook(method, pathSegment(webhook[1] ?? ''), headers, body);
    const control = SANDBOX_CREDENTIAL_STATUS.exec(path);
    if (control) return this.#setStatusControl(method, pathSegment(control[1] ?? ''), body);
    const item = ITEM.exec(path);
    const app = APP_ITEM.exec(path);
    if (path !== CREDENTIALS && !item && !app) return notFoundPage();
    if (headers.authorization !== `Token ${this.apiKey}`) return json(401, { detail: 'Invalid token.' });
    if (app) {
      if (method !== 'GET') return methodNotAllowed(method, 'GET');
      return this.#retrieveApp(pathSegment(app[1] ?? ''));
    }
    if (path === CREDENTIALS) {
      if (method === 'POST') return this.#create(headerValue(headers['content-type']), body);
      if (method === 'GET') return this.#list(query, publicBase);
      return methodNotAllowed(method, 'GET, POST');
    }
    const id = pathSegment(item?.[1] ?? '');
    if (method === 'GET') return this.#retrieve(id);
    if (method === 'DELETE') return this.#delete(id);
    return methodNotAllowed(method, 'GET, DELETE');
  }

  /** Retrieve Zoom OAuth App (`GET /api/v2/zoom-oauth-apps/{id}/`): the workspace's one app, or 404 for any other id. */
  #retrieveApp(id: string): ModelResponse {
    if (id !== this.oauthApp.id) return json(404, { detail: 'Not found.' });
    return json(200, {
      id: this.oauthApp.id,
      kind: this.behaviour.appKind,
      client_id: this.oauthApp.clientId,
      client_secret: 'sandbox-zoom-client-secret',
      webhook_secret: this.oauthApp.webhookSecret,
      webhook_last_validation: this.oauthApp.webhookLastValidation,
      created_at: this.oauthApp.createdAt,
    });
  }

  #create(contentType: string | undefined, body: Buffer): ModelResponse {
    const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return json(415, { detail: `Unsupported media type "${contentType ?? ''}" in request.` });
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch {
      return json(400, { detail: 'JSON parse error.' });
    }
    const parsed = CreateBodySchema.safeParse(payload);
    if (!parsed.success) return json(400, fieldErrors(parsed.error.issues));
    const { oauth_app: oauthApp, authorization_code: authorization } = parsed.data;
    if (oauthApp !== this.oauthApp.id && !this.#anyOAuthApp) {
      return json(400, { detail: 'Invalid oauth_app: no Zoom OAuth App with this id exists in this workspace.' });
    }
    const exchange: CodeExchangeInput = {
      code: authorization.code,
      redirectUri: authorization.redirect_uri,
      codeVerifier: authorization.code_verifier,
      clientId: this.oauthApp.clientId,
    };

    const inspected = this.#zoom.inspect(exchange);
    if (!inspected.ok) return exchangeFailed(this.#zoom.exchange(exchange));
    const identity = inspected.identity;
    const [existing] = this.table.ofIdentity(oauthApp, this.behaviour.appKind, identity);
    if (existing && this.behaviour.conflictMode === 'conflict') {
      if (this.behaviour.spendCodeOnConflict) this.#zoom.exchange(exchange);
      return json(400, this.#conflictBody(identity));
    }
    const exchanged = this.#zoom.exchange(exchange);
    if (!exchanged.ok) return exchangeFailed(exchanged);
    if (existing) {
      // Recall's current behaviour: the same credential, updated with the new tokens, healthy again.
      existing.status = 'healthy';
      return json(201, existing);
    }
    const userLevel = this.behaviour.appKind === 'user_level';
    const credential: SandboxCredential = {
      id: randomUUID(),
      oauth_app: oauthApp,
      status: 'healthy',
      user_id: userLevel ? identity.userId : null,
      account_id: userLevel ? null : identity.accountId,
      access_token_callback_url: null,
      created_at: this.#createdAt(),
      meeting_sync_status: 'not_started',
    };
    this.credentials.set(credential.id, credential);
    return json(201, credential);
  }

  /** The documented legacy 400 (docs/upstream.md), word for word apart from the ids. */
  #conflictBody(identity: ZoomIdentity): Record<string, string> {
    const [field, id, holder] =
      this.behaviour.appKind === 'user_level'
        ? (['user_id', identity.userId, 'user'] as const)
        : (['account_id', identity.accountId, 'account'] as const);
    return {
      detail:
        `A Zoom OAuth Credential already exists for this OAuth App and Zoom account(${field}: ${id}). A Zoom OAuth ` +
        `App can have at most one Zoom OAuth Credential registered per authorized Zoom ${holder}. Please delete the ` +
        `existing Zoom OAuth Credential for Zoom ${holder}(${field}: ${id}) and try again.`,
      [`conflicting_zoom_${field}`]: id,
    };
  }

  #list(query: URLSearchParams, publicBase: string): ModelResponse {
    const status = query.get('status');
    if (status !== null && status !== 'healthy' && status !== 'unhealthy') {
      return json(400, { status: [`Select a valid choice. ${status} is not one of the available choices.`] });
    }
    const bounds: Pick<CredentialFilter, 'created_at_after' | 'created_at_before'> = {};
    for (const name of ['created_at_after', 'created_at_before'] as const) {
      const value = query.get(name);
      if (value === null) continue;
      const time = Date.parse(value);
      if (Number.isNaN(time)) return json(400, { [name]: ['Enter a valid date/time.'] });
      bounds[name] = time;
    }
    let after: [string, string] | undefined;
    const cursor = query.get('cursor');
    if (cursor !== null) {
      after = decodeCursor(cursor);
      if (!after) return json(404, { detail: 'Invalid cursor' });
    }
    const matches = this.table.matching({
      oauth_app: query.get('oauth_app'),
      account_id: query.get('account_id'),
      user_id: query.get('user_id'),
      status,
      ...bounds,
    });
    // Cursor pagination by position (created_at, id): deleting a listed credential between pages skips nothing.
    const remaining = after ? matches.filter((credential) => byPosition(credential, after) > 0) : matches;
    const page = remaining.slice(0, this.behaviour.pageSize);
    const last = page.at(-1);
    let next: string | null = null;
    if (last && remaining.length > page.length) {
      const nextQuery = new URLSearchParams(query);
      nextQuery.set('cursor', encodeCursor([last.created_at, last.id]));
      next = `${publicBase}${CREDENTIALS}?${nextQuery}`;
    }
    return json(200, { next, previous: null, results: page });
  }

  #retrieve(id: string): ModelResponse {
    const credential = this.credentials.get(id);
    return credential ? json(200, credential) : notFound();
  }

  #delete(id: string): ModelResponse {
    if (!this.credentials.delete(id)) return notFound();
    return { status: 204 };
  }

  /**
   * A Zoom webhook forwarded by the app's owner. No API key: Zoom itself calls this URL when it is the Zoom app's
   * endpoint, and the signature is the authentication. Zoom's timestamp tolerance is not applied: whether Recall
   * refuses an old timestamp is undocumented, and a forward retried from a queue is minutes old.
   */
  #forwardedWebhook(method: string, appId: string, headers: RequestHeaders, body: Buffer): ModelResponse {
    if (appId !== this.oauthApp.id) return json(404, { detail: 'Not found.' });
    if (method !== 'POST') return methodNotAllowed(method, 'POST');
    const timestamp = headerValue(headers['x-zm-request-timestamp']);
    const signature = headerValue(headers['x-zm-signature']);
    if (timestamp === undefined || signature === undefined || !this.#validSignature(timestamp, signature, body)) {
      return json(401, { detail: 'Invalid Zoom webhook signature.' });
    }
    let parsed: z.infer<typeof ForwardedEventSchema>;
    try {
      const result = ForwardedEventSchema.safeParse(JSON.parse(body.toString('utf8')));
      if (!result.success) return json(400, { detail: 'Not a Zoom webhook event.' });
      parsed = result.data;
    } catch {
      return json(400, { detail: 'JSON parse error.' });
    }
    const markedUnhealthy = parsed.event === 'app_deauthorized' ? this.#deauthorize(parsed.payload ?? {}) : [];
    this.forwardedWebhooks.push({
      at: new Date(this.#now()).toISOString(),
      appId,
      event: parsed.event,
      timestamp,
      bodySha256: createHash('sha256').update(body).digest('hex'),
      signatureSha256: createHash('sha256').update(signature).digest('hex'),
      contentType: headerValue(headers['content-type']),
      markedUnhealthy,
    });
    if (parsed.event === 'endpoint.url_validation') {
      const plainToken = parsed.payload?.plainToken;
      if (!plainToken) return json(400, { detail: 'payload.plainToken is required.' });
      const encryptedToken = createHmac('sha256', this.oauthApp.webhookSecret).update(plainToken).digest('hex');
      this.oauthApp.webhookLastValidation = new Date(this.#now()).toISOString();
      return json(200, { plainToken, encryptedToken });
    }
    return { status: 200 };
  }

  #validSignature(timestamp: string, signature: string, body: Buffer): boolean {
    const expected = `v0=${createHmac('sha256', this.oauthApp.webhookSecret)
      .update(`v0:${timestamp}:`)
      .update(body)
      .digest('hex')}`;
    const left = Buffer.from(signature);
    const right = Buffer.from(expected);
    return left.length === right.length && timingSafeEqual(left, right);
  }

  /**
   * What Recall does on a deauthorization: the credential of that Zoom identity becomes unhealthy (docs/upstream.md).
   * A user-level credential matches on the Zoom user, an account-level one on the account.
   */
  #deauthorize(payload: { user_id?: string | undefined; account_id?: string | undefined }): string[] {
    const marked: string[] = [];
    for (const credential of this.credentials.values()) {
      if (credential.oauth_app !== this.oauthApp.id) continue;
      const matches =
        credential.user_id !== null
          ? credential.user_id === payload.user_id
          : credential.account_id !== null && credential.account_id === payload.account_id;
      if (matches) {
        credential.status = 'unhealthy';
        marked.push(credential.id);
      }
    }
    return marked;
  }

  /** `POST /_sandbox/credentials/{id}/status` with `{"status": "healthy" | "unhealthy"}`: sandbox only. */
  #setStatusControl(method: string, id: string, body: Buffer): ModelResponse {
    if (method !== 'POST') return methodNotAllowed(method, 'POST');
    let parsed: ReturnType<typeof CredentialStatusSchema.safeParse>;
    try {
      parsed = CredentialStatusSchema.safeParse(JSON.parse(body.toString('utf8')));
    } catch {
      return json(400, { detail: 'JSON parse error.' });
    }
    if (!parsed.success) return json(400, { status: ['Must be "healthy" or "unhealthy".'] });
    const credential = this.setCredentialStatus(id, parsed.data.status);
    return credential ? json(200, credential) : notFound();
  }

  /** Microsecond timestamps like Recall's, strictly increasing so that list order is stable. */
  #createdAt(): string {
    const micros = Math.max(this.#now() * 1000, this.#lastCreatedMicros + 1);
    this.#lastCreatedMicros = micros;
    const iso = new Date(Math.floor(micros / 1000)).toISOString();
    return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`;
  }
}

/** Which API operation a request is (for fault hooks, logs and counts). */
export function operationOf(method: string, path: string): RecallOperation {
  if (APP_WEBHOOK.test(path)) return 'webhook';
  if (APP_ITEM.test(path)) return 'app';
  if (SANDBOX_CREDENTIAL_STATUS.test(path)) return 'sandbox';
  if (path === CREDENTIALS) return method === 'POST' ? 'create' : method === 'GET' ? 'list' : 'other';
  if (ITEM.test(path)) return method === 'GET' ? 'retrieve' : method === 'DELETE' ? 'delete' : 'other';
  return 'other';
}

/**
 * A path segment decoded; one that is not valid percent-encoding stays as sent, so it names nothing and gets a 404
 * rather than a URIError (a 500).
 */
function pathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The credential id in a retrieve's or delete's path. */
export const credentialIdOf = (path: string): string => pathSegment(ITEM.exec(path)?.[1] ?? '');

/** The `Idempotency-Key` of a request that changes something (POST, PUT, PATCH); Recall ignores it on others. */
export function idempotencyKeyOf(method: string, headers: RequestHeaders): string | undefined {
  return IDEMPOTENT_METHODS.has(method) ? headerValue(headers['idempotency-key']) : undefined;
}

function exchangeFailed(result: CodeExchangeResult): ModelResponse {
  const reason = result.ok ? 'unknown' : `${result.error}: ${result.description}`;
  return json(400, { detail: `Failed to exchange the authorization code with Zoom (${reason})` });
}

/** One header's value; a repeated header (which Node joins) is not a valid signature or timestamp anyway. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function matchesFilter(filter: string | null | undefined, value: string | null | undefined): boolean {
  return filter === null || filter === undefined || filter === value;
}

/** Listing order: by `created_at`, then id; a credential without `created_at` (only a test's) lists last. */
function byPosition(a: StoredCredential, b: StoredCredential | [string, string]): number {
  const [createdAt, id] = Array.isArray(b) ? b : [b.created_at ?? UNDATED, b.id];
  const aCreatedAt = a.created_at ?? UNDATED;
  return aCreatedAt < createdAt ? -1 : aCreatedAt > createdAt ? 1 : a.id < id ? -1 : a.id > id ? 1 : 0;
}

const UNDATED = '\uffff';

const encodeCursor = (position: [string, string]) => Buffer.from(JSON.stringify(position)).toString('base64url');

function decodeCursor(cursor: string): [string, string] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAt, id] = value as unknown[];
    return typeof createdAt === 'string' && typeof id === 'string' ? [createdAt, id] : undefined;
  } catch {
    return undefined;
  }
}

/** Django REST Framework's shape for field errors: `{"field": ["message"]}`. */
function fieldErrors(issues: readonly { path: PropertyKey[]; message: string; code?: string }[]): object {
  const errors: Record<string, string[]> = {};
  for (const issue of issues) {
    const field = issue.path.map(String).join('.') || 'non_field_errors';
    const message = issue.code === 'invalid_type' ? 'This field is required.' : issue.message;
    (errors[field] ??= []).push(message);
  }
  return errors;
}

/** A JSON response. */
export const json = (status: number, body: unknown): ModelResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const notFound = (): ModelResponse => json(404, { detail: 'No ZoomOAuthCredential matches the given query.' });

/** Django's own 404 for an unknown path (no trailing slash, typo): HTML, not JSON. */
const notFoundPage = (): ModelResponse => ({
  status: 404,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: '<!doctype html><title>Not Found</title><h1>Not Found</h1><p>The requested resource was not found.</p>',
});

const methodNotAllowed = (method: string, allow: string): ModelResponse => ({
  ...json(405, { detail: `Method "${method}" not allowed.` }),
  headers: { 'content-type': 'application/json', allow },
});

const wafBlock = (): ModelResponse => ({
  status: 403,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: '<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>',
});
