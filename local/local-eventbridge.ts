import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as z from 'zod/mini';
import { LOCAL_ACCOUNT_ID } from './api-gateway.js';
import { AWS_JSON_1_1, awsError, awsResult, describeError, methodNotAllowed, serveAwsJson } from './aws-json.js';
import { sendJson } from './http-util.js';
import { LOCAL_EVENTBRIDGE_PATH } from './local-settings.js';

/**
 * Local stand-in for the event bus, reached by the unchanged SDK through `AWS_ENDPOINT_URL_EVENTBRIDGE`:
 * EventBridge `PutEvents` (AWS JSON 1.1, `x-amz-target: AWSEvents.PutEvents`) onto one bus, whose last events are
 * kept and printed, and handed to whoever subscribed (the events-endpoint deliverer, when EVENTS_ENDPOINT_URL is set).
 * Only what the service uses is implemented; anything else is answered as AWS answers an unknown operation.
 */

/** An event put on the local bus, as `GET /_local/events` shows it. */
export interface LocalBusEvent {
  id: string;
  time: string;
  source: string;
  detailType: string;
  /** The entry's `Detail`, parsed. */
  detail: unknown;
}

/** How one event's delivery stands, as `GET /_local/events` shows it beside the event. */
export interface EventDelivery {
  status: 'pending' | 'delivered' | 'failed';
  /** Attempts made so far (the first included). */
  attempts: number;
  /** Why the last attempt failed: `HTTP 503`, `timeout after 5 s`, `network error (ECONNREFUSED)`. Never a body. */
  lastError?: string;
  /** When the event was accepted, or given up on. */
  settledAt?: string;
}

/** The `?delivery=` values `GET /_local/events` filters by. */
const DELIVERY_STATUSES: readonly string[] = ['pending', 'delivered', 'failed'] satisfies EventDelivery['status'][];

/** A bus event with its delivery, as the local routes list it. */
export type DeliveredBusEvent = LocalBusEvent & { delivery: EventDelivery };

/**
 * What the bus's routes read about deliveries to the product's endpoint. The deliverer implements it and
 * subscribes to the bus: it depends on this module, never the other way round.
 */
export interface EventDeliveries {
  statusOf(eventId: string): EventDelivery | undefined;
  /** Events given up on, oldest first (kept even after the bus has dropped them). */
  readonly failed: readonly DeliveredBusEvent[];
}

export interface LocalEventBusOptions {
  name: string;
  region: string;
  /** Events kept for `GET /_local/events`; older ones are dropped. */
  capacity?: number;
  log?: (line: string) => void;
}

/** One custom event bus that keeps its last events instead of routing them. */
export class LocalEventBus {
  readonly name: string;
  readonly arn: string;
  readonly #events: LocalBusEvent[] = [];
  readonly #capacity: number;
  readonly #log: ((line: string) => void) | undefined;
  readonly #listeners: ((event: LocalBusEvent) => void)[] = [];

  constructor(options: LocalEventBusOptions) {
    this.name = options.name;
    this.arn = `arn:aws:events:${options.region}:${LOCAL_ACCOUNT_ID}:event-bus/${options.name}`;
    this.#capacity = options.capacity ?? 100;
    this.#log = options.log;
  }

  /** The kept events, oldest first. */
  get events(): readonly LocalBusEvent[] {
    return this.#events;
  }

  /** Calls `listener` with every event the bus accepts, after PutEvents has taken it (as a rule's target is). */
  subscribe(listener: (event: LocalBusEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Puts entries as PutEvents does: each entry succeeds or fails on its own.
   * @returns the PutEvents response
   */
  put(entries: readonly PutEventsEntry[]): PutEventsResponse {
    const results = entries.map((entry) => this.#putOne(entry));
    return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
  }

  #putOne(entry: PutEventsEntry): PutEventsResultEntry {
    if (entry.EventBusName !== this.name && entry.EventBusName !== this.arn) {
      const bus = entry.EventBusName ?? 'default';
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
    }
    if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter(s) Source, DetailType and Detail are required.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      detail = undefined;
    }
    if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const event: LocalBusEvent = {
      id: randomUUID(),
      time: toEventTime(entry.Time),
      source: entry.Source,
      detailType: entry.DetailType,
      detail,
    };
    this.#events.push(event);
    if (this.#events.length > this.#capacity) this.#events.splice(0, this.#events.length - this.#capacity);
    this.#log?.(describeEvent(event));
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log?.(`Event listener failed: ${describeError(error)}`);
      }
    }
    return { EventId: event.id };
  }
}

