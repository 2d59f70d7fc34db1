import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod/mini';
import { readBody } from './http-util.js';
import { type ConflictMode, LOCAL_DEFAULTS, type RecallAppKind } from './local-settings.js';
import type { CodeExchangeInput, CodeExchangeResult, ZoomCodeExchanger, ZoomIdentity } from './sandbox-zoom.js';

/**
 * A sandbox of Recall's Zoom OAuth credential API (docs/upstream.md), strict where real Recall is
 * strict or where a client is easy to get wrong: `Authorization: Token <key>`, JSON bodies, trailing slashes (a path
 * without one is a 404 here, so the trap shows up locally), one credential per Zoom identity and OAuth app, codes
 * exchanged with (sandbox) Zoom once, `next` as a full URL with small pages so that clients must follow it.
 *
 * It also takes the Zoom webhooks a Zoom app's owner forwards to Recall (docs/upstream.md:
 * `POST /api/v2/zoom-oauth-apps/{id}/webhook`, documented without a trailing slash), verifying `x-zm-signature`
 * over the raw body with the app's webhook secret (the Zoom app's Secret Token), and has sandbox-only controls
 * under `/_sandbox/` to make a credential unhealthy or healthy, which Recall decides on its own.
 *
 * Requests that change something (POST, PUT, PATCH) honour `Idempotency-Key` as Recall documents it (docs/upstream.md): the
 * key, with the caller's API key and the path, names the request; a repeat of one that completed in the last hour
 * gets the first response without being performed again, and a repeat of one still being processed gets 409. A
 * fault that answers before processing (a 5xx from the edge, a hang, a reset) never reached that layer: nothing is
 * kept, and the repeat is performed.
 *
 * Served under a base path by the local server, or standalone via `startFakeRecall` for integration tests.
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

/** How the sandbox behaves where Recall's behaviour is undocumented or has changed; all switchable at run time. */
export interface SandboxRecallBehaviour {
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
  /**
   * Time Recall takes, per operation: a random wait before the request is processed, and one after (the answer in
   * flight while the change is already made). Off by default; race tests turn it on so that concurrent callers
   * really interleave.
   */
  latency: SandboxLatency;
}

/** `[min, max]` in ms; each request waits a uniformly random time in it. */
export type LatencyRange = readonly [number, number];

export type SandboxLatency = Partial<Record<RecallOperation, { beforeMs?: LatencyRange; afterMs?: LatencyRange }>>;

export const DEFAULT_BEHAVIOUR: SandboxRecallBehaviour = {
  appKind: 'user_level',
  conflictMode: 'conflict',
  spendCodeOnConflict: false,
  pageSize: 2,
  rejectLocalhostRedirect: false,
  latency: Object.freeze({}),
};

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

/** One request as the sandbox saw it. Bodies are never kept: a create body carries a Zoom code. */
export interface RecordedRequest {
  at: string;
  method: string;
  /** Path below the sandbox's base, without the query. */
  path: string;
  /** The query string (`?…` or empty): list filters and cursors, no secrets. */
  search: string;
  operation: RecallOperation;
  /** The status sent, or what a fault did instead. */
  status: number | 'hang' | 'reset';
  /** Set when a fault decided the response. */
  fault?: boolean;
  /** What processing answered when a fault then replaced the answer (`afterProcessing`, `*-after-processing`). */
  processedStatus?: number;
  /** A create's Zoom identity (as `FaultRequest.zoomIdentity`): which caller a create came from, never its code. */
  zoomIdentity?: ZoomIdentity;
  /** The credential id of a retrieve or delete. */
  credentialId?: string;
  /** The `Idempotency-Key` sent (a digest, never the code). */
  idempotencyKey?: string;
  /** Answered from the idempotency store: a repeat of a completed request, not performed again. */
  replayed?: boolean;
}

/** What a fault hook sees. */
export interface FaultRequest {
  method: string;
  path: string;
  operation: RecallOperation;
  query: URLSearchParams;
  /**
   * A create's Zoom identity, as Zoom would tell Recall for its code (found without spending the code); absent when
   * the code is not one Zoom would exchange. Lets a test fault one caller's create among concurrent ones.
   */
  zoomIdentity?: ZoomIdentity;
  /** The credential id of a retrieve or delete. */
  credentialId?: string;
}

