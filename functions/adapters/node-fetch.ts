import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * The HTTP client the Recall client uses by default: a small subset of `fetch` over `node:http` / `node:https`.
 * Node's global `fetch` (and `Response`) load undici on first use, which costs a cold start tens of milliseconds
 * (about 95 ms measured on Node 20) for one JSON request; this costs nothing beyond the modules the AWS SDK already
 * loads. It does what the Recall client needs and no more: string or byte bodies sent as they are (with their
 * Content-Length), status, headers, the body as JSON or text, cancellation through an `AbortSignal`.
 *
 * `fetch` remains injectable (`RecallClientOptions.fetch`): a global `fetch` fits this signature.
 */

export interface HttpRequestInit {
  method?: string;
  headers?: Record<string, string>;
  /** Sent byte for byte. */
  body?: string | Uint8Array;
  /** Aborts the request, or the reading of its body; the promise rejects with the signal's reason, as fetch does. */
  signal?: AbortSignal;
}

export interface HttpResponseHeaders {
  /** Case-insensitive; repeated headers joined with ", "; `null` when absent. */
  get(name: string): string | null;
}

export interface HttpResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: HttpResponseHeaders;
  json(): Promise<unknown>;
  text(): Promise<string>;
  /** `cancel()` discards a body that will not be read, so the connection can serve the next request. */
  readonly body: { cancel(): Promise<void> } | null;
}

export type HttpFetch = (url: string, init?: HttpRequestInit) => Promise<HttpResponse>;

/**
 * Keep-alive sockets are closed after this long idle, below the idle timeouts of load balancers in front of APIs,
 * so a request is never sent on a connection the server is closing (undici's default is the same).
 */
const IDLE_SOCKET_MS = 4_000;
/** A body larger than this is not one of Recall's; reading it fails instead of filling memory. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

// Created once per execution environment: a warm invocation reuses the TLS connection of the previous one.
const TRANSPORTS: Record<string, { request: typeof httpRequest; agent: HttpAgent }> = {
  'http:': { request: httpRequest, agent: new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) },
  'https:': { request: httpsRequest, agent: new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }) },
};

/**
 * Sends one request. Rejects like fetch: with the signal's reason when aborted, with a `TypeError` whose `cause`
 * is Node's error (its `code`: ECONNRESET, ECONNREFUSED, ...) when the connection fails. An HTTP error status is a
 * response, not a rejection.
 */
export function nodeFetch(input: string, init: HttpRequestInit = {}): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const { signal } = init;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let url: URL;
    try {
      url = new URL(input);
    } catch (error) {
      reject(new TypeError('Invalid URL', { cause: error }));
      return;
    }
    const transport = TRANSPORTS[url.protocol];
    if (!transport) {
      reject(new TypeError(`Unsupported protocol: ${url.protocol}`));
      return;
    }
    const body = init.body === undefined ? undefined : typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : init.body;
    const req = transport.request(url, {
      method: init.method ?? 'GET',
      headers: requestHeaders(init.headers, body),
      agent: transport.agent,
    });
    let response: NodeHttpResponse | undefined;
    const onAbort = () => {
      // Ends the request whatever stage it is in; `error` below (or the body reader) rejects with the reason.
      req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const release = () => signal?.removeEventListener('abort', onAbort);
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (error) => {
      if (response) return; // the body reader reports it
      release();
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
    });
    req.on('response', (res) => {
      response = new NodeHttpResponse(res, signal, release);
      resolve(response);
    });
    req.end(body);
  });
}

function requestHeaders(headers: Record<string, string> = {}, body: Uint8Array | undefined): Record<string, string> {
  if (body === undefined || Object.keys(headers).some((name) => name.toLowerCase() === 'content-length')) return headers;
  return { ...headers, 'content-length': String(body.byteLength) };
}

class NodeHttpResponse implements HttpResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: HttpResponseHeaders;
  #used = false;

  constructor(
    private readonly res: IncomingMessage,
    private readonly signal: AbortSignal | undefined,
    private readonly release: () => void,
  ) {
    this.status = res.statusCode ?? 0;
    this.ok = this.status >= 200 && this.status < 300;
    // A connection lost while nobody reads the body must not become an uncaught 'error'; a reader gets it below.
    res.on('error', () => undefined);
    this.headers = {
      get: (name) => {
        const value = res.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    };
  }

  get body(): { cancel(): Promise<void> } | null {
    return this.#used ? null : { cancel: async () => this.#discard() };
  }

  async text(): Promise<string> {
    return (await this.#read()).toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  #discard(): void {
    if (this.#used) return;
    this.#used = true;
    this.release();
    // Read to the end and drop it: the socket then goes back to the pool instead of being torn down.
    this.res.resume();
  }

  #read(): Promise<Buffer> {
    if (this.#used) return Promise.reject(new TypeError('Body is unusable: it has already been read'));
    this.#used = true;
    const { res, signal } = this;
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (error: unknown, value?: Buffer) => {
        if (settled) return;
        settled = true;
        this.release();
        if (value) resolve(value);
        else reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
      };
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.destroy();
          settle(new Error(`response body larger than ${MAX_BODY_BYTES} bytes`));
        } else chunks.push(chunk);
      });
      res.on('end', () => settle(undefined, Buffer.concat(chunks)));
      res.on('error', (error) => settle(error));
      // A connection that ends before the body does (reset, or aborted through the signal).
      res.on('close', () => {
        if (!res.complete) settle(new Error('the connection closed before the response body ended'));
      });
    });
  }
}
