import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { type ConnectionEventDetail, type ConnectionEventType, detailTypeOf, EVENT_SOURCE } from '../../client/events.js';

/**
 * Lifecycle events the product subscribes to on the stack's EventBridge bus. Their contract (source, types,
 * detail schema, detail-type) is the client package's, which products install: the service publishes exactly what
 * that package parses. The detail is versioned: a change that breaks consumers bumps `schemaVersion` and the
 * detail-type suffix.
 */
export {
  CONNECTION_EVENT_TYPES,
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  type ConnectionEventType,
  detailTypeOf,
  EVENT_SOURCE,
} from '../../client/events.js';

export interface EventPublisher {
  /** Best effort by design: a lost event never fails the user's flow; GET /connections stays the truth. */
  publish(events: readonly ConnectionEventDetail[]): Promise<void>;
}

const MAX_ENTRIES_PER_CALL = 10;

/**
 * Publishes to the bus named by `EVENT_BUS_NAME` (the SDK honours AWS_ENDPOINT_URL_EVENTBRIDGE, which local mode
 * points at its own bus). Failures are reported to `onFailure`, never thrown.
 */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly busName: string,
    private readonly client: () => EventBridgeClient,
    private readonly onFailure: (failed: number, error?: unknown) => void,
  ) {}

  async publish(events: readonly ConnectionEventDetail[]): Promise<void> {
    for (let i = 0; i < events.length; i += MAX_ENTRIES_PER_CALL) {
      const entries: PutEventsRequestEntry[] = events.slice(i, i + MAX_ENTRIES_PER_CALL).map((detail) => ({
        EventBusName: this.busName,
        Source: EVENT_SOURCE,
        DetailType: detailTypeOf(detail.type),
        Detail: JSON.stringify(detail),
      }));
      try {
        const { FailedEntryCount } = await this.client().send(new PutEventsCommand({ Entries: entries }));
        if (FailedEntryCount) this.onFailure(FailedEntryCount);
      } catch (error) {
        this.onFailure(entries.length, error);
      }
    }
  }
}

let eventBridge: EventBridgeClient | undefined;
export const getEventBridge = (): EventBridgeClient => (eventBridge ??= new EventBridgeClient({}));

/** Builds the detail of one event from a connection record. */
export function connectionEvent(
  type: ConnectionEventType,
  connection: {
    userId: string;
    status: ConnectionEventDetail['status'];
    recallCredentialId: string;
    zoomAccountId: string | null;
    zoomUserId: string | null;
  },
  occurredAt: string,
  extra: { previousRecallCredentialId?: string; correlationId?: string } = {},
): ConnectionEventDetail {
  return {
    schemaVersion: 1,
    type,
    userId: connection.userId,
    status: connection.status,
    recallCredentialId: connection.recallCredentialId,
    zoomAccountId: connection.zoomAccountId,
    zoomUserId: connection.zoomUserId,
    occurredAt,
    ...extra,
  };
}

/** Where publishers report; the Powertools logger fits, and tests pass a recorder. */
export interface EventLog {
  info(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

/** Used when no bus is configured: each event becomes one log line, so a developer still sees the lifecycle. */
export class LoggingPublisher implements EventPublisher {
  constructor(private readonly log: EventLog) {}

  async publish(events: readonly ConnectionEventDetail[]): Promise<void> {
    for (const detail of events) {
      this.log.info('Lifecycle event (no EVENT_BUS_NAME, not published)', { detailType: detailTypeOf(detail.type), detail });
    }
  }
}

/**
 * The publisher a function uses: the bus named by `EVENT_BUS_NAME` when it is set, else the log.
 * @param config - the function's config (`eventBusName`)
 * @param log - where failures (and, without a bus, the events) are reported
 * @param client - the EventBridge client, created on first publish by default
 * @param onFailed - also told how many events were lost, each time some are (for metrics)
 */
export function createEventPublisher(
  config: { eventBusName?: string | undefined },
  log: EventLog,
  client: () => EventBridgeClient = getEventBridge,
  onFailed?: (failed: number) => void,
): EventPublisher {
  if (!config.eventBusName) return new LoggingPublisher(log);
  return new EventBridgePublisher(config.eventBusName, client, (failed, error) => {
    log.error('Lifecycle events were not published', { failed, ...(error === undefined ? {} : { error }) });
    onFailed?.(failed);
  });
}

/**
 * Publishes and swallows anything the publisher throws: a lost event must never turn a finished change (a
 * connect, a disconnect) into a failure. `EventBridgePublisher` never throws; this guards every other publisher.
 */
export async function publishQuietly(
  publisher: EventPublisher,
  events: readonly ConnectionEventDetail[],
  log: Pick<EventLog, 'error'>,
): Promise<void> {
  if (events.length === 0) return;
  try {
    await publisher.publish(events);
  } catch (error) {
    log.error('Lifecycle events were not published', { failed: events.length, error });
  }
}