/**
 * A scripted response. With `afterProcessing`, the request is processed first (a create does create) and the
 * client gets this response instead of the real one: "Recall did it, but the answer was lost".
 */
export interface FaultResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | object;
  afterProcessing?: boolean;
}

/**
 * `hang`: never answer (until the client gives up or the sandbox closes); `reset`: drop the connection. The
 * `-after-processing` forms do the request first (a create does create, a delete does delete): "Recall did it, and
 * then the caller never heard back", the moment a Lambda that dies mid-call leaves behind.
 */
export type FaultAction = FaultResponse | 'hang' | 'reset' | 'hang-after-processing' | 'reset-after-processing';

/**
 * A fault hook: return an action to apply it to this request, or undefined to let the request through. Queued in
 * `state.faults`; the first hook that returns an action is removed and applied, so each hook fires once.
 */
export type Fault = (request: FaultRequest) => FaultAction | undefined;

export interface SandboxRecallState {
  /** Live credentials by id. Tests may read and change them (e.g. mark one `unhealthy`). */
  credentials: Map<string, SandboxCredential>;
  requests: RecordedRequest[];
  faults: Fault[];
  /** Accepted forwarded Zoom webhooks, oldest first. */
  forwardedWebhooks: ForwardedWebhook[];
}

export interface SandboxRecallOptions extends Partial<SandboxRecallBehaviour> {
  /** The only API key accepted. */
  apiKey?: string;
  /**
   * The workspace's one Zoom OAuth app: its Recall id (`oauth_app`), the Zoom client id it holds, and its
   * `webhook_secret` (the Zoom app's Secret Token; default: local mode's sandbox token).
   */
  oauthApp?: {
    id: string;
    clientId: string;
    webhookSecret?: string;
    /**
     * When Recall last saw Zoom validate the app's webhook endpoint (`webhook_last_validation`), updated whenever a
     * forwarded `endpoint.url_validation` is answered. Default: the sandbox's start, as if the sandbox Zoom app had
     * been set up; `null` for an app whose endpoint Zoom never validated.
     */
    webhookLastValidation?: string | null;
  };
  /** Sandbox Zoom, which the sandbox exchanges codes with; can be attached later with `useZoom`. */
  zoom?: ZoomCodeExchanger;
  now?: () => number;
  /** Picks each latency within its range; default `Math.random`. */
  random?: () => number;
}

interface SandboxResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const ITEM = /^\/api\/v2\/zoom-oauth-credentials\/([^/]+)\/$/;
const APP_WEBHOOK = /^\/api\/v2\/zoom-oauth-apps\/([^/]+)\/webhook$/;
const APP_ITEM = /^\/api\/v2\/zoom-oauth-apps\/([^/]+)\/$/;
const SANDBOX_CREDENTIAL_STATUS = /^\/_sandbox\/credentials\/([^/]+)\/status$/;
const MAX_BODY_BYTES = 1024 * 1024;
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
  exchange: () => ({ ok: false, error: 'invalid_grant', description: 'No Zoom is attached to this sandbox.' }),
  inspect: () => ({ ok: false, error: 'invalid_grant', description: 'No Zoom is attached to this sandbox.' }),
};

export class SandboxRecall {
  readonly state: SandboxRecallState = { credentials: new Map(), requests: [], faults: [], forwardedWebhooks: [] };
  readonly behaviour: SandboxRecallBehaviour;
  readonly apiKey: string;
  readonly oauthApp: { id: string; clientId: string; webhookSecret: string; webhookLastValidation: string | null; createdAt: string };
  #zoom: ZoomCodeExchanger;
  readonly #now: () => number;
  readonly #random: () => number;
  #lastCreatedMicros = 0;
  readonly #hanging = new Set<ServerResponse>();
  /** Told when the request a `failWhen` fault fired on is recorded. */
  readonly #onApplied = new WeakMap<Fault, (request: RecordedRequest) => void>();
  /** Requests by idempotency scope (API key, path, key): running, or completed with their response. */
  readonly #idempotent = new Map<string, { running: true } | { running: false; at: number; response: SandboxResponse }>();

