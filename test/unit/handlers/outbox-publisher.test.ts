import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { ConnectionEventDetailSchema, EVENT_SOURCE } from '../../../functions/adapters/event-publisher.js';
import { outboxEntriesOf, outboxItem } from '../../../functions/adapters/outbox.js';
import { connectionKey } from '../../../functions/core/table-schema.js';
import { scheduledEvent } from '../../helpers/events.js';
import { handlerHarness } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { recordItem } from '../../helpers/records.js';

const BUS = 'recall-zoom-connect-events';
const h = handlerHarness('outbox-publisher', {
  env: { EVENT_BUS_NAME: BUS, OUTBOX_SWEEP_MIN_AGE_SECONDS: '180' },
  metrics: true,
  table: true,
});
const { eventBridge } = h;

/** A `disconnected` entry of user-42, with a stable id, written at `occurredAt`. */
const entry = (eventId: string, occurredAt = '2026-12-06T18:00:00.000Z') => ({
  eventId,
  type: 'disconnected' as const,
  userId: 'user-42',
  status: 'disconnected' as const,
  recallCredentialId: 'cred-1',
  zoomAccountId: null,
  zoomUserId: 'zu-1',
  occurredAt,
});
/** user-42's disconnected record with these entries waiting, after three writes that added one. */
const itemWith = (...entries: ReturnType<typeof entry>[]): Record<string, AttributeValue> => ({
  ...recordItem('user-42', 'disconnected'),
  ...outboxItem(entries, 3),
});
/** The item with these entries is in the table, and the stream brings one image of it per entry's write. */
async function stored(...entries: ReturnType<typeof entry>[]): Promise<DynamoDBStreamEvent> {
  await h.table.put(itemWith(...entries));
  return {
    Records: entries.map((written) => itemWith(written)).map((image, i) => ({
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      dynamodb: { SequenceNumber: String(100 + i), NewImage: image as never, Keys: { pk: image.pk as never } },
    })),
  };
}
const storedItem = () => h.table.get(connectionKey('user-42'));
const waiting = async () => outboxEntriesOf(await storedItem()).entries.map((waiting) => waiting.eventId);
const scheduled = scheduledEvent('outbox-sweep', '2026-12-06T18:10:00Z');

describe('outbox publisher on the table stream', () => {
  it('puts the entry on the bus with its stable id, then removes it and takes the item out of the index', async () => {
    const result = await h.handler(await stored(entry('e-1')));

    expect(result).toEqual({ batchItemFailures: [] });
    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries.map(({ EventBusName, Source, DetailType }) => ({ EventBusName, Source, DetailType }))).toEqual([
      { EventBusName: BUS, Source: EVENT_SOURCE, DetailType: 'Zoom connection disconnected.v1' },
    ]);
    expect(ConnectionEventDetailSchema.parse(JSON.parse(String(entries[0]?.Detail)))).toMatchObject({ eventId: 'e-1', userId: 'user-42' });
    // The entry and the index keys are gone; the record and the write count stay.
    expect(await waiting()).toEqual([]);
    expect(await storedItem()).toEqual({ ...recordItem('user-42', 'disconnected'), outboxSeq: { N: '3' } });
    expect(metricSum(h.emitted(), 'EventsPublished')).toBe(1);
  });

  it.each([
    ['PutEvents throws', () => eventBridge.on(PutEventsCommand).rejects(new Error('ThrottlingException'))],
    ['PutEvents refuses the entry', () => eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] })],
  ])('reports the record as a batch item failure and keeps its entry when %s', async (_case, fail) => {
    fail();

    const result = await h.handler(await stored(entry('e-1'), entry('e-2')));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect((await waiting()).sort()).toEqual(['e-1', 'e-2']);
    expect((await storedItem())?.outboxPending).toEqual({ S: 'pending' });
    expect(metricSum(h.emitted(), 'EventPublishFailed')).toBe(1);
  });
});

describe('outbox publisher on its sweep schedule', () => {
  it('publishes the entries waiting OUTBOX_SWEEP_MIN_AGE_SECONDS or more, found in the byOutbox index', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-06T18:10:00.000Z'), toFake: ['Date'] });
    await h.table.put(
      itemWith(entry('e-9', '2026-12-06T18:07:00.000Z')),
      // Waiting less than 3 minutes: the stream is still on it.
      { ...recordItem('user-7', 'disconnected'), ...outboxItem([{ ...entry('e-10', '2026-12-06T18:07:00.001Z'), userId: 'user-7' }]) },
    );

    const summary = await h.handler(scheduled);

    expect(summary).toEqual({ items: 1, published: 1, failed: 0 });
    expect(await waiting()).toEqual([]);
    expect(outboxEntriesOf(await h.table.get(connectionKey('user-7'))).entries.map((left) => left.eventId)).toEqual(['e-10']);
    expect(metricSum(h.emitted(), 'OutboxSwept')).toBe(1);
  });

  it('writes no metric and calls no bus when nothing waits', async () => {
    const summary = await h.handler(scheduled);

    expect(summary).toEqual({ items: 0, published: 0, failed: 0 });
    expect(eventBridge.calls()).toHaveLength(0);
    expect(h.emitted()).toEqual([]);
  });

  it('fails its cold start without EVENT_BUS_NAME (its entries wait in the table meanwhile)', async () => {
    await expect(h.cold({ EVENT_BUS_NAME: undefined })).rejects.toThrow('EVENT_BUS_NAME');
  });
});
