import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import * as z from 'zod/mini';
import { CONNECTION_STATUSES } from './connection-status.js';

/**
 * Lifecycle events the product subscribes to on the stack's EventBridge bus. The detail is versioned: a change
 * that breaks consumers bumps `schemaVersion` and the detail-type suffix.
 *
 * Delivery is at least once: each event is written to the table's outbox in the same write as the transition it
 * describes, and published from there (`outbox-publisher.ts`), so an event can arrive more than once, always with
 * the same `eventId`. Consumers de-duplicate on it.
 */
export const EVENT_SOURCE = 'recall-zoom-connect';

export const CONNECTION_EVENT_TYPES = [
  /** A user finished the connect flow. */
  'connected',
  /** A user's record moved to another Recall credential (the Zoom identity connected again, through any user). */
  'replaced',
  /** The Zoom user or account deauthorized the app in Zoom. */
  'revoked',
  /** Recall reports the credential unhealthy (or it was deleted while resolving a conflict). */
  'unhealthy',
  /** Recall reports a credential healthy again that was unhealthy. */
  'healthy_again',
  /** The product ended the connection (`DELETE /connections/{userId}`). */
  'disconnected',
] as const;
export type ConnectionEventType = (typeof CONNECTION_EVENT_TYPES)[number];

export const ConnectionEventDetailSchema = z.object({
  schemaVersion: z.literal(1),
  /**
   * Stable id of this event: the same on every delivery of one transition (a redelivery, a republish by the outbox
   * sweep), different for every other event. Added to schema v1 compatibly.
   */
  eventId: z.string(),
  type: z.enum(CONNECTION_EVENT_TYPES),
  userId: z.string(),
  status: z.enum(CONNECTION_STATUSES),
  recallCredentialId: z.string(),
  previousRecallCredentialId: z.optional(z.string()),
  zoomAccountId: z.nullable(z.string()),
  zoomUserId: z.nullable(z.string()),
  occurredAt: z.string(),
  correlationId: z.optional(z.string()),
});
export type ConnectionEventDetail = z.infer<typeof ConnectionEventDetailSchema>;

/** `detail-type` on the bus: `Zoom connection <type>.v1`, for rules that match on one type. */
export const detailTypeOf = (type: ConnectionEventType): string => `Zoom connection ${type}.v1`;

/** PutEvents did not take every entry (the whole call failed, or some entries were refused). */
export class EventPublishError extends Error {
  override readonly name = 'EventPublishError';
  constructor(
    readonly failed: number,
    options?: ErrorOptions,
  ) {
    super(`${failed} lifecycle event(s) were not published.`, options);
  }
}

export interface EventPublisher {
  /**
   * Publishes every event, or throws `EventPublishError`: the outbox keeps an entry until this succeeds, so a
   * failure only delays its events.
   */
  publish(events: readonly ConnectionEventDetail[]): Promise<void>;
}

const MAX_ENTRIES_PER_CALL = 10;

/**
 * Publishes to the bus named by `EVENT_BUS_NAME` (the SDK honours AWS_ENDPOINT_URL_EVENTBRIDGE, which local mode
 * points at its own bus). Only the outbox publisher uses it: no request path talks to EventBridge.
 */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly busName: string,
    private readonly client: () => EventBridgeClient = getEventBridge,
  ) {}

  async publish(events: readonly ConnectionEventDetail[]): Promise<void> {
    let failed = 0;
    let cause: unknown;
    for (let i = 0; i < events.length; i += MAX_ENTRIES_PER_CALL) {
      const entries: PutEventsRequestEntry[] = events.slice(i, i + MAX_ENTRIES_PER_CALL).map((detail) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: detailTypeOf(detail.type),
        Detail: JSON.stringify(detail),
      }));
      try {
        const { FailedEntryCount } = await this.client().send(new PutEventsCommand({ Entries: entries }));
        failed += FailedEntryCount ?? 0;
      } catch (error) {
        failed += entries.length;
        cause = error;
      }
    }
    if (failed > 0) throw new EventPublishError(failed, cause === undefined ? undefined : { cause });
  }
}

let eventBridge: EventBridgeClient | undefined;
export const getEventBridge = (): EventBridgeClient => (eventBridge ??= new EventBridgeClient({}));