  constructor(options: SandboxRecallOptions = {}) {
    const { apiKey, oauthApp, zoom, now, random, ...behaviour } = options;
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...stripUndefined(behaviour) };
    this.apiKey = apiKey ?? LOCAL_DEFAULTS.recallApiKey;
    this.oauthApp = {
      id: oauthApp?.id ?? LOCAL_DEFAULTS.recallOAuthAppId,
      clientId: oauthApp?.clientId ?? LOCAL_DEFAULTS.zoomClientId,
      webhookSecret: oauthApp?.webhookSecret ?? LOCAL_DEFAULTS.zoomWebhookSecretToken,
      webhookLastValidation: null,
      createdAt: new Date((now ?? Date.now)()).toISOString(),
    };
    this.oauthApp.webhookLastValidation =
      oauthApp?.webhookLastValidation === undefined ? this.oauthApp.createdAt : oauthApp.webhookLastValidation;
    this.#zoom = zoom ?? noZoom;
    this.#now = now ?? Date.now;
    this.#random = random ?? Math.random;
  }

  /** Changes behaviour from now on (tests switch app kind or conflict mode between cases). */
  configure(patch: Partial<SandboxRecallBehaviour>): void {
    Object.assign(this.behaviour, stripUndefined(patch));
  }

  /** Attaches the sandbox Zoom that issued the codes this sandbox will be asked to exchange. */
  useZoom(zoom: ZoomCodeExchanger): void {
    this.#zoom = zoom;
  }

  /** Queues a fault for the next `times` requests of one operation. */
  failNext(operation: RecallOperation, action: FaultAction, times = 1): void {
    for (let i = 0; i < times; i++) {
      this.state.faults.push((request) => (request.operation === operation ? action : undefined));
    }
  }

  /**
   * Queues one fault for the first request `match` accepts (a crash test's "this create, and no other").
   * @returns the request as recorded once the fault was applied: for a hang, the moment the caller is left waiting
   */
  failWhen(match: (request: FaultRequest) => boolean, action: FaultAction): Promise<RecordedRequest> {
    return new Promise((resolve) => {
      const fault: Fault = (request) => (match(request) ? action : undefined);
      this.#onApplied.set(fault, resolve);
      this.state.faults.push(fault);
    });
  }

  /** Live credentials of one Zoom identity, matched the way this app kind matches them. */
  credentialsFor(identity: { userId?: string; accountId?: string }): SandboxCredential[] {
    return [...this.state.credentials.values()].filter(
      (credential) =>
        (identity.userId === undefined || credential.user_id === identity.userId) &&
        (identity.accountId === undefined || credential.account_id === identity.accountId),
    );
  }

  /**
   * Sets a credential's health, as Recall does when Zoom refuses its tokens (sandbox only: tests, the demo page).
   * @returns the credential, or undefined when no credential has this id
   */
  setCredentialStatus(id: string, status: CredentialStatus): SandboxCredential | undefined {
    const credential = this.state.credentials.get(id);
    if (credential) credential.status = status;
    return credential;
  }

  /** Recorded requests of one operation. */
  requestsOf(operation: RecallOperation): RecordedRequest[] {
    return this.state.requests.filter((request) => request.operation === operation);
  }

  /** Ends responses held open by `hang` faults. */
  close(): void {
    for (const res of this.#hanging) res.destroy();
    this.#hanging.clear();
  }

  /**
   * Serves one request.
   * @param path - the request path below the sandbox's base path
   * @param publicBase - the sandbox's base URL as the client reached it, for `next` links
   */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, publicBase: string): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const operation = operationOf(method, path);
    let applied: Fault | undefined;
    let details: Pick<FaultRequest, 'zoomIdentity' | 'credentialId'> = {};
    const idempotencyKey = IDEMPOTENT_METHODS.has(method) ? headerValue(req.headers['idempotency-key']) : undefined;
    let replayed = false;
    const record = (status: RecordedRequest['status'], fault?: boolean, processedStatus?: number) => {
      const recorded: RecordedRequest = {
        at: new Date(this.#now()).toISOString(),
        method,
        path,
        search: url.search,
        operation,
        status,
        ...(fault ? { fault } : {}),
        ...(processedStatus !== undefined ? { processedStatus } : {}),
        ...details,
        ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
        ...(replayed ? { replayed } : {}),
      };
      this.state.requests.push(recorded);
      if (applied) this.#onApplied.get(applied)?.(recorded);
    };

    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch {
      send(res, { status: 413, body: '' });
      record(413);
      return;
    }
    details = this.#requestDetails(operation, path, body);
    const taken = this.#takeFault({ method, path, operation, query: url.searchParams, ...details });
    applied = taken?.fault;
    const fault = taken?.action;
    if (fault === 'reset') {
      record('reset', true);
      req.socket.destroy();
      return;
    }
    if (fault === 'hang') {
      this.#hang(res);
      record('hang', true);
      return;
    }
    if (fault && typeof fault === 'object' && !fault.afterProcessing) {
      send(res, faultResponse(fault));
      record(fault.status, true);
      return;
    }
    const scope = idempotencyKey === undefined ? undefined : `${req.headers.authorization ?? ''}\n${path}\n${idempotencyKey}`;
    const earlier = scope === undefined ? undefined : this.#idempotent.get(scope);
    if (earlier && (earlier.running || this.#now() - earlier.at < IDEMPOTENCY_WINDOW_MS)) {
      // The endpoint's action is skipped: 409 while the first is running, its response once it completed.
      replayed = true;
      const answer = earlier.running
        ? json(409, { detail: 'A request with this Idempotency-Key is still being processed.' })
        : earlier.response;
      send(res, answer);
      record(answer.status);
      return;
    }
    if (scope !== undefined) this.#idempotent.set(scope, { running: true });
    const latency = this.behaviour.latency[operation];
    await this.#wait(latency?.beforeMs);
    const response = this.#process(method, path, url.searchParams, req.headers, body, publicBase);
    if (scope !== undefined) this.#idempotent.set(scope, { running: false, at: this.#now(), response });
    if (fault === 'hang-after-processing') {
      this.#hang(res);
      record('hang', true, response.status);
      return;
    }
    if (fault === 'reset-after-processing') {
      req.socket.destroy();
      record('reset', true, response.status);
      return;
    }
    await this.#wait(latency?.afterMs);
    const sent = fault ? faultResponse(fault) : response;
    if (!res.destroyed) send(res, sent);
    record(sent.status, fault ? true : undefined, fault ? response.status : undefined);
  }

  /** Who a request is about, for fault hooks and the log: the create's Zoom identity, the item's credential id. */
  #requestDetails(operation: RecallOperation, path: string, body: Buffer): Pick<FaultRequest, 'zoomIdentity' | 'credentialId'> {
    if (operation === 'retrieve' || operation === 'delete') {
      return { credentialId: decodeURIComponent(ITEM.exec(path)?.[1] ?? '') };
    }
    if (operation !== 'create') return {};
    try {
      const parsed = CreateBodySchema.safeParse(JSON.parse(body.toString('utf8')));
      if (!parsed.success) return {};
      const { code, redirect_uri: redirectUri, code_verifier: codeVerifier } = parsed.data.authorization_code;
      const inspected = this.#zoom.inspect({ code, redirectUri, codeVerifier, clientId: this.oauthApp.clientId });
      return inspected.ok ? { zoomIdentity: inspected.identity } : {};
    } catch {
      return {};
    }
  }

  #hang(res: ServerResponse): void {
    this.#hanging.add(res);
    res.on('close', () => this.#hanging.delete(res));
  }

  async #wait(range: LatencyRange | undefined): Promise<void> {
    if (!range) return;
    const [min, max] = range;
    const ms = min + this.#random() * Math.max(0, max - min);
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
  }

  #takeFault(request: FaultRequest): { fault: Fault; action: FaultAction } | undefined {
    for (let i = 0; i < this.state.faults.length; i++) {
      const fault = this.state.faults[i] as Fault;
      const action = fault(request);
      if (action !== undefined) {
        this.state.faults.splice(i, 1);
        return { fault, action };
      }
    }
    return undefined;
  }

  #process(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: IncomingMessage['headers'],
    body: Buffer,
    publicBase: string,
  ): SandboxResponse {
    // Recall's WAF runs before the application (docs/upstream.md): it blocks bodies on GET and localhost URLs.
    if (method === 'GET' && body.length > 0) return wafBlock();
    if (this.behaviour.rejectLocalhostRedirect && LOCALHOST_IN_PAYLOAD.test(body.toString('utf8'))) return wafBlock();

    const webhook = APP_WEBHOOK.exec(path);
    if (webhook) return this.#forwardedWebhook(method, decodeURIComponent(webhook[1] ?? ''), headers, body);
    const control = SANDBOX_CREDENTIAL_STATUS.exec(path);
    if (control) return this.#setStatusControl(method, decodeURIComponent(control[1] ?? ''), body);
    const item = ITEM.exec(path);
    const app = APP_ITEM.exec(path);
    if (path !== CREDENTIALS && !item && !app) return notFoundPage();
    if (headers.authorization !== `Token ${this.apiKey}`) return json(401, { detail: 'Invalid token.' });
    if (app) {
      if (method !== 'GET') return methodNotAllowed(method, 'GET');
      return this.#retrieveApp(decodeURIComponent(app[1] ?? ''));
    }
    if (path === CREDENTIALS) {
      if (method === 'POST') return this.#create(headers['content-type'], body);
      if (method === 'GET') return this.#list(query, publicBase);
      return methodNotAllowed(method, 'GET, POST');
    }
    const id = decodeURIComponent(item?.[1] ?? '');
    if (method === 'GET') return this.#retrieve(id);
    if (method === 'DELETE') return this.#delete(id);
    return methodNotAllowed(method, 'GET, DELETE');
  }

  /** Retrieve Zoom OAuth App (`GET /api/v2/zoom-oauth-apps/{id}/`): the workspace's one app, or 404 for any other id. */
  #retrieveApp(id: string): SandboxResponse {
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

  #create(contentType: string | undefined, body: Buffer): SandboxResponse {
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
    if (oauthApp !== this.oauthApp.id) {
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
    const existing = this.#conflictingCredential(identity);
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
      oauth_app: this.oauthApp.id,
      status: 'healthy',
      user_id: userLevel ? identity.userId : null,
      account_id: userLevel ? null : identity.accountId,
      access_token_callback_url: null,
      created_at: this.#createdAt(),
      meeting_sync_status: 'not_started',
    };
    this.state.credentials.set(credential.id, credential);
    return json(201, credential);
  }

  #conflictingCredential(identity: { userId: string; accountId: string }): SandboxCredential | undefined {
    const userLevel = this.behaviour.appKind === 'user_level';
    return [...this.state.credentials.values()].find(
      (credential) =>
        credential.oauth_app === this.oauthApp.id &&
        (userLevel ? credential.user_id === identity.userId : credential.account_id === identity.accountId),
    );
  }

  /** The documented legacy 400 (docs/upstream.md), word for word apart from the ids. */
  #conflictBody(identity: { userId: string; accountId: string }): Record<string, string> {
    if (this.behaviour.appKind === 'user_level') {
      const id = identity.userId;
      return {
        detail:
          `A Zoom OAuth Credential already exists for this OAuth App and Zoom account(user_id: ${id}). A Zoom OAuth ` +
          'App can have at most one Zoom OAuth Credential registered per authorized Zoom user. Please delete the ' +
          `existing Zoom OAuth Credential for Zoom user(user_id: ${id}) and try again.`,
        conflicting_zoom_user_id: id,
      };
    }
    const id = identity.accountId;
    return {
      detail:
        `A Zoom OAuth Credential already exists for this OAuth App and Zoom account(account_id: ${id}). A Zoom OAuth ` +
        'App can have at most one Zoom OAuth Credential registered per authorized Zoom account. Please delete the ' +
        `existing Zoom OAuth Credential for Zoom account(account_id: ${id}) and try again.`,
      conflicting_zoom_account_id: id,
    };
  }

  #list(query: URLSearchParams, publicBase: string): SandboxResponse {
    const status = query.get('status');
    if (status !== null && status !== 'healthy' && status !== 'unhealthy') {
      return json(400, { status: [`Select a valid choice. ${status} is not one of the available choices.`] });
    }
    const bounds: Record<'created_at_after' | 'created_at_before', number | undefined> = {
      created_at_after: undefined,
      created_at_before: undefined,
    };
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
    const matches = [...this.state.credentials.values()]
      .filter((credential) => {
        const created = Date.parse(credential.created_at);
        return (
          matchesFilter(query.get('oauth_app'), credential.oauth_app) &&
          matchesFilter(query.get('account_id'), credential.account_id) &&
          matchesFilter(query.get('user_id'), credential.user_id) &&
          matchesFilter(status, credential.status) &&
          (bounds.created_at_after === undefined || created >= bounds.created_at_after) &&
          (bounds.created_at_before === undefined || created <= bounds.created_at_before)
        );
      })
      .sort(byPosition);
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

  #retrieve(id: string): SandboxResponse {
    const credential = this.state.credentials.get(id);
    return credential ? json(200, credential) : notFound();
  }

  #delete(id: string): SandboxResponse {
    if (!this.state.credentials.delete(id)) return notFound();
    return { status: 204 };
  }

  /**
   * A Zoom webhook forwarded by the app's owner. No API key: Zoom itself calls this URL when it is the Zoom app's
   * endpoint, and the signature is the authentication. Zoom's timestamp tolerance is not applied: whether Recall
   * refuses an old timestamp is undocumented, and a forward retried from a queue is minutes old.
   */
  #forwardedWebhook(method: string, appId: string, headers: IncomingMessage['headers'], body: Buffer): SandboxResponse {
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
    this.state.forwardedWebhooks.push({
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
    for (const credential of this.state.credentials.values()) {
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
  #setStatusControl(method: string, id: string, body: Buffer): SandboxResponse {
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

/**
 * Starts the sandbox as its own HTTP server on a random loopback port, at the root path.
 * @returns `url` (for RECALL_API_BASE_URL), the inspectable `state`, the `sandbox` itself, and `close()`
 */
export async function startFakeRecall(
  options: SandboxRecallOptions = {},
): Promise<{ url: string; state: SandboxRecallState; sandbox: SandboxRecall; close(): Promise<void> }> {
  const sandbox = new SandboxRecall(options);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://sandbox.invalid').pathname;
    sandbox.handle(req, res, path, `http://${req.headers.host ?? 'localhost'}`).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    state: sandbox.state,
    sandbox,
    close: () =>
      new Promise<void>((resolve) => {
        sandbox.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function operationOf(method: string, path: string): RecallOperation {
  if (APP_WEBHOOK.test(path)) return 'webhook';
  if (APP_ITEM.test(path)) return 'app';
  if (SANDBOX_CREDENTIAL_STATUS.test(path)) return 'sandbox';
  if (path === CREDENTIALS) return method === 'POST' ? 'create' : method === 'GET' ? 'list' : 'other';
  if (ITEM.test(path)) return method === 'GET' ? 'retrieve' : method === 'DELETE' ? 'delete' : 'other';
  return 'other';
}

function exchangeFailed(result: CodeExchangeResult): SandboxResponse {
  const reason = result.ok ? 'unknown' : `${result.error}: ${result.description}`;
  return json(400, { detail: `Failed to exchange the authorization code with Zoom (${reason})` });
}

/** One header's value; a repeated header (which Node joins) is not a valid signature or timestamp anyway. */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function matchesFilter(filter: string | null, value: string | null): boolean {
  return filter === null || filter === value;
}

function byPosition(a: SandboxCredential, b: SandboxCredential | [string, string]): number {
  const [createdAt, id] = Array.isArray(b) ? b : [b.created_at, b.id];
  return a.created_at < createdAt ? -1 : a.created_at > createdAt ? 1 : a.id < id ? -1 : a.id > id ? 1 : 0;
}

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

const json = (status: number, body: unknown): SandboxResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const notFound = (): SandboxResponse => json(404, { detail: 'No ZoomOAuthCredential matches the given query.' });

/** Django's own 404 for an unknown path (no trailing slash, typo): HTML, not JSON. */
const notFoundPage = (): SandboxResponse => ({
  status: 404,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: '<!doctype html><title>Not Found</title><h1>Not Found</h1><p>The requested resource was not found.</p>',
});

const methodNotAllowed = (method: string, allow: string): SandboxResponse => ({
  ...json(405, { detail: `Method "${method}" not allowed.` }),
  headers: { 'content-type': 'application/json', allow },
});

const wafBlock = (): SandboxResponse => ({
  status: 403,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  body: '<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>',
});

function faultResponse(fault: FaultResponse): SandboxResponse {
  const body = fault.body === undefined ? '' : typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
  const headers = { ...(typeof fault.body === 'object' ? { 'content-type': 'application/json' } : {}), ...fault.headers };
  return { status: fault.status, headers, body };
}

function send(res: ServerResponse, response: SandboxResponse): void {
  res.writeHead(response.status, response.headers);
  res.end(response.status === 204 ? undefined : response.body);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
