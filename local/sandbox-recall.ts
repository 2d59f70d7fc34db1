import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readBody } from './http-util.js';
import { LOCAL_DEFAULTS } from './local-settings.js';
import {
  type CredentialStatus,
  credentialIdOf,
  type ForwardedWebhook,
  idempotencyKeyOf,
  MODEL_DEFAULTS,
  type ModelResponse,
  operationOf,
  type RecallModelBehaviour,
  RecallModel,
  type RecallModelOptions,
  type RecallOperation,
  type SandboxCredential,
} from './recall-model.js';
import type { ZoomCodeExchanger, ZoomIdentity } from './sandbox-zoom.js';

export {
  type CredentialStatus,
  type ForwardedWebhook,
  IDEMPOTENCY_WINDOW_MS,
  type RecallOperation,
  type SandboxCredential,
} from './recall-model.js';

/**
 * A sandbox of Recall's Zoom OAuth credential API (docs/upstream.md) over HTTP, strict where real Recall is
 * strict or where a client is easy to get wrong: `Authorization: Token <key>`, JSON bodies, trailing slashes (a path
 * without one is a 404 here, so the trap shows up locally), one credential per Zoom identity and OAuth app, codes
 * exchanged with (sandbox) Zoom once, `next` as a full URL with small pages so that clients must follow it. What
 * Recall does with a request is the model's (`recall-model.ts`); this file adds what only a server has: faults that
 * hang or drop the connection, latency, and a log of the requests.
 *
 * It also takes the Zoom webhooks a Zoom app's owner forwards to Recall (docs/upstream.md:
 * `POST /api/v2/zoom-oauth-apps/{id}/webhook`, documented without a trailing slash), verifying `x-zm-signature`
 * over the raw body with the app's webhook secret (the Zoom app's Secret Token), and has sandbox-only controls
 * under `/_sandbox/` to make a credential unhealthy or healthy, which Recall decides on its own.
 *
 * Requests that change something (POST, PUT, PATCH) honour `Idempotency-Key` as Recall documents it (docs/upstream.md).
 * A fault that answers before processing (a 5xx from the edge, a hang, a reset) never reached that layer: nothing is
 * kept, and the repeat is performed.
 *
 * Served under a base path by the local server, or standalone via `startFakeRecall` for integration tests.
 */

/** How the sandbox behaves where Recall's behaviour is undocumented or has changed; all switchable at run time. */
export interface SandboxRecallBehaviour extends RecallModelBehaviour {
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

export const DEFAULT_BEHAVIOUR: SandboxRecallBehaviour = { ...MODEL_DEFAULTS, latency: Object.freeze({}) };

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

export interface SandboxRecallOptions extends Partial<SandboxRecallBehaviour>, Pick<RecallModelOptions, 'zoom' | 'now'> {
  /** The only API key accepted; default: local mode's sandbox key. */
  apiKey?: string;
  /** The workspace's one Zoom OAuth app (see `RecallModelOptions`); defaults: local mode's sandbox app and token. */
  oauthApp?: { id: string; clientId: string; webhookSecret?: string; webhookLastValidation?: string | null };
  /** Picks each latency within its range; default `Math.random`. */
  random?: () => number;
}

const MAX_BODY_BYTES = 1024 * 1024;

export class SandboxRecall {
  /** What Recall does with a request, and the credentials it holds. */
  readonly model: RecallModel;
  readonly state: SandboxRecallState;
  readonly behaviour: SandboxRecallBehaviour;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #hanging = new Set<ServerResponse>();
  /** Told when the request a `failWhen` fault fired on is recorded. */
  readonly #onApplied = new WeakMap<Fault, (request: RecordedRequest) => void>();

  constructor(options: SandboxRecallOptions = {}) {
    const { apiKey, oauthApp, zoom, now, random, ...behaviour } = options;
    this.behaviour = { ...DEFAULT_BEHAVIOUR, ...stripUndefined(behaviour) };
    this.model = new RecallModel(
      {
        apiKey: apiKey ?? LOCAL_DEFAULTS.recallApiKey,
        oauthApp: {
          ...oauthApp,
          id: oauthApp?.id ?? LOCAL_DEFAULTS.recallOAuthAppId,
          clientId: oauthApp?.clientId ?? LOCAL_DEFAULTS.zoomClientId,
          webhookSecret: oauthApp?.webhookSecret ?? LOCAL_DEFAULTS.zoomWebhookSecretToken,
        },
        zoom,
        now,
      },
      this.behaviour,
    );
    this.state = { credentials: this.model.credentials, requests: [], faults: [], forwardedWebhooks: this.model.forwardedWebhooks };
    this.#now = now ?? Date.now;
    this.#random = random ?? Math.random;
  }

  get apiKey(): string {
    return this.model.apiKey;
  }

  get oauthApp(): RecallModel['oauthApp'] {
    return this.model.oauthApp;
  }

  /** Changes behaviour from now on (tests switch app kind or conflict mode between cases). */
  configure(patch: Partial<SandboxRecallBehaviour>): void {
    Object.assign(this.behaviour, stripUndefined(patch));
  }

  /** Attaches the sandbox Zoom that issued the codes this sandbox will be asked to exchange. */
  useZoom(zoom: ZoomCodeExchanger): void {
    this.model.useZoom(zoom);
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
    return this.model.credentialsFor(identity);
  }

  /**
   * Sets a credential's health, as Recall does when Zoom refuses its tokens (sandbox only: tests, the demo page).
   * @returns the credential, or undefined when no credential has this id
   */
  setCredentialStatus(id: string, status: CredentialStatus): SandboxCredential | undefined {
    return this.model.setCredentialStatus(id, status);
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
    const idempotencyKey = idempotencyKeyOf(method, req.headers);
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
    const latency = this.behaviour.latency[operation];
    const performed = await this.model.perform(
      { method, path, query: url.searchParams, headers: req.headers, body, publicBase },
      () => this.#wait(latency?.beforeMs),
    );
    const response = performed.response;
    if (performed.replayed) {
      // The endpoint's action was skipped: 409 while the first is running, its response once it completed.
      replayed = true;
      send(res, response);
      record(response.status);
      return;
    }
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
    if (operation === 'retrieve' || operation === 'delete') return { credentialId: credentialIdOf(path) };
    if (operation !== 'create') return {};
    const zoomIdentity = this.model.zoomIdentityOfCreate(body);
    return zoomIdentity ? { zoomIdentity } : {};
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

function faultResponse(fault: FaultResponse): ModelResponse {
  const body = fault.body === undefined ? '' : typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body);
  const headers = { ...(typeof fault.body === 'object' ? { 'content-type': 'application/json' } : {}), ...fault.headers };
  return { status: fault.status, headers, body };
}

function send(res: ServerResponse, response: ModelResponse): void {
  res.writeHead(response.status, response.headers);
  res.end(response.status === 204 ? undefined : response.body);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
