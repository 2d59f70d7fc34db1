import type { IncomingMessage, ServerResponse } from 'node:http';
import { EVENT_SOURCE } from '../functions/adapters/event-publisher.js';
import { abortableSleep } from '../functions/core/sleep.js';
import { sendJson } from './http-util.js';
import type { DeliveredBusEvent, EventDeliveries, EventDelivery, LocalBusEvent } from './local-eventbridge.js';

/**
 * Local mode's stand-in for the stack's EventBridge API destination (lib/constructs/events-endpoint.ts): every
 * lifecycle event put on the local bus is POSTed to `EVENTS_ENDPOINT_URL` as the API destination sends it (the
 * event's `detail` as the JSON body, the shared secret in a header), retried with exponential backoff a bounded
 * number of times, and what still failed is kept for `GET /_local/events?delivery=failed`, where a product
 * developer sees it, and `POST /_local/events/redeliver` sends it again.
 *
 * As on AWS: a 2xx accepts; a timeout, a network error, 401, 407, 409, 429 and 5xx are retried; any other answer
 * (another 4xx, a redirect) fails at once. The body of one event is the same bytes on every attempt, so the
 * receiver de-duplicates by `detail.eventId`. This is the only delivery code of the service: on AWS, EventBridge
 * delivers.
 */

/** The route that sends every failed delivery again. */
export const REDELIVER_PATH = '/_local/events/redeliver';

export interface LocalEventsDelivererOptions {
  /** The product's endpoint (http allowed: it is a developer's machine). */
  url: string;
  headerName: string;
  /** Sent as the header's value; never logged or listed. */
  secret: string;
  /** Attempts per event, the first included. */
  maxAttempts: number;
  /** First wait between attempts; it doubles each time, up to {@link backoffMaxMs}. */
  backoffBaseMs: number;
  backoffMaxMs?: number;
  /** Per attempt: an API destination gives the endpoint 5 s. */
  timeoutMs?: number;
  /** Failed deliveries kept; older ones are dropped. */
  capacity?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

/** Statuses EventBridge retries for an API destination; anything else but a 2xx fails at once. */
const RETRYABLE_STATUSES = new Set([401, 407, 409, 429]);
const isRetryable = (status: number) => RETRYABLE_STATUSES.has(status) || status >= 500;

type Attempt = { ok: true } | { ok: false; retryable: boolean; error: string };

export class LocalEventsDeliverer implements EventDeliveries {
  readonly #options: Required<Omit<LocalEventsDelivererOptions, 'log' | 'fetch'>> &
    Pick<LocalEventsDelivererOptions, 'log'> & { fetch: typeof fetch };
  /** Deliveries by bus event id, settled ones dropped beyond a bound so a long session does not grow forever. */
  readonly #deliveries = new Map<string, EventDelivery>();
  readonly #failed: DeliveredBusEvent[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #closing = new AbortController();
  /** Where the log and the listing point: the URL without its query, which could carry a token of the product's. */
  readonly #target: string;

  constructor(options: LocalEventsDelivererOptions) {
    this.#options = {
      backoffMaxMs: 30_000,
      timeoutMs: 5_000,
      capacity: 100,
      ...options,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    };
    this.#target = withoutQuery(options.url);
  }

  get failed(): readonly DeliveredBusEvent[] {
    return this.#failed;
  }

  statusOf(eventId: string): EventDelivery | undefined {
    const delivery = this.#deliveries.get(eventId);
    return delivery && { ...delivery };
  }

  /** Starts delivering one bus event (the API destination's rule matches the service's own source only). */
  deliver(event: LocalBusEvent): void {
    if (event.source !== EVENT_SOURCE || this.#closing.signal.aborted) return;
    const delivery: EventDelivery = { status: 'pending', attempts: 0 };
    this.#deliveries.set(event.id, delivery);
    this.#forgetSettledBeyondCapacity();
    const running = this.#run(event, delivery).finally(() => this.#inFlight.delete(running));
    this.#inFlight.add(running);
  }

  /**
   * Sends every failed delivery again, each with its attempts counted afresh: the same body, so the same eventId.
   * @returns how many were sent again
   */
  redeliver(): number {
    const failed = this.#failed.splice(0);
    for (const { delivery: _previous, ...event } of failed) this.deliver(event);
    return failed.length;
  }

  /**
   * Resolves once no delivery is pending (each was accepted or given up on).
   * @throws Error after `timeoutMs`, naming how many are still pending
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    while (this.#inFlight.size > 0) {
      const timedOut = new Promise<'timeout'>((resolve) => deadline.addEventListener('abort', () => resolve('timeout'), { once: true }));
      if ((await Promise.race([Promise.allSettled([...this.#inFlight]), timedOut])) === 'timeout') {
        throw new Error(`${this.#inFlight.size} event deliveries were still pending after ${timeoutMs} ms.`);
      }
    }
  }

  /** Stops: waits cut short, attempts in flight aborted; what was pending stays pending. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Serves `POST /_local/events/redeliver`. @returns false for any other path */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    if (pathname !== REDELIVER_PATH) return false;
    if (req.method !== 'POST') {
      sendJson(res, 405, { message: 'Method Not Allowed' }, { allow: 'POST' });
      return true;
    }
    sendJson(res, 200, { redelivered: this.redeliver() });
    return true;
  }

