import * as z from 'zod/mini';
import { RecallOutcomeUnknownError, RecallRejectedError, RecallUnavailableError } from '../core/errors.js';
import { type HttpFetch, type HttpResponse, nodeFetch } from './node-fetch.js';
import { abortableSleep } from '../core/sleep.js';

/** A Recall Zoom OAuth credential, as create, retrieve and list return it. Unknown fields are kept. */
export const RecallCredentialSchema = z.looseObject({
  id: z.string().check(z.minLength(1)),
  oauth_app: z.optional(z.string()),
  status: z.optional(z.string()),
  user_id: z.optional(z.nullable(z.string())),
  account_id: z.optional(z.nullable(z.string())),
  created_at: z.optional(z.string()),
});
export type RecallCredential = z.infer<typeof RecallCredentialSchema>;

const CredentialPageSchema = z.object({
  next: z.optional(z.nullable(z.string())),
  results: z.array(RecallCredentialSchema),
});

/** Recall's 400 for create (`ZoomOAuthCredentialBadRequest`). */
const CreateBadRequestSchema = z.looseObject({
  detail: z.optional(z.string()),
  /** An error code some Recall errors carry; only a plain identifier is kept. */
  code: z.optional(z.unknown()),
  conflicting_zoom_account_id: z.optional(z.nullable(z.string())),
  conflicting_zoom_user_id: z.optional(z.nullable(z.string())),
});

export interface CreateCredentialInput {
  oauthApp: string;
  code: string;
  redirectUri: string;
  codeVerifier?: string;
  /**
   * Sent as `Idempotency-Key`: the same on every try of one exchange, so that Recall performs it at most once and
   * answers a repeat with the first answer (409 while the first is still running). Derived from the attempt, never
   * the code itself.
   */
  idempotencyKey: string;
}

/** The Zoom identity a credential belongs to; Recall allows one credential per identity and OAuth app. */
export type ZoomIdentityFilter = { account_id: string } | { user_id: string };

export type CreateCredentialResult =
  | { kind: 'created'; credential: RecallCredential }
  | { kind: 'conflict'; conflict: ZoomIdentityFilter; detail: string }
  | { kind: 'bad_request'; detail: string };

export interface ListCredentialsFilter {
  oauth_app: string;
  account_id?: string;
  user_id?: string;
  status?: 'healthy' | 'unhealthy';
  created_at_after?: string;
}

/** A verified Zoom webhook, as Zoom sent it. */
export interface ForwardZoomWebhookInput {
  /** The Recall Zoom OAuth App the event belongs to. */
  oauthApp: string;
  /** The raw body, byte for byte: Recall checks Zoom's signature over it. */
  body: Uint8Array;
  headers: {
    'x-zm-signature': string;
    'x-zm-request-timestamp': string;
    /** As received; `application/json` when Zoom sent none. */
    'content-type'?: string | undefined;
  };
}

export interface RetryPolicy {
  /** Attempts per call, the first included. */
  maxAttempts: number;
  /** Base of the exponential backoff, in ms (full jitter). */
  baseDelayMs: number;
  /**
   * Cap of any single wait, in ms. A `Retry-After` longer than this ends the call instead: retrying sooner than
   * Recall asked would only be refused again.
   */
  maxDelayMs: number;
}

export interface RecallClientOptions {
  baseUrl: string;
  apiKey: () => Promise<string>;
  /** Per-request timeout in ms. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /**
   * The HTTP client: `nodeFetch` (node:http) by default; the global `fetch` fits too. The client relies on nothing
   * beyond `HttpResponse`, so the default never loads undici.
   */
  fetch?: HttpFetch;
  /** Waits between attempts; must return early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  now?: () => number;
  /**
   * List calls this process makes per minute at most (Recall allows 60 a minute per workspace, shared by every
   * caller): a list beyond it waits for the window, or fails when that would pass the caller's deadline.
   */
  listsPerMinute?: number;
  /** Called before each retry, for logs and metrics. Never given a body or header value. */
  onRetry?: (info: { operation: string; attempt: number; status?: number; delayMs: number }) => void;
  /** Called once per HTTP attempt, when its fate is known, for metrics. Never given a body or header value. */
  onAttempt?: (info: RecallAttempt) => void;
}

