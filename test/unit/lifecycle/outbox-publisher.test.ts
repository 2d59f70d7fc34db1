import { type AttributeValue, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import type { ConnectionEventDetail, EventPublisher } from '../../../functions/adapters/event-publisher.js';
import { ConnectionRepository } from '../../../functions/adapters/connection-repository.js';
import { eventsOf, OUTBOX_PENDING, type OutboxEntry, outboxEntriesOf, outboxItem, outboxWrite, withOutbox } from '../../../functions/adapters/outbox.js';
import { connectionKey, itemKey, TABLE_SCHEMA } from '../../../functions/core/table-schema.js';
import {
  type OutboxPublisherDeps,
  type OutboxStreamRecord,
  publishStreamRecords,
  sweepOutbox,
} from '../../../functions/lifecycle/outbox-publisher.js';
import { inMemoryServiceTable } from '../../helpers/fakes/dynamodb-table.js';

const NOW = '2026-12-06T18:00:00.000Z';

const table = inMemoryServiceTable();

/**
 * The item of `userId`'s record after `writes`, each an outbox write made as the writers make it (a real UpdateItem
 * on the in-memory table), starting from the record as it was (`before`: what the writes copy as `prior…`).
 * @param seq - overrides the write count (`outboxSeq`) the writes leave
 */
async function itemWith(
  userId: string,
  writes: { eventId: string; type?: OutboxEntry['type'] }[],
  { before = {}, seq }: { before?: Record<string, AttributeValue>; seq?: number } = {},
): Promise<Record<string, AttributeValue>> {
  const { send, tableName: TableName } = await table;
  const Key = itemKey(connectionKey(userId));
  await send(new PutItemCommand({ TableName, Item: { ...Key, ...before } }));
  for (const { eventId, type = 'connected' } of writes) {
    const write = outboxWrite(
      { type, userId, status: type === 'connected' ? 'connected' : 'unhealthy', recallCredentialId: 'cred-2', occurredAt: NOW, zoomAccountId: null, zoomUserId: 'zu-1' },
      type === 'connected' ? ['priorRecallCredentialId', 'priorStatus', 'priorZoomIdentity'] : [],
      eventId,
    );
    await send(new UpdateItemCommand({ TableName, Key, ...withOutbox({ set: [], names: {}, values: {} }, write) }));
  }
  const { Item = {} } = await send<{ Item?: Record<string, AttributeValue> }>(new GetItemCommand({ TableName, Key, ConsistentRead: true }));
  return seq === undefined ? Item : { ...Item, ...outboxItem([], seq) };
}

/** A bus that records what it was given, and fails while told to. */
class FakeBus implements EventPublisher {
  readonly published: ConnectionEventDetail[] = [];
  failing = 0;
  async publish(events: readonly ConnectionEventDetail[]): Promise<void> {
    if (this.failing > 0) {
      this.failing--;
      throw new Error('PutEvents failed');
    }
    this.published.push(...events);
  }
}

function harness(items: Record<string, AttributeValue>[] = []) {
  const bus = new FakeBus();
  const acks: { key: string; attributes: readonly string[]; ifSeq: number | undefined }[] = [];
  const followed: string[] = [];
  const log = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const deps: OutboxPublisherDeps = {
    publisher: bus,
    connections: {
      acknowledgeOutbox: async (key, attributes, ifSeq) => {
        acks.push({ key: String(key.pk?.S), attributes, ifSeq });
        return true;
      },
      listPendingOutbox: async () => items,
    },
    followUp: async (entry) => {
      followed.push(entry.eventId);
    },
    log,
  };
  return { bus, acks, followed, deps };
}

const streamRecord = (sequence: string, newImage: Record<string, AttributeValue>, oldImage?: Record<string, AttributeValue>): OutboxStreamRecord => ({
  eventName: 'MODIFY',
  dynamodb: { SequenceNumber: sequence, NewImage: newImage, ...(oldImage ? { OldImage: oldImage } : {}) },
});

describe('eventsOf', () => {
  it('gives a connect that replaced a credential the record relied on a `replaced` event, with an id derived from the entry', async () => {
    const before = { recallCredentialId: { S: 'cred-1' }, status: { S: 'unhealthy' }, zoomIdentity: { S: 'user#zu-1' } };
    const [entry] = outboxEntriesOf(await itemWith('user-42', [{ eventId: 'e-1' }], { before })).entries;

    const events = eventsOf(entry as OutboxEntry);

    expect(events.map((event) => [event.eventId, event.type, event.previousRecallCredentialId])).toEqual([
      ['e-1', 'connected', undefined],
      ['e-1:replaced', 'replaced', 'cred-1'],
    ]);
  });

  it.each([
    ['a first connect', {}],
    ['a reconnect after a disconnect', { recallCredentialId: { S: 'cred-1' }, status: { S: 'disconnected' } }],
    ['a reconnect Recall answered in place', { recallCredentialId: { S: 'cred-2' }, status: { S: 'connected' } }],
  ])('gives %s only `connected`', async (_case, before) => {
    const [entry] = outboxEntriesOf(await itemWith('user-42', [{ eventId: 'e-1' }], { before })).entries;

    expect(eventsOf(entry as OutboxEntry).map((event) => event.type)).toEqual(['connected']);
  });

  it('lists an entry it cannot read apart, instead of failing the item', async () => {
    const item = { ...(await itemWith('user-42', [{ eventId: 'e-1' }])), outbox_broken: { S: '{not json' } };

    expect(outboxEntriesOf(item)).toMatchObject({ entries: [{ eventId: 'e-1' }], unreadable: ['outbox_broken'] });
  });
});

describe('publishStreamRecords', () => {
  it('publishes the entries a write added (in the new image, not the old), runs their follow-up, then removes them', async () => {
    const { bus, acks, followed, deps } = harness();
    const old = await itemWith('user-42', [{ eventId: 'e-1' }]);
    const next = await itemWith('user-42', [{ eventId: 'e-1' }, { eventId: 'e-2', type: 'unhealthy' }]);

    const result = await publishStreamRecords([streamRecord('100', next, old)], deps);

    expect(result).toEqual({ batchItemFailures: [] });
    expect(bus.published.map((event) => event.eventId)).toEqual(['e-2']);
    expect(followed).toEqual(['e-2']);
    // Another entry (e-1) is still on the item: only e-2's attributes go, and the item stays in the index.
    expect(acks).toEqual([{ key: connectionKey('user-42'), attributes: ['outbox_e-2'], ifSeq: undefined }]);
  });

  it("takes the item out of the index with the entries when they are all it holds, on the write's sequence", async () => {
    const { acks, deps } = harness();

    await publishStreamRecords([streamRecord('100', await itemWith('user-42', [{ eventId: 'e-1' }], { seq: 7 }))], deps);

    expect(acks).toEqual([
      {
        key: connectionKey('user-42'),
        attributes: ['outbox_e-1', 'outbox_e-1~priorRecallCredentialId', 'outbox_e-1~priorStatus', 'outbox_e-1~priorZoomIdentity'],
        ifSeq: 7,
      },
    ]);
  });

  it('skips writes that added no entry (a removal, a lock) without calling the bus', async () => {
    const { bus, acks, deps } = harness();
    const item = await itemWith('user-42', [{ eventId: 'e-1' }]);

    await publishStreamRecords([streamRecord('100', item, item), { eventName: 'REMOVE', dynamodb: { SequenceNumber: '101' } }], deps);

    expect(bus.published).toEqual([]);
    expect(acks).toEqual([]);
  });

  it('stops at the first record that fails and reports its sequence number, removing nothing of it', async () => {
    const { bus, acks, deps } = harness();
    let calls = 0;
    deps.publisher = {
      publish: async (events) => {
        if (++calls === 2) throw new Error('PutEvents failed');
        await bus.publish(events);
      },
    };
    const records = [];
    for (const [i, user] of ['a', 'b', 'c'].entries()) records.push(streamRecord(String(100 + i), await itemWith(user, [{ eventId: `e-${user}` }])));

    const result = await publishStreamRecords(records, deps);

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
    expect(bus.published.map((event) => event.eventId)).toEqual(['e-a']);
    expect(acks.map((ack) => ack.key)).toEqual([connectionKey('a')]);
  });

  it('keeps the entry when its follow-up fails (the lock is busy): published again later with the same id', async () => {
    const { bus, acks, deps } = harness();
    deps.followUp = async () => {
      throw new Error('IdentityBusyError');
    };
    const record = streamRecord('100', await itemWith('user-42', [{ eventId: 'e-1' }]));

    expect(await publishStreamRecords([record], deps)).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    deps.followUp = async () => undefined;
    expect(await publishStreamRecords([record], deps)).toEqual({ batchItemFailures: [] });

    expect(bus.published.map((event) => event.eventId)).toEqual(['e-1', 'e-1']);
    expect(acks).toHaveLength(1);
  });

  it('removes an entry it cannot read, so it does not block the item forever', async () => {
    const { acks, deps } = harness();
    const item = { ...(await itemWith('user-42', [{ eventId: 'e-1' }])), outbox_broken: { S: '{' } };

    await publishStreamRecords([streamRecord('100', item)], deps);

    expect(acks[0]?.attributes).toContain('outbox_broken');
  });
});

describe('sweepOutbox', () => {
  it('publishes every waiting entry of every item, and goes on past an item that fails', async () => {
    const items = [
      await itemWith('a', [{ eventId: 'e-a' }]),
      await itemWith('b', [{ eventId: 'e-b' }]),
      await itemWith('c', [{ eventId: 'e-c1' }, { eventId: 'e-c2', type: 'unhealthy' }]),
    ];
    const { bus, acks, deps } = harness(items);
    bus.failing = 1;

    const summary = await sweepOutbox(deps, { minAgeMs: 0, now: () => Date.parse(NOW) });

    expect(summary).toEqual({ items: 3, published: 3, failed: 1 });
    expect(bus.published.map((event) => event.eventId)).toEqual(['e-b', 'e-c1', 'e-c2']);
    expect(acks.map((ack) => [ack.key, ack.ifSeq])).toEqual([
      [connectionKey('b'), 1],
      [connectionKey('c'), 2],
    ]);
  });

  it('removes only what it published when a write added an entry after the sweep read the item: the newer one waits', async () => {
    const { client, tableName, send } = await table;
    const repository = new ConnectionRepository(client, tableName);
    const seen = await itemWith('late', [{ eventId: 'e-1' }]);
    const { deps, bus } = harness([seen]);
    deps.connections.acknowledgeOutbox = repository.acknowledgeOutbox.bind(repository);
    const Key = itemKey(connectionKey('late'));
    const later = outboxWrite({ type: 'unhealthy', userId: 'late', status: 'unhealthy', recallCredentialId: 'cred-2', occurredAt: NOW }, [], 'e-2');
    await send(new UpdateItemCommand({ TableName: tableName, Key, ...withOutbox({ set: [], names: {}, values: {} }, later) }));

    await sweepOutbox(deps, { minAgeMs: 0, now: () => Date.parse(NOW) });

    const { Item } = await send<{ Item?: Record<string, AttributeValue> }>(new GetItemCommand({ TableName: tableName, Key, ConsistentRead: true }));
    expect(bus.published.map((event) => event.eventId)).toEqual(['e-1']);
    expect(outboxEntriesOf(Item).entries.map((entry) => entry.eventId)).toEqual(['e-2']);
    expect(Item?.[TABLE_SCHEMA.outboxIndex.partitionKey]).toEqual({ S: OUTBOX_PENDING });
  });

  it('asks only for entries older than the minimum age', async () => {
    const { deps } = harness();
    const asked: string[] = [];
    deps.connections.listPendingOutbox = async (olderThan) => {
      asked.push(olderThan);
      return [];
    };

    await sweepOutbox(deps, { minAgeMs: 180_000, now: () => Date.parse(NOW) });

    expect(asked).toEqual(['2026-12-06T17:57:00.000Z']);
  });
});