  async #run(event: LocalBusEvent, delivery: EventDelivery): Promise<void> {
    const { maxAttempts, backoffBaseMs, backoffMaxMs, log } = this.#options;
    // Serialized once: every attempt sends the same bytes.
    const body = JSON.stringify(event.detail);
    const name = `${event.detailType}${eventIdOf(event)}`;
    for (;;) {
      delivery.attempts++;
      const attempt = await this.#attempt(body);
      if (this.#closing.signal.aborted) return;
      if (attempt.ok) {
        Object.assign(delivery, { status: 'delivered', settledAt: new Date().toISOString() });
        delete delivery.lastError;
        log?.(`Event delivered: ${name} to ${this.#target} (attempt ${delivery.attempts})`);
        return;
      }
      delivery.lastError = attempt.error;
      if (!attempt.retryable || delivery.attempts >= maxAttempts) {
        Object.assign(delivery, { status: 'failed', settledAt: new Date().toISOString() });
        this.#failed.push({ ...event, delivery: { ...delivery } });
        if (this.#failed.length > this.#options.capacity) this.#failed.splice(0, this.#failed.length - this.#options.capacity);
        log?.(
          `Event delivery failed: ${name} to ${this.#target}: ${attempt.error} after ${delivery.attempts} attempt(s)` +
            `${attempt.retryable ? '' : ' (not retried)'}; listed at /_local/events?delivery=failed`,
        );
        return;
      }
      const waitMs = Math.min(backoffMaxMs, backoffBaseMs * 2 ** (delivery.attempts - 1));
      log?.(`Event delivery: ${name} to ${this.#target}: ${attempt.error}, attempt ${delivery.attempts} of ${maxAttempts}; again in ${waitMs} ms`);
      await abortableSleep(waitMs, this.#closing.signal);
      if (this.#closing.signal.aborted) return;
    }
  }

  async #attempt(body: string): Promise<Attempt> {
    const { url, headerName, secret, timeoutMs } = this.#options;
    const signal = AbortSignal.any([this.#closing.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const response = await this.#options.fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'recall-zoom-connect-local/ApiDestinations',
          [headerName]: secret,
        },
        body,
        // An API destination does not follow redirects: a 3xx is a failed delivery.
        redirect: 'manual',
        signal,
      });
      await response.body?.cancel();
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return { ok: false, retryable: isRetryable(response.status), error: `HTTP ${response.status}` };
    } catch (error) {
      if (signal.aborted && !this.#closing.signal.aborted) {
        return { ok: false, retryable: true, error: `timeout after ${timeoutMs / 1000} s` };
      }
      return { ok: false, retryable: true, error: `network error (${networkCode(error)})` };
    }
  }

  #forgetSettledBeyondCapacity(): void {
    const limit = this.#options.capacity * 10;
    if (this.#deliveries.size <= limit) return;
    for (const [id, delivery] of this.#deliveries) {
      if (this.#deliveries.size <= limit) break;
      if (delivery.status !== 'pending') this.#deliveries.delete(id);
    }
  }
}

/** An endpoint URL as the log and the banner show it: without its query, which may carry a token of the product's. */
export function withoutQuery(url: string): string {
  const { origin, pathname } = new URL(url);
  return `${origin}${pathname}`;
}

/** ` eventId=<id>` when the detail carries one (the id the receiver de-duplicates by). */
function eventIdOf(event: LocalBusEvent): string {
  const id = (event.detail as { eventId?: unknown } | null)?.eventId;
  return typeof id === 'string' ? ` eventId=${id}` : '';
}

/** The system error code under fetch's generic TypeError (`ECONNREFUSED`), else the error's name. */
function networkCode(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return cause.code;
  return error instanceof Error ? error.name : 'unknown';
}
