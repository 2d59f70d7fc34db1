/**
 * The lifecycle events the service puts on its EventBridge bus (source `recall-zoom-connect`, detail-type
 * `Zoom connection <type>.v1`), for a product backend that keeps its own view of who is connected: the service's
 * own schema, shared (it has no AWS SDK in it).
 *
 * Delivery is **at least once**: every status change is stored with its event in the same write, and the event is
 * published until EventBridge has taken it, so an event can arrive more than once (never zero times). Every
 * delivery of one change carries the same `eventId` and the same detail: apply an event once per `eventId`, and
 * per user only when its `occurredAt` is not older than what you hold (a redelivery can come after a later event).
 */
export {
  CONNECTION_EVENT_TYPES,
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  type ConnectionEventType,
  detailTypeOf as connectionEventDetailType,
  EVENT_SOURCE as CONNECTION_EVENT_SOURCE,
} from '../functions/shared/event-detail.js';
