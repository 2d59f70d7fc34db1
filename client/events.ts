import * as z from 'zod/mini';
import { CONNECTION_STATUSES } from './connection.js';

/**
 * The lifecycle events the service puts on its EventBridge bus (source `recall-zoom-connect`, detail-type
 * `Zoom connection <type>.v1`), for a product backend that keeps its own view of who is connected. Kept equal to
 * the service's own schema by a unit test.
 *
 * Delivery is **at least once**: every status change is stored with its event in the same write, and the event is
 * published until EventBridge has taken it, so an event can arrive more than once (never zero times). Every
 * delivery of one change carries the same `eventId` and the same detail: apply an event once per `eventId`, and
 * per user only when its `occurredAt` is not older than what you hold (a redelivery can come after a later event).
 */
export const CONNECTION_EVENT_TYPES = ['connected', 'replaced', 'revoked', 'unhealthy', 'healthy_again', 'disconnected'] as const;
export type ConnectionEventType = (typeof CONNECTION_EVENT_TYPES)[number];

export const CONNECTION_EVENT_SOURCE = 'recall-zoom-connect';

/** The `detail` of a lifecycle event. Fields the service may add later are dropped, as for a connection. */
export const ConnectionEventDetailSchema = z.object({
  schemaVersion: z.literal(1),
  /** The same on every delivery of one change: the key to de-duplicate on. */
  eventId: z.string(),
  type: z.enum(CONNECTION_EVENT_TYPES),
  userId: z.string(),
  /** The record's status after the change. */
  status: z.enum(CONNECTION_STATUSES),
  recallCredentialId: z.string(),
  /** `replaced` only: the credential id the user's record pointed at before. */
  previousRecallCredentialId: z.optional(z.string()),
  zoomAccountId: z.nullable(z.string()),
  zoomUserId: z.nullable(z.string()),
  /** When the change was written (ISO 8601). */
  occurredAt: z.string(),
  /** The connect attempt's id, when a connect caused the change. */
  correlationId: z.optional(z.string()),
});
export type ConnectionEventDetail = z.infer<typeof ConnectionEventDetailSchema>;

/** The bus's `detail-type` for one event type, for rules that match on it. */
export const connectionEventDetailType = (type: ConnectionEventType): string => `Zoom connection ${type}.v1`;
