import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { type ConnectionEventDetail, detailTypeOf, EVENT_SOURCE } from '../../client/events.js';

/**
 * Lifecycle events the product subscribes to on the stack's EventBridge bus. Their contract (source, types,
 * detail schema with the stable `eventId`, detail-type) is the client package's, which products install and which
 * has no AWS SDK in it: the service publishes exactly what that package parses.
 */
export {
  CONNECTION_EVENT_TYPES,
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  type ConnectionEventType,
  detailTypeOf,
  EVENT_SOURCE,
} from '../../client/events.js';

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
