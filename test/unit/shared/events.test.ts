import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  connectionEvent,
  createEventPublisher,
  detailTypeOf,
  EVENT_SOURCE,
  EventBridgePublisher,
  type EventPublisher,
  LoggingPublisher,
  publishQuietly,
} from '../../../functions/shared/events.js';

const BUS = 'recall-zoom-connect';
const eventBridge = mockClient(EventBridgeClient);
beforeEach(() => eventBridge.reset());
const NOW = '2026-11-30T18:00:00.000Z';

const record = (userId: string) => ({
  userId,
  status: 'connected' as const,
  recallCredentialId: 'cred-1',
  zoomAccountId: 'za-1',
  zoomUserId: null,
});

/** A log that keeps what it was told. */
function recordingLog() {
  const lines: { level: 'info' | 'error'; message: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (message: string, fields: Record<string, unknown>) => lines.push({ level: 'info', message, fields }),
    error: (message: string, fields: Record<string, unknown>) => lines.push({ level: 'error', message, fields }),
  };
}

describe('connectionEvent', () => {
  it('builds a detail the versioned schema accepts, with the optional fields only when given', () => {
    const plain = connectionEvent('connected', record('user-1'), NOW);
    const replaced = connectionEvent('replaced', record('user-1'), NOW, {
      previousRecallCredentialId: 'cred-0',
      correlationId: 'corr-1',
    });

    expect(ConnectionEventDetailSchema.parse(plain)).toEqual({
      schemaVersion: 1,
      type: 'connected',
      userId: 'user-1',
      status: 'connected',
      recallCredentialId: 'cred-1',
      zoomAccountId: 'za-1',
      zoomUserId: null,
      occurredAt: NOW,
    });
    expect(ConnectionEventDetailSchema.parse(replaced)).toMatchObject({
      previousRecallCredentialId: 'cred-0',
      correlationId: 'corr-1',
    });
  });

  it('names the detail-type by event type and schema version', () => {
    expect(detailTypeOf('healthy_again')).toBe('Zoom connection healthy_again.v1');
  });
});

describe('EventBridgePublisher', () => {
  it('sends each event as one entry on the bus, with the source, detail-type and JSON detail', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const failures: unknown[] = [];
    const publisher = new EventBridgePublisher(BUS, () => new EventBridgeClient({}), (...args) => failures.push(args));
    const event = connectionEvent('disconnected', { ...record('user-1'), status: 'disconnected' }, NOW);

    // Act
    await publisher.publish([event]);

    // Assess
    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries;
    expect(entries).toEqual([
      {
        EventBusName: BUS,
        Source: EVENT_SOURCE,
        DetailType: 'Zoom connection disconnected.v1',
        Detail: JSON.stringify(event),
      },
    ]);
    expect(ConnectionEventDetailSchema.parse(JSON.parse(String(entries?.[0]?.Detail)))).toEqual(event);
    expect(failures).toEqual([]);
  });

  it('splits more than 10 events into calls of at most 10 entries (the PutEvents limit)', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });
    const publisher = new EventBridgePublisher(BUS, () => new EventBridgeClient({}), () => undefined);
    const events = Array.from({ length: 23 }, (_, i) => connectionEvent('connected', record(`user-${i}`), NOW));

    await publisher.publish(events);

    const sizes = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 10, 3]);
  });

  it('reports entries EventBridge did not accept (FailedEntryCount) without throwing', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    const failures: unknown[][] = [];
    const publisher = new EventBridgePublisher(BUS, () => new EventBridgeClient({}), (...args) => failures.push(args));

    await expect(publisher.publish([connectionEvent('connected', record('user-1'), NOW)])).resolves.toBeUndefined();

    expect(failures).toEqual([[1]]);
  });

  it('reports a failed call without throwing, and goes on with the next batch', async () => {
    const error = new Error('AccessDenied');
    eventBridge.on(PutEventsCommand).rejectsOnce(error).resolves({ FailedEntryCount: 0 });
    const failures: unknown[][] = [];
    const publisher = new EventBridgePublisher(BUS, () => new EventBridgeClient({}), (...args) => failures.push(args));
    const events = Array.from({ length: 12 }, (_, i) => connectionEvent('connected', record(`user-${i}`), NOW));

    await expect(publisher.publish(events)).resolves.toBeUndefined();

    expect(failures).toEqual([[10, error]]);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });
});

describe('createEventPublisher', () => {
  it('publishes to the configured bus, and logs (never throws) when the call fails', async () => {
    eventBridge.on(PutEventsCommand).rejects(new Error('throttled'));
    const log = recordingLog();
    const publisher = createEventPublisher({ eventBusName: BUS }, log, () => new EventBridgeClient({}));

    await publisher.publish([connectionEvent('connected', record('user-1'), NOW)]);

    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0]?.EventBusName).toBe(BUS);
    expect(log.lines).toEqual([
      { level: 'error', message: 'Lifecycle events were not published', fields: { failed: 1, error: expect.any(Error) } },
    ]);
  });

  it('without a bus, logs each event and calls nothing', async () => {
    const log = recordingLog();
    const publisher = createEventPublisher({}, log, () => new EventBridgeClient({}));
    const event = connectionEvent('revoked', { ...record('user-1'), status: 'revoked' }, NOW);

    await publisher.publish([event]);

    expect(publisher).toBeInstanceOf(LoggingPublisher);
    expect(eventBridge.calls()).toHaveLength(0);
    expect(log.lines).toEqual([
      {
        level: 'info',
        message: 'Lifecycle event (no EVENT_BUS_NAME, not published)',
        fields: { detailType: 'Zoom connection revoked.v1', detail: event },
      },
    ]);
  });
});

describe('publishQuietly', () => {
  it('logs and swallows a publisher that throws', async () => {
    const log = recordingLog();
    const throwing: EventPublisher = {
      publish: async () => {
        throw new Error('broken publisher');
      },
    };

    await expect(
      publishQuietly(throwing, [connectionEvent('connected', record('user-1'), NOW)], log),
    ).resolves.toBeUndefined();

    expect(log.lines).toEqual([
      { level: 'error', message: 'Lifecycle events were not published', fields: { failed: 1, error: expect.any(Error) } },
    ]);
  });

  it('does not call the publisher for no events', async () => {
    const published: (readonly ConnectionEventDetail[])[] = [];
    await publishQuietly({ publish: async (events) => void published.push(events) }, [], recordingLog());

    expect(published).toEqual([]);
  });
});
