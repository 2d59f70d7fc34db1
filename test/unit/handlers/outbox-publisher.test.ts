import { type AttributeValue, DynamoDBClient, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConnectionEventDetailSchema, EVENT_SOURCE } from '../../../functions/adapters/event-publisher.js';
import { outboxWrite } from '../../../functions/adapters/outbox.js';
import { mockSecretsManager } from '../../helpers/aws.js';
import { context } from '../../helpers/context.js';
import { useAwsFunctionEnv } from '../../helpers/env.js';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

const BUS = 'recall-zoom-connect-events';
useAwsFunctionEnv();
process.env.EVENT_BUS_NAME = BUS;
process.env.OUTBOX_SWEEP_MIN_AGE_SECONDS = '180';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
const ddb = mockClient(DynamoDBClient);
const eventBridge = mockClient(EventBridgeClient);
let handler: (typeof import('../../../functions/handlers/outbox-publisher/handler.js'))['handler'];

beforeAll(async () => {
  ({ handler } = await import('../../../functions/handlers/outbox-publisher/handler.js'));
});
afterAll(() => {
  delete process.env.EVENT_BUS_NAME;
  delete process.env.OUTBOX_SWEEP_MIN_AGE_SECONDS;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
let output: CapturedOutput;
beforeEach(() => {
  ddb.reset();
  eventBridge.reset();
  mockSecretsManager();
  ddb.on(UpdateItemCommand).resolves({});
  ddb.on(QueryCommand).resolves({ Items: [] });
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
  output = captureOutput();
});
afterEach(() => output.restore());

/** user-42's item after a write that left one `disconnected` entry waiting. */
function itemWithEntry(eventId: string): Record<string, AttributeValue> {
  const write = outboxWrite(
    {
      type: 'disconnected',
      userId: 'user-42',
      status: 'disconnected',
      recallCredentialId: 'cred-1',
      zoomAccountId: null,
      zoomUserId: 'zu-1',
      occurredAt: '2026-12-06T18:00:00.000Z',
    },
    [],
    eventId,
  );
  return {
    pk: { S: 'USER#user-42' },
    status: { S: 'disconnected' },
    outboxPending: { S: 'pending' },
    outboxSince: { S: '2026-12-06T18:00:00.000Z' },
    outboxSeq: { N: '3' },
    [write.names['#obEntry'] as string]: write.values[':obEntry'] as AttributeValue,
  };
}

const streamEvent = (...images: Record<string, AttributeValue>[]): DynamoDBStreamEvent => ({
  Records: images.map((image, i) => ({
    eventName: 'MODIFY',
    eventSource: 'aws:dynamodb',
    dynamodb: { SequenceNumber: String(100 + i), NewImage: image as never, Keys: { pk: image.pk as never } },
  })),
});
const scheduled: ScheduledEvent = {
  version: '0',
  id: 'sweep',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-12-06T18:10:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {},
};

describe('outbox publisher on the table stream', () => {
  it('puts the entry on the bus with its stable id, then removes it and takes the item out of the index', async () => {
    const result = await handler(streamEvent(itemWithEntry('e-1')), context);

    expect(result).toEqual({ batchItemFailures: [] });
    const entries = eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries ?? [];
    expect(entries.map(({ EventBusName, Source, DetailType }) => ({ EventBusName, Source, DetailType }))).toEqual([
      { EventBusName: BUS, Source: EVENT_SOURCE, DetailType: 'Zoom connection disconnected.v1' },
    ]);
    expect(ConnectionEventDetailSchema.parse(JSON.parse(String(entries[0]?.Detail)))).toMatchObject({ eventId: 'e-1', userId: 'user-42' });
    const ack = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(ack).toMatchObject({
      Key: { pk: { S: 'USER#user-42' } },
      UpdateExpression: 'REMOVE #a0, #pending, #since',
      ConditionExpression: '#seq = :seq',
      ExpressionAttributeNames: { '#a0': 'outbox_e-1', '#pending': 'outboxPending', '#since': 'outboxSince', '#seq': 'outboxSeq' },
      ExpressionAttributeValues: { ':seq': { N: '3' } },
    });
    expect(metricSum(metricsOf(output.emf()), 'EventsPublished')).toBe(1);
  });

  it.each([
    ['PutEvents throws', () => eventBridge.on(PutEventsCommand).rejects(new Error('ThrottlingException'))],
    ['PutEvents refuses the entry', () => eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] })],
  ])('reports the record as a batch item failure and keeps its entry when %s', async (_case, fail) => {
    fail();

    const result = await handler(streamEvent(itemWithEntry('e-1'), itemWithEntry('e-2')), context);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(metricSum(metricsOf(output.emf()), 'EventPublishFailed')).toBe(1);
  });
});

describe('outbox publisher on its sweep schedule', () => {
  it('asks the byOutbox index for entries waiting OUTBOX_SWEEP_MIN_AGE_SECONDS or more, and publishes them', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-12-06T18:10:00.000Z'), toFake: ['Date'] });
    try {
      ddb.on(QueryCommand).resolves({ Items: [itemWithEntry('e-9')] });

      const summary = await handler(scheduled, context);

      expect(summary).toEqual({ items: 1, published: 1, failed: 0 });
      expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({
        IndexName: 'byOutbox',
        ExpressionAttributeValues: { ':pending': { S: 'pending' }, ':olderThan': { S: '2026-12-06T18:07:00.000Z' } },
      });
      expect(metricSum(metricsOf(output.emf()), 'OutboxSwept')).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes no metric and calls no bus when nothing waits', async () => {
    const summary = await handler(scheduled, context);

    expect(summary).toEqual({ items: 0, published: 0, failed: 0 });
    expect(eventBridge.calls()).toHaveLength(0);
    expect(metricsOf(output.emf())).toEqual([]);
  });

  it('fails its cold start without EVENT_BUS_NAME (its entries wait in the table meanwhile)', async () => {
    delete process.env.EVENT_BUS_NAME;
    try {
      vi.resetModules();
      await expect(import('../../../functions/handlers/outbox-publisher/handler.js')).rejects.toThrow('EVENT_BUS_NAME');
    } finally {
      process.env.EVENT_BUS_NAME = BUS;
    }
  });
});