/** One compact line: what happened to whom. Connection event details carry no secrets; only these fields print. */
function describeEvent(event: LocalBusEvent): string {
  const detail = event.detail as { userId?: unknown; status?: unknown };
  const field = (name: string, value: unknown) => (typeof value === 'string' ? ` ${name}=${value}` : '');
  return `Event: ${event.detailType}${field('userId', detail.userId)}${field('status', detail.status)}`;
}

/** EventBridge's `time`: an entry's own Time (epoch seconds on the wire) or now, to the second. */
function toEventTime(time: number | string | undefined): string {
  const ms = typeof time === 'number' ? time * 1000 : typeof time === 'string' ? Date.parse(time) : Date.now();
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
}
type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };
export interface PutEventsResponse {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
}

const PutEventsSchema = z.looseObject({
  Entries: z.array(
    z.looseObject({
      Source: z.optional(z.string()),
      DetailType: z.optional(z.string()),
      Detail: z.optional(z.string()),
      EventBusName: z.optional(z.string()),
      Time: z.optional(z.union([z.number(), z.string()])),
    }),
  ),
});

export interface LocalEventBridgeOptions {
  bus: LocalEventBus;
  /** Deliveries to the product's endpoint (`EVENTS_ENDPOINT_URL`), shown beside each event. */
  deliveries?: EventDeliveries | undefined;
}

/**
 * Serves the bus's routes on the local server: `POST /_local/eventbridge` (EventBridge JSON protocol) and
 * `GET /_local/events` (with each event's delivery to EVENTS_ENDPOINT_URL when set; `?delivery=failed` for the
 * ones given up on).
 */
export class LocalEventBridge {
  readonly bus: LocalEventBus;
  readonly #deliveries: EventDeliveries | undefined;

  constructor(options: LocalEventBridgeOptions) {
    this.bus = options.bus;
    this.#deliveries = options.deliveries;
  }

  /** @returns false when the path is not one of these */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    if (pathname === LOCAL_EVENTBRIDGE_PATH || pathname === `${LOCAL_EVENTBRIDGE_PATH}/`) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      await serveAwsJson(req, res, AWS_JSON_1_1, { 'AWSEvents.PutEvents': (out, input) => this.#putEvents(out, input) });
      return true;
    }
    if (pathname === '/_local/events') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      const listed = this.#eventList(req);
      if ('refused' in listed) sendJson(res, 400, { message: listed.refused });
      else sendJson(res, 200, listed.events, { 'cache-control': 'no-store' });
      return true;
    }
    return false;
  }

  /**
   * The bus's events, each with its `delivery` when an events endpoint is set; `?delivery=failed` lists the
   * deliveries given up on instead (kept even after the bus dropped their events).
   */
  #eventList(req: IncomingMessage): { events: readonly unknown[] } | { refused: string } {
    const deliveries = this.#deliveries;
    const wanted = new URL(req.url ?? '/', 'http://localhost').searchParams.get('delivery');
    if (wanted !== null && !DELIVERY_STATUSES.includes(wanted)) {
      return { refused: 'delivery must be pending, delivered or failed.' };
    }
    if (!deliveries) {
      return wanted === null ? { events: this.bus.events } : { refused: 'No deliveries to filter by: EVENTS_ENDPOINT_URL is not set.' };
    }
    if (wanted === 'failed') return { events: deliveries.failed };
    const events = this.bus.events.map((event) => {
      const delivery = deliveries.statusOf(event.id);
      return delivery ? { ...event, delivery } : event;
    });
    return { events: wanted ? events.filter((event) => 'delivery' in event && event.delivery.status === wanted) : events };
  }

  #putEvents(res: ServerResponse, input: unknown): void {
    const parsed = PutEventsSchema.safeParse(input);
    if (!parsed.success) return awsError(res, AWS_JSON_1_1, 400, 'ValidationException', 'Entries is required.');
    const { Entries: entries } = parsed.data;
    if (entries.length < 1 || entries.length > 10) {
      return awsError(
        res,
        AWS_JSON_1_1,
        400,
        'ValidationException',
        "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length " +
          'less than or equal to 10',
      );
    }
    awsResult(res, AWS_JSON_1_1, this.bus.put(entries));
  }
}