/**
 * How one HTTP attempt ended: `ok` (2xx), `client_error` (a final 4xx other than 409/429: a conflict, a bad code,
 * a refused key, a 404), `retry` (another attempt follows), or `unavailable` (the call ends in
 * `RecallUnavailableError`: a network error, a timeout, the caller's deadline, or 409/429/5xx with no attempt left).
 */
export type RecallAttemptOutcome = 'ok' | 'client_error' | 'retry' | 'unavailable';

export interface RecallAttempt {
  operation: string;
  /** 1 for the first attempt of a call. */
  attempt: number;
  /** Absent when no response arrived. */
  status?: number;
  /** From sending the request to the response headers (or the failure). */
  durationMs: number;
  outcome: RecallAttemptOutcome;
}

/**
 * Deadlines of the signals made by `signalUntil`: a wait that would end after the caller's deadline is not started,
 * so the caller learns at once that the call cannot succeed in time (instead of at the deadline).
 */
const deadlines = new WeakMap<AbortSignal, number>();

/** A signal that aborts at `deadlineMs` (epoch ms) and tells the client its deadline. */
export function signalUntil(deadlineMs: number, now = Date.now()): AbortSignal {
  const signal = AbortSignal.timeout(Math.max(0, deadlineMs - now));
  deadlines.set(signal, deadlineMs);
  return signal;
}

/** Node's codes for a connection that was never made: the request cannot have reached Recall. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

const CREDENTIALS_PATH = '/api/v2/zoom-oauth-credentials/';
/** Long enough that two exchanges never share one by chance. */
const MIN_IDEMPOTENCY_KEY_LENGTH = 16;
const MAX_LIST_PAGES = 20;
const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 4_000 };
const MINUTE_MS = 60_000;

/** Statuses Recall documents as "retry": rate limit, conflict-retry, and dropped-under-load. */
const RETRYABLE_STATUS = new Set([409, 429, 502, 503, 504]);

/**
 * A thin client for the Zoom OAuth credential endpoints: `Authorization: Token <key>`, JSON bodies, documented
 * paths with their trailing slash, bounded retries; and for the OAuth app's webhook relay. It knows HTTP, not
 * the connect flow (see `credential-exchange.ts`).
 */
