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
