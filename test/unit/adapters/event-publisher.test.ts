import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  detailTypeOf,
  EVENT_SOURCE,
  EventBridgePublisher,
  EventPublishError,
} from '../../../functions/adapters/event-publisher.js';

const BUS = 'recall-zoom-connect';
const eventBridge = mockClient(EventBridgeClient);
beforeEach(() => eventBridge.reset());
const NOW = '2026-11-30T18:00:00.000Z';

const event = (userId: string, type: ConnectionEventDetail['type'] = 'connected'): ConnectionEventDetail => ({
  schemaVersion: 1,
  eventId: `event-${userId}`,
  type,
  userId,
  status: type === 'disconnected' ? 'disconnected' : 'connected',
  recallCredentialId: 'cred-1',
  zoomAccountId: 'za-1',
  zoomUserId: null,
  occurredAt: NOW,
});
const publisher = () => new EventBridgePublisher(BUS, () => new EventBridgeClient({}));

describe('ConnectionEventDetailSchema', () => {
  it('requires the stable eventId, and takes the optional fields', () => {
    const { eventId: _, ...withoutId } = event('user-1');
    expect(ConnectionEventDetailSchema.safeParse(withoutId).success).toBe(false);
    expect(
      ConnectionEventDetailSchema.parse({ ...event('user-1', 'replaced'), previousRecallCredentialId: 'cred-0', correlationId: 'c' }),
    ).toMatchObject({ eventId: 'event-user-1', previousRecallCredentialId: 'cred-0', correlationId: 'c' });
  });

  it('names the detail-type by event type and schema version', () => {
    expect(detailTypeOf('healthy_again')).toBe('Zoom connection healthy_again.v1');
  });
});

describe('EventBridgePublisher', () => {
  it('sends each event as one entry on the bus, with the source, detail-type and JSON detail', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const disconnected = event('user-1', 'disconnected');

    // Act
    await publisher().publish([disconnected]);

    // Assess
    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries;
    expect(entries).toEqual([
      { EventBusName: BUS, Source: EVENT_SOURCE, DetailType: 'Zoom connection disconnected.v1', Detail: JSON.stringify(disconnected) },
    ]);
    expect(ConnectionEventDetailSchema.parse(JSON.parse(String(entries?.[0]?.Detail)))).toEqual(disconnected);
  });

  it('splits more than 10 events into calls of at most 10 entries (the PutEvents limit)', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0 });

    await publisher().publish(Array.from({ length: 23 }, (_, i) => event(`user-${i}`)));

    const sizes = eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([10, 10, 3]);
  });

  it('throws EventPublishError when EventBridge refuses some entries (FailedEntryCount), so the outbox keeps them', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }, { EventId: 'e' }] });

    const failure = await publisher().publish([event('user-1'), event('user-2')]).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(EventPublishError);
    expect((failure as EventPublishError).failed).toBe(1);
  });

  it('throws after trying every call when one call fails, with the SDK error as its cause', async () => {
    const error = new Error('AccessDenied');
    eventBridge.on(PutEventsCommand).rejectsOnce(error).resolves({ FailedEntryCount: 0 });

    const failure = await publisher().publish(Array.from({ length: 12 }, (_, i) => event(`user-${i}`))).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(EventPublishError);
    expect((failure as EventPublishError).failed).toBe(10);
    expect((failure as EventPublishError).cause).toBe(error);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });
});