export class RecallClient {
  readonly #options: Required<Omit<RecallClientOptions, 'retry' | 'onRetry' | 'onAttempt' | 'listsPerMinute'>> & {
    retry: RetryPolicy;
    onRetry?: RecallClientOptions['onRetry'];
    onAttempt?: RecallClientOptions['onAttempt'];
  };

  /** The API key each response was requested with, so an error built from it can keep the key out. */
  readonly #keyOf = new WeakMap<HttpResponse, string>();

  /** When this process's recent list calls started or will start (reserved slots), the last minute's, oldest first. */
  readonly #listStarts: number[] = [];
  readonly #listsPerMinute: number;

  constructor(options: RecallClientOptions) {
    this.#options = {
      timeoutMs: 8_000,
      fetch: nodeFetch,
      sleep: abortableSleep,
      random: Math.random,
      now: Date.now,
      ...options,
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      retry: { ...DEFAULT_RETRY, ...options.retry },
    };
    this.#listsPerMinute = options.listsPerMinute ?? 60;
  }

  /**
   * Create Zoom OAuth Credential. A 2xx may return a credential that already existed (Recall updates in place).
   * Every try carries the same `Idempotency-Key`, which makes repeating it safe: a try that never completed is
   * performed, one that did is answered with its first answer, one still running answers 409. So a timeout, a
   * dropped connection, a 5xx, a 409 and a 2xx whose body cannot be read are all retried (bounded, with backoff,
   * `Retry-After` and the caller's deadline), like a 429.
   * @throws RecallOutcomeUnknownError when the tries ran out and one of them may have been processed (a timeout or
   *   a dropped connection after it was sent, a 5xx, a 409, an unreadable 2xx): only finding out can tell
   * @throws RecallUnavailableError when no try can have been processed (429s, connections never made)
   */
  async createCredential(input: CreateCredentialInput, signal?: AbortSignal): Promise<CreateCredentialResult> {
    if (input.idempotencyKey.length < MIN_IDEMPOTENCY_KEY_LENGTH) {
      throw new TypeError(`An idempotency key has at least ${MIN_IDEMPOTENCY_KEY_LENGTH} characters.`);
    }
    const body = JSON.stringify({
      oauth_app: input.oauthApp,
      authorization_code: {
        code: input.code,
        redirect_uri: input.redirectUri,
        ...(input.codeVerifier ? { code_verifier: input.codeVerifier } : {}),
      },
    });
    const tries = { uncertain: false };
    const response = await this.#request('create', 'POST', CREDENTIALS_PATH, {
      body,
      retryOn: RETRYABLE_STATUS,
      signal,
      idempotency: { key: input.idempotencyKey, okBody: RecallCredentialSchema, tries },
    });
    if (response.ok) {
      const credential = RecallCredentialSchema.safeParse(await readJson(response));
      if (credential.success) return { kind: 'created', credential: credential.data };
      throw new RecallOutcomeUnknownError(`Recall create answered ${response.status} with an unexpected body.`, response.status);
    }
    if (response.status === 400) {
      const parsed = CreateBadRequestSchema.safeParse(await readJson(response));
      const data = parsed.success ? parsed.data : {};
      // Recall's text may quote what it was sent; the one-time code and the verifier must not travel on into a
      // log line.
      const detail = describeRecallError(data, (text) => redact(text, input.code, input.codeVerifier, this.#keyOf.get(response)));
      if (data.conflicting_zoom_user_id) {
        return { kind: 'conflict', conflict: { user_id: data.conflicting_zoom_user_id }, detail };
      }
      if (data.conflicting_zoom_account_id) {
        return { kind: 'conflict', conflict: { account_id: data.conflicting_zoom_account_id }, detail };
      }
      return { kind: 'bad_request', detail };
    }
    const error = await this.#failure('create', response, input.code, input.codeVerifier);
    // A 429 says "not processed"; a 5xx may come after the work was done ("create succeeded, answered 503"), a 409
    // says an earlier try is still running, and an earlier try that ended either way leaves the outcome open too.
    if (response.status >= 500 || response.status === 409 || tries.uncertain) {
      throw new RecallOutcomeUnknownError(error.message, response.status, { cause: error });
    }
    throw error;
  }

  /** List Zoom OAuth Credentials, always filtered (the endpoint allows 60 calls a minute), following `next`. */
  async listCredentials(filter: ListCredentialsFilter, signal?: AbortSignal): Promise<RecallCredential[]> {
    const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== undefined) as [string, string][]);
    let path: string | undefined = `${CREDENTIALS_PATH}?${query}`;
    const results: RecallCredential[] = [];
    for (let page = 0; path && page < MAX_LIST_PAGES; page++) {
      await this.#paceList(signal);
      const response = await this.#request('list', 'GET', path, { retryOn: RETRYABLE_STATUS, signal });
      if (!response.ok) throw await this.#failure('list', response);
      const data = await parseBody(response, CredentialPageSchema);
      results.push(...data.results);
      path = data.next ? this.#nextPath(data.next, query) : undefined;
    }
    return results;
  }

  /** Retrieve one credential; `undefined` when Recall does not know it. */
  async getCredential(id: string, signal?: AbortSignal): Promise<RecallCredential | undefined> {
    const response = await this.#request('retrieve', 'GET', credentialPath(id), { retryOn: RETRYABLE_STATUS, signal });
    if (response.status === 404) return undefined;
    if (!response.ok) throw await this.#failure('retrieve', response);
    return parseBody(response, RecallCredentialSchema);
  }

  /** Delete by Recall credential id (a UUID, never a Zoom id). Already gone counts as deleted. */
  async deleteCredential(id: string, signal?: AbortSignal): Promise<void> {
    const response = await this.#request('delete', 'DELETE', credentialPath(id), { retryOn: RETRYABLE_STATUS, signal });
    await response.body?.cancel();
    if (response.ok || response.status === 404) return;
    throw await this.#failure('delete', response);
  }

  /**
   * Forwards a verified Zoom webhook to Recall, which needs Zoom's events too (deauthorizations above all). The
   * body goes byte for byte and the Zoom headers as received: Recall verifies Zoom's signature with the app's
   * webhook secret, so no API key is sent. Network errors, 409, 429 and 502-504 are retried within the budget.
   * @throws RecallUnavailableError (network, 429, 5xx: worth retrying later); RecallRejectedError (other 4xx:
   *   most likely the OAuth app's webhook secret is not the Zoom app's Secret Token)
   */
  async forwardZoomWebhook(input: ForwardZoomWebhookInput, signal?: AbortSignal): Promise<void> {
    const { oauthApp, body, headers } = input;
    const response = await this.#request('forward', 'POST', zoomWebhookPath(oauthApp), {
      body,
      headers: {
        'Content-Type': headers['content-type'] ?? 'application/json',
        'x-zm-signature': headers['x-zm-signature'],
        'x-zm-request-timestamp': headers['x-zm-request-timestamp'],
      },
      authenticated: false,
      retryOn: RETRYABLE_STATUS,
      signal,
    });
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    // Recall may quote the signature it could not verify; it is Zoom's MAC over this body, kept out of logs.
    throw await this.#failure('forward', response, headers['x-zm-signature']);
  }

  /**
   * The error for a response that is not a success, with Recall's `detail` kept (it says what went wrong) but
   * every secret the request carried taken out of it: the API key it was sent with, and any of `secrets`.
   */
  async #failure(operation: string, response: HttpResponse, ...secrets: Array<string | undefined>): Promise<Error> {
    return failure(operation, response, (text) => redact(text, this.#keyOf.get(response), ...secrets));
  }

  /**
   * Keeps this process under `listsPerMinute`. A list beyond the budget reserves the next free slot (the moment the
   * budget's oldest start of the last minute is a minute old, later for each caller already waiting) and waits for
   * it within the caller's deadline; only a slot after the deadline fails at once, since waiting would only end in
   * the same failure later.
   */
  async #paceList(signal: AbortSignal | undefined): Promise<void> {
    const { now, sleep } = this.#options;
    const starts = this.#listStarts;
    const limit = this.#listsPerMinute;
    const t = now();
    while (starts.length > 0 && (starts[0] as number) <= t - MINUTE_MS) starts.shift();
    const at = starts.length < limit ? t : Math.max(t, (starts[starts.length - limit] as number) + MINUTE_MS);
    if (at > t && this.#beyondDeadline(signal, at - t)) {
      throw new RecallUnavailableError(`Recall list is at its ${limit}/min budget in this process.`);
    }
    starts.push(at);
    if (at <= t) return;
    await sleep(at - t, signal);
    if (signal?.aborted) {
      starts.splice(starts.lastIndexOf(at), 1);
      throw new RecallUnavailableError('Recall list ran out of time.');
    }
  }

  /** Whether waiting `ms` would end after the deadline of `signal` (one made by `signalUntil`). */
  #beyondDeadline(signal: AbortSignal | undefined, ms: number): boolean {
    const deadline = signal && deadlines.get(signal);
    return deadline !== undefined && this.#options.now() + ms >= deadline;
  }

  /**
   * `next` may be a full URL (Django REST style) or a bare cursor. Either way the request stays on the configured
   * host and keeps every filter: an unfiltered page would scan the whole workspace.
   */
  #nextPath(next: string, query: URLSearchParams): string {
    const isUrl = /^https?:\/\//i.test(next);
    const url = isUrl ? new URL(next) : undefined;
    const params = new URLSearchParams(url?.search ?? '');
    if (!isUrl) params.set('cursor', next);
    for (const [name, value] of query) if (!params.has(name)) params.set(name, value);
    return `${url ? this.#pathBelowBase(url.pathname) : CREDENTIALS_PATH}?${params}`;
  }

  /** A path Recall returned, relative to the configured base URL, which may itself have a path (a proxy, a sandbox). */
  #pathBelowBase(pathname: string): string {
    const basePath = new URL(this.#options.baseUrl).pathname.replace(/\/+$/, '');
    return basePath && pathname.startsWith(`${basePath}/`) ? pathname.slice(basePath.length) : pathname;
  }

  async #request(
    operation: string,
    method: string,
    path: string,
    {
      body,
      retryOn,
      signal,
      headers: extraHeaders = {},
      authenticated = true,
      idempotency,
    }: {
      body?: string | Uint8Array;
      retryOn: ReadonlySet<number>;
      signal?: AbortSignal | undefined;
      /**
       * For a request that must happen at most once: sent with this `Idempotency-Key`, and then safe to repeat after
       * any failure, an unusable 2xx (one whose body `okBody` does not accept) included. `tries.uncertain` is set
       * once a try may have been processed.
       */
      idempotency?: { key: string; okBody: z.ZodMiniType<unknown>; tries: { uncertain: boolean } };
      /** Sent as given; a `Content-Type` here replaces the JSON default. */
      headers?: Record<string, string>;
      /** Whether to send the API key; endpoints that authenticate otherwise must not receive it. */
      authenticated?: boolean;
    },
  ): Promise<HttpResponse> {
    const { fetch, retry, timeoutMs, sleep, random, onAttempt } = this.#options;
    const apiKey = authenticated ? await this.#options.apiKey() : undefined;
    const tries = idempotency?.tries;
    // Once a try of a request that must happen at most once may have been processed, a failure means "unknown".
    const Failure = () => (tries?.uncertain ? RecallOutcomeUnknownError : RecallUnavailableError);
    for (let attempt = 1; ; attempt++) {
      // Out of time before this try was sent: nothing can have happened at Recall, unless an earlier try did.
      if (signal?.aborted) throw new (Failure())(`Recall ${operation} ran out of time before it was sent.`);
      const timeout = AbortSignal.timeout(timeoutMs);
      let response: HttpResponse | undefined;
      let networkError: unknown;
      const startedAt = performance.now();
      let endedAt = startedAt;
      const report = (outcome: RecallAttemptOutcome) =>
        onAttempt?.({
          operation,
          attempt,
          ...(response ? { status: response.status } : {}),
          durationMs: Math.round(endedAt - startedAt),
          outcome,
        });
      try {
        response = await fetch(`${this.#options.baseUrl}${path}`, {
          method,
          headers: {
            ...(apiKey === undefined ? {} : { Authorization: `Token ${apiKey}` }),
            Accept: 'application/json',
            ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
            ...(idempotency ? { 'Idempotency-Key': idempotency.key } : {}),
            ...extraHeaders,
          },
          ...(body === undefined ? {} : { body }),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        endedAt = performance.now();
        if (tries && !NOT_SENT_CODES.has(networkErrorCode(error) ?? '')) tries.uncertain = true;
        if (signal?.aborted) {
          report('unavailable');
          throw new (Failure())(`Recall ${operation} ran out of time.`, undefined, { cause: error });
        }
        networkError = error;
      }
      // A 2xx of an idempotent request is read here: one whose body is not what it should be is tried again (the
      // repeat is answered with the first try's answer, or performs it), like a 5xx.
      let unusable = false;
      if (response?.ok && idempotency) {
        const data = await readJson(response);
        unusable = !idempotency.okBody.safeParse(data).success;
        response = readResponse(response, data);
      }
      if (response) endedAt = performance.now();
      if (tries && response && (unusable || response.status >= 500 || response.status === 409)) tries.uncertain = true;
      const retryable = response
        ? unusable || retryOn.has(response.status) || (idempotency !== undefined && response.status >= 500)
        : true;
      let delayMs = 0;
      if (retryable && attempt < retry.maxAttempts) {
        const retryAfter = retryAfterMs(response?.headers.get('retry-after'), this.#options.now());
        delayMs = retryAfter ?? random() * Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      }
      // A wait longer than the cap, or past the caller's deadline, would only end in the same failure later.
      const giveUp =
        !retryable ||
        attempt >= retry.maxAttempts ||
        delayMs > retry.maxDelayMs ||
        this.#beyondDeadline(signal, delayMs);
      if (giveUp) {
        if (response) {
          report(response.ok ? 'ok' : isUnavailableStatus(response.status) ? 'unavailable' : 'client_error');
          if (apiKey !== undefined) this.#keyOf.set(response, apiKey);
          return response;
        }
        report('unavailable');
        throw new (Failure())(`Recall ${operation} failed: ${describeNetworkError(networkError)}.`, undefined, {
          cause: networkError,
        });
      }
      await response?.body?.cancel();
      this.#options.onRetry?.({ operation, attempt, ...(response ? { status: response.status } : {}), delayMs: Math.round(delayMs) });
      await sleep(delayMs, signal);
      // Reported after the wait: only now is it known whether another attempt follows or the deadline ended it.
      if (signal?.aborted) {
        report('unavailable');
        throw new (Failure())(`Recall ${operation} ran out of time.`);
      }
      report('retry');
    }
  }
}

const credentialPath = (id: string) => `${CREDENTIALS_PATH}${encodeURIComponent(id)}/`;
/** As Recall documents it: no trailing slash. */
const zoomWebhookPath = (oauthApp: string) => `/api/v2/zoom-oauth-apps/${encodeURIComponent(oauthApp)}/webhook`;

/** `Retry-After` is either delay-seconds or an HTTP date. */
export function retryAfterMs(header: string | null | undefined, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP date names its weekday and month; anything else ('1.5', '-1') is invalid and ignored (RFC 9110).
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The longest piece of Recall's `detail` kept for a log line. */
export const MAX_RECALL_DETAIL_LENGTH = 200;
/** A run this long that begins a secret (in any of its forms) is taken for a piece of it. */
const MIN_SECRET_PIECE = 8;
const KNOWN_ERROR_CODE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * What a log line may say of a Recall error: its error code when it is a plain identifier that holds no secret (a
 * one-time code or an API key looks like one too), and at most `MAX_RECALL_DETAIL_LENGTH` characters of its
 * `detail`, cleaned before it is cut (a cut could leave a piece of a secret that no longer matches).
 */
function describeRecallError(data: { detail?: string | undefined; code?: unknown }, clean: (text: string) => string): string {
  const plain = typeof data.code === 'string' && KNOWN_ERROR_CODE.test(data.code) && clean(data.code) === data.code;
  const code = plain ? `${data.code}: ` : '';
  return `${code}${clean(data.detail ?? 'Recall rejected the request.').slice(0, MAX_RECALL_DETAIL_LENGTH)}`;
}

/**
 * Removes each secret from `text`: as sent, in the encodings a server may echo it in (URL, JSON, base64,
 * base64url, upper and lower case), and any piece of those of `MIN_SECRET_PIECE` characters or more that begins
 * one of them (a truncated echo, a prefix quoted in an error).
 */
function redact(text: string, ...secrets: Array<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (!secret) continue;
    const bytes = Buffer.from(secret, 'utf8');
    const forms = new Set([
      secret,
      encodeURIComponent(secret),
      JSON.stringify(secret).slice(1, -1),
      bytes.toString('base64'),
      bytes.toString('base64url'),
      secret.toUpperCase(),
      secret.toLowerCase(),
    ]);
    for (const form of [...forms].sort((a, b) => b.length - a.length)) result = removePieces(result, form);
  }
  return result;
}

/** Replaces every run of `text` that begins `form` and is at least `MIN_SECRET_PIECE` long (or all of `form`). */
function removePieces(text: string, form: string): string {
  const min = Math.min(MIN_SECRET_PIECE, form.length);
  const head = form.slice(0, min);
  let out = '';
  let from = 0;
  for (let at = text.indexOf(head, from); at >= 0; at = text.indexOf(head, from)) {
    let end = at + min;
    while (end < text.length && end - at < form.length && text[end] === form[end - at]) end++;
    out += `${text.slice(from, at)}[redacted]`;
    from = end;
  }
  return out + text.slice(from);
}

/** Statuses that mean "not now" rather than "not this": they end a call in `RecallUnavailableError`. */
const isUnavailableStatus = (status: number): boolean => status >= 500 || status === 429 || status === 409;

async function failure(operation: string, response: HttpResponse, clean: (text: string) => string): Promise<Error> {
  // Recall's bodies may echo what was sent; keep only Recall's own `detail`, only from JSON, and cleaned before
  // it is cut short (a cut could leave half a secret that no longer matches).
  const detail = CreateBadRequestSchema.safeParse(await readJson(response));
  const suffix = detail.success && (detail.data.detail || detail.data.code) ? `: ${describeRecallError(detail.data, clean)}` : '';
  const message = `Recall ${operation} answered ${response.status}${suffix}`;
  return isUnavailableStatus(response.status)
    ? new RecallUnavailableError(message, response.status)
    : new RecallRejectedError(message, response.status);
}

/** A response whose body was already read as `data`: later readers get it again. */
function readResponse(response: HttpResponse, data: unknown): HttpResponse {
  return {
    ok: response.ok,
    status: response.status,
    headers: response.headers,
    json: async () => {
      if (data === undefined) throw new SyntaxError('The body was not JSON.');
      return data;
    },
    text: async () => (data === undefined ? '' : JSON.stringify(data)),
    body: null,
  };
}

async function readJson(response: HttpResponse): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}

async function parseBody<T>(response: HttpResponse, schema: z.ZodMiniType<T>): Promise<T> {
  const parsed = schema.safeParse(await readJson(response));
  if (!parsed.success) {
    throw new RecallUnavailableError(`Recall answered ${response.status} with an unexpected body.`, response.status);
  }
  return parsed.data;
}

function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError') return 'timed out';
    return networkErrorCode(error) ?? error.name;
  }
  return 'unknown error';
}

/** Node's error code (ECONNRESET, ECONNREFUSED, ...): fetch and nodeFetch put Node's error in `cause`. */
function networkErrorCode(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error.cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}
