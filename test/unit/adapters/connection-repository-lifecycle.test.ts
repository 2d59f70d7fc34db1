import { ConditionalCheckFailedException, DynamoDBClient, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionRepository, connectionFromItem, connectionItem } from '../../../functions/adapters/connection-repository.js';
import { outboxEntriesOf } from '../../../functions/adapters/outbox.js';
import { connectionKey } from '../../../functions/core/table-schema.js';
import { type MemoryTable, memoryTable } from '../../helpers/memory-table.js';
import { aConnection } from '../../helpers/records.js';

const ddb = mockClient(DynamoDBClient);
const repository = new ConnectionRepository(new DynamoDBClient({ region: 'us-west-2' }), 'connect-table');
const NOW = '2026-11-30T18:00:01.000Z';
const ZOOM_DATA = ['zoomAccountId', 'zoomUserId', 'zoomIdentity'];
let table: MemoryTable;

beforeAll(async () => {
  table = await memoryTable(ddb, 'connect-table');
}, 30_000);
afterAll(() => table.close());
beforeEach(async () => {
  ddb.reset();
  await table.reset();
});

const stored = () => table.get(connectionKey('user-42'));
const storedEntries = async () => outboxEntriesOf(await stored()).entries;
/** user-42's record, revoked and scrubbed by the repository itself (as a deauthorization without data retention leaves it). */
async function scrubbedRecord(): Promise<void> {
  await table.put(connectionItem(aConnection('user-42', { oauthAppId: 'app-1' })));
  await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: true });
}

describe('ConnectionRepository: records whose Zoom data was removed', () => {
  it('still reads such a record, with null Zoom ids and identity', async () => {
    await scrubbedRecord();

    expect(Object.keys((await stored()) ?? {})).not.toEqual(expect.arrayContaining(['zoomAccountId']));
    expect(await repository.get('user-42')).toEqual({
      userId: 'user-42',
      status: 'revoked',
      recallCredentialId: 'cred-1',
      zoomAccountId: null,
      zoomUserId: null,
      zoomIdentity: null,
      oauthAppId: 'app-1',
      connectedAt: '2026-11-01T00:00:00.000Z',
      updatedAt: NOW,
    });
  });

  it('finds nothing for a null identity, without querying', async () => {
    expect(await repository.listByZoomIdentity(null)).toEqual([]);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('still writes the identity of a new connection (the index key)', async () => {
    await scrubbedRecord();

    await repository.recordConnected('user-42', { id: 'cred-2', user_id: 'zu-1', account_id: 'za-1' }, 'app-1', NOW);

    expect((await stored())?.zoomIdentity).toEqual({ S: 'user#zu-1' });
    expect((await repository.listByZoomIdentity('user#zu-1')).map((record) => record.userId)).toEqual(['user-42']);
  });
});

describe('ConnectionRepository.recordConnected', () => {
  const credential = { id: 'cred-2', user_id: null, account_id: 'za-1' };
  const record = (attemptVersion?: number) =>
    repository.recordConnected('user-42', credential, 'app-1', NOW, ...(attemptVersion === undefined ? [] : [attemptVersion]));
  const written = aConnection('user-42', {
    recallCredentialId: 'cred-2',
    zoomAccountId: 'za-1',
    zoomUserId: null,
    zoomIdentity: 'account#za-1',
    oauthAppId: 'app-1',
    connectedAt: NOW,
    updatedAt: NOW,
  });

  it('writes the record in one conditional update, unless a newer attempt of the user already wrote it', async () => {
    // Act
    const result = await record(1_796_062_200);
    const older = await record(1_796_062_199);

    // Assess: the item as `connectionItem` encodes the record, with the attempt's version; the older attempt wrote nothing.
    expect(result).toEqual({ status: 'recorded' });
    expect(older).toEqual({ status: 'superseded' });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(2);
    expect(await stored()).toMatchObject(connectionItem(written, 1_796_062_200));
    expect(await storedEntries()).toHaveLength(1);
  });

  it('holds the `connected` event in the same write (the outbox), copying what the record was before from the old item', async () => {
    await table.put(connectionItem(aConnection('user-42', { status: 'unhealthy', zoomIdentity: 'user#zu-1' })));

    await record(1_796_062_200);

    // Assess: one call stored the record and its entry, with what the record was before; the item waits in the outbox index.
    expect(ddb.calls()).toHaveLength(1);
    expect(await storedEntries()).toEqual([
      {
        eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: 'connected',
        userId: 'user-42',
        status: 'connected',
        recallCredentialId: 'cred-2',
        zoomAccountId: 'za-1',
        zoomUserId: null,
        occurredAt: NOW,
        zoomIdentity: 'account#za-1',
        oauthAppId: 'app-1',
        priorRecallCredentialId: 'cred-1',
        priorStatus: 'unhealthy',
        priorZoomIdentity: 'user#zu-1',
        attributes: expect.any(Array),
      },
    ]);
    expect((await repository.listPendingOutbox(NOW, 10)).map((item) => item.pk?.S)).toEqual([connectionKey('user-42')]);
  });

  it('copies nothing (null) into a first connect\'s entry: there was no record before', async () => {
    await record(1);

    expect(await storedEntries()).toEqual([
      expect.objectContaining({ priorRecallCredentialId: null, priorStatus: null, priorZoomIdentity: null }),
    ]);
  });

  it('gives every write its own event id', async () => {
    await record(1);
    await record(2);

    expect(new Set((await storedEntries()).map((entry) => entry.eventId)).size).toBe(2);
  });

  it('orders an attempt without a version before every versioned one', async () => {
    await record();
    expect(await record(1)).toMatchObject({ status: 'recorded' });
    expect(await record()).toEqual({ status: 'superseded' });
    expect((await stored())?.attemptVersion).toEqual({ N: '1' });
  });

  it('returns the record it replaced, as it was', async () => {
    const before = aConnection('user-42', { zoomAccountId: 'za-1', zoomIdentity: 'account#za-1' });
    await table.put(connectionItem(before));

    const result = await record(2);

    expect(result).toEqual({ status: 'recorded', previous: before });
  });

  it('answers superseded, writing nothing else, when a newer attempt of the user already wrote the record', async () => {
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    const result = await record(1);

    expect(result).toEqual({ status: 'superseded' });
    expect(ddb.calls()).toHaveLength(1);
  });

  it('lets other failures through', async () => {
    ddb.on(UpdateItemCommand).rejects(new Error('InternalServerError'));

    await expect(record(1)).rejects.toThrow('InternalServerError');
  });
});

describe('ConnectionRepository.revoke', () => {
  beforeEach(() => table.put(connectionItem(aConnection('user-42'))));

  it('marks the record revoked only while it relies on the credential, answering the new record', async () => {
    expect(await repository.revoke('user-42', 'cred-other', NOW, { scrubZoomData: true })).toBeUndefined();

    const revoked = await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: true });

    expect(revoked).toMatchObject({ status: 'revoked', updatedAt: NOW, zoomIdentity: null });
    expect(connectionFromItem((await stored()) ?? {})).toEqual(revoked);
    expect(Object.keys((await stored()) ?? {})).not.toEqual(expect.arrayContaining([expect.stringMatching(/^zoom/)]));
    // The `revoked` event rides on the same write; scrubbed, it names no Zoom ids and copies none.
    expect(await storedEntries()).toEqual([
      expect.objectContaining({ type: 'revoked', userId: 'user-42', status: 'revoked', recallCredentialId: 'cred-1', zoomAccountId: null, zoomUserId: null }),
    ]);
    expect((await storedEntries())[0]?.attributes).toHaveLength(1);
  });

  it('copies the Zoom ids into the `revoked` event from the item when they are kept (data retention)', async () => {
    await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false });

    expect(await stored()).toMatchObject({ zoomAccountId: { S: 'za-1' }, zoomUserId: { S: 'zu-1' }, zoomIdentity: { S: 'user#zu-1' } });
    expect(await storedEntries()).toEqual([expect.objectContaining({ type: 'revoked', zoomAccountId: 'za-1', zoomUserId: 'zu-1' })]);
  });

  it('answers undefined when the record no longer matches', async () => {
    await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false });

    expect(await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false })).toBeUndefined();
    expect(await storedEntries()).toHaveLength(1);
  });

  it('lets other failures through', async () => {
    ddb.on(UpdateItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    await expect(repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false })).rejects.toThrow(/Throughput/);
  });
});

