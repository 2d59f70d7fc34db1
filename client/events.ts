import * as z from 'zod/mini';
import { CONNECTION_STATUSES } from './connection.js';

/**
 * The lifecycle events the service puts on its EventBridge bus, for the product backend to react to (an
 * EventBridge rule on `source: ["recall-zoom-connect"]` targeting a queue or function of the product's).
 * The detail is versioned: a change that breaks consumers bumps `schemaVersion` and the detail-type suffix.
 * This module is the one definition of the contract: the service publishes with it (it has no AWS SDK in it).
 *
 * Delivery is **at least once**: every status change is stored with its event in the same write, and the event is
 * published until EventBridge has taken it, so an event can arrive more than once (never zero times). Every
 * delivery of one change carries the same `eventId` and the same detail: apply an event once per `eventId`, and
 * per user only when its `occurredAt` is not older than what you hold (a redelivery can come after a later event).
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

/** One event's `detail`. Fields a newer service adds are dropped, so it never breaks an older consumer. */
export const ConnectionEventDetailSchema = z.object({
  schemaVersion: z.literal(1),
  /**
   * Stable id of this event: the same on every delivery of one transition (a redelivery, a republish by the outbox
   * sweep), different for every other event. Added to schema v1 compatibly; de-duplicate on it.
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

/** The EventBridge envelope a rule's target receives (the fields this package reads). */
const EventEnvelopeSchema = z.looseObject({
  source: z.literal(EVENT_SOURCE),
  'detail-type': z.string(),
  detail: z.unknown(),
});

export class ConnectionEventParseError extends Error {
  override readonly name = 'ConnectionEventParseError';
}

/**
 * Parses a lifecycle event: the EventBridge event a rule delivers (`{source, 'detail-type', detail, ...}`), or its
 * `detail` alone.
 * @returns the typed detail
 * @throws ConnectionEventParseError naming the fields that are wrong (never echoing their values)
 */
export function parseConnectionEvent(input: unknown): ConnectionEventDetail {
  const envelope = EventEnvelopeSchema.safeParse(input);
  const detail = envelope.success ? envelope.data.detail : input;
  const parsed = ConnectionEventDetailSchema.safeParse(detail);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(detail)'))];
    throw new ConnectionEventParseError(`Not a recall-zoom-connect lifecycle event: check ${fields.join(', ')}.`);
  }
  if (envelope.success && envelope.data['detail-type'] !== detailTypeOf(parsed.data.type)) {
    throw new ConnectionEventParseError('Not a recall-zoom-connect lifecycle event: detail-type and detail.type disagree.');
  }
  return parsed.data;
}