describe('ConnectionRepository.scrubZoomData', () => {
  const CUTOFF = '2026-11-30T17:59:58.000Z';

  it.each([
    ['a revoked record of that identity, connected before the cutoff, loses its Zoom ids and only them', { status: 'revoked' }, true],
    ['a disconnected one loses them too', { status: 'disconnected' }, true],
    ['a record that still relies on its credential keeps them', { status: 'connected' }, false],
    ['a record of another identity keeps them', { status: 'revoked', zoomIdentity: 'user#zu-2' }, false],
    ['a record connected after the cutoff keeps them', { status: 'revoked', connectedAt: NOW }, false],
  ] as const)('%s', async (_case, overrides, scrubbed) => {
    await table.put(connectionItem(aConnection('user-42', overrides)));

    const result = await repository.scrubZoomData('user-42', 'user#zu-1', NOW, { connectedNoLaterThan: CUTOFF });

    const after = Object.keys((await stored()) ?? {});
    expect(after.filter((name) => ZOOM_DATA.includes(name))).toEqual(scrubbed ? [] : expect.arrayContaining(ZOOM_DATA));
    expect(result?.status).toBe(scrubbed ? overrides.status : undefined);
    // Not a transition (the status stays): no event.
    expect(await storedEntries()).toEqual([]);
  });
});

describe('ConnectionRepository.listByZoomIdentity', () => {
  it('returns the records of an identity, whatever their status', async () => {
    await table.put(
      connectionItem(aConnection('user-42', { status: 'revoked' })),
      connectionItem(aConnection('user-7', { status: 'connected' })),
      connectionItem(aConnection('user-8', { zoomIdentity: 'user#zu-2' })),
    );

    const records = await repository.listByZoomIdentity('user#zu-1');

    expect(records.map((r) => [r.userId, r.zoomIdentity]).sort()).toEqual([['user-42', 'user#zu-1'], ['user-7', 'user#zu-1']]);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(1);
  });
});
