import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConnectionRepository } from '../../../functions/adapters/connection-repository.js';

const ddb = mockClient(DynamoDBClient);
const repository = new ConnectionRepository(new DynamoDBClient({ region: 'us-west-2' }), 'connect-table');
const NOW = '2026-11-30T18:00:01.000Z';

/** A record after a deauthorization without data retention: no Zoom ids, no identity. */
const scrubbedItem: Record<string, AttributeValue> = {
  pk: { S: 'USER#user-42' },
  userId: { S: 'user-42' },
  status: { S: 'revoked' },
  recallCredentialId: { S: 'cred-1' },
  oauthAppId: { S: 'app-1' },
  connectedAt: { S: '2026-11-01T00:00:00.000Z' },
  updatedAt: { S: NOW },
};

beforeEach(() => {
  ddb.reset();
});

describe('ConnectionRepository: records whose Zoom data was removed', () => {
  it('still reads such a record, with null Zoom ids and identity', async () => {
    ddb.on(GetItemCommand).resolves({ Item: scrubbedItem });

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
    ddb.on(UpdateItemCommand).resolves({ Attributes: scrubbedItem });

    await repository.recordConnected('user-42', { id: 'cred-2', user_id: 'zu-1', account_id: 'za-1' }, 'app-1', NOW);

    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).toContain('#identity = :identity');
    expect(input?.ExpressionAttributeNames?.['#identity']).toBe('zoomIdentity');
    expect(input?.ExpressionAttributeValues?.[':identity']).toEqual({ S: 'user#zu-1' });
  });
});

describe('ConnectionRepository.recordConnected', () => {
  const credential = { id: 'cred-2', user_id: null, account_id: 'za-1' };
  const record = (attemptVersion?: number) =>
    repository.recordConnected('user-42', credential, 'app-1', NOW, ...(attemptVersion === undefined ? [] : [attemptVersion]));

  it('writes the record in one conditional update, unless a newer attempt of the user already wrote it', async () => {
    // Prepare
    ddb.on(UpdateItemCommand).resolves({});

    // Act
    const result = await record(1_796_062_200);

    // Assess
    expect(result).toEqual({ status: 'recorded' });
    expect(ddb.calls()).toHaveLength(1);
    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ pk: { S: 'USER#user-42' } });
    expect(input?.ConditionExpression).toBe('attribute_not_exists(#attempt) OR #attempt < :attempt');
    expect(input?.ExpressionAttributeNames?.['#attempt']).toBe('attemptVersion');
    expect(input?.ReturnValues).toBe('ALL_OLD');
    expect(input?.ExpressionAttributeValues).toMatchObject({
      ':userId': { S: 'user-42' },
      ':connected': { S: 'connected' },
      ':cred': { S: 'cred-2' },
      ':account': { S: 'za-1' },
      ':zoomUser': { NULL: true },
      ':identity': { S: 'account#za-1' },
      ':app': { S: 'app-1' },
      ':now': { S: NOW },
      ':attempt': { N: '1796062200' },
    });
    for (const attribute of ['userId', '#status', 'recallCredentialId', 'zoomAccountId', 'zoomUserId', 'oauthAppId', 'connectedAt', 'updatedAt', '#attempt']) {
      expect(input?.UpdateExpression).toContain(`${attribute} = `);
    }
  });

  it('holds the `connected` event in the same write (the outbox), copying what the record was before from the old item', async () => {
    ddb.on(UpdateItemCommand).resolves({});

    await record(1_796_062_200);

    // Assess: one call, whose expression writes the entry, puts the item in the outbox index and counts the write.
    expect(ddb.calls()).toHaveLength(1);
    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    const entry = JSON.parse(String(input?.ExpressionAttributeValues?.[':obEntry']?.S));
    expect(entry).toEqual({
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
    });
    expect(input?.ExpressionAttributeNames?.['#obEntry']).toBe(`outbox_${entry.eventId}`);
    expect(input?.UpdateExpression).toContain('#obPending = :obPending');
    expect(input?.UpdateExpression).toMatch(/ ADD #obSeq :obOne$/);
    const captured = [0, 1, 2].map((i) => [input?.ExpressionAttributeNames?.[`#obCap${i}`], input?.ExpressionAttributeNames?.[`#obSrc${i}`]]);
    expect(captured).toEqual([
      [`outbox_${entry.eventId}~priorRecallCredentialId`, 'recallCredentialId'],
      [`outbox_${entry.eventId}~priorStatus`, 'status'],
      [`outbox_${entry.eventId}~priorZoomIdentity`, 'zoomIdentity'],
    ]);
    for (const i of [0, 1, 2]) expect(input?.UpdateExpression).toContain(`#obCap${i} = if_not_exists(#obSrc${i}, :obNull)`);
  });

  it('gives every write its own event id', async () => {
    ddb.on(UpdateItemCommand).resolves({});

    await record(1);
    await record(2);

    const ids = ddb.commandCalls(UpdateItemCommand).map((call) => call.args[0].input.ExpressionAttributeNames?.['#obEntry']);
    expect(new Set(ids).size).toBe(2);
  });

  it('orders an attempt without a version before every versioned one', async () => {
    ddb.on(UpdateItemCommand).resolves({});

    await record();

    expect(ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input.ExpressionAttributeValues?.[':attempt']).toEqual({ N: '0' });
  });

  it('returns the record it replaced, as it was', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: { ...scrubbedItem, status: { S: 'connected' }, zoomIdentity: { S: 'account#za-1' } } });

    const result = await record(2);

    expect(result).toEqual({
      status: 'recorded',
      previous: expect.objectContaining({ userId: 'user-42', status: 'connected', recallCredentialId: 'cred-1', zoomIdentity: 'account#za-1' }),
    });
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
  it('marks the record revoked only while it relies on the credential, answering the new record', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: scrubbedItem });

    const revoked = await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: true });

    expect(revoked?.status).toBe('revoked');
    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ pk: { S: 'USER#user-42' } });
    expect(input?.ConditionExpression).toBe('#cred = :cred AND #status IN (:connected, :unhealthy)');
    expect(input?.UpdateExpression).toMatch(/^SET #status = :revoked, #updated = :now, .* REMOVE #zoom0, #zoom1, #zoom2 ADD #obSeq :obOne$/);
    expect(input?.ReturnValues).toBe('ALL_NEW');
    // The `revoked` event rides on the same write; scrubbed, it names no Zoom ids and copies none.
    expect(JSON.parse(String(input?.ExpressionAttributeValues?.[':obEntry']?.S))).toMatchObject({
      type: 'revoked',
      userId: 'user-42',
      status: 'revoked',
      recallCredentialId: 'cred-1',
      zoomAccountId: null,
      zoomUserId: null,
    });
    expect(input?.UpdateExpression).not.toContain('if_not_exists(#obSrc');
  });

  it('copies the Zoom ids into the `revoked` event from the item when they are kept (data retention)', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: scrubbedItem });

    await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false });

    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.UpdateExpression).not.toContain('REMOVE');
    expect([input?.ExpressionAttributeNames?.['#obSrc0'], input?.ExpressionAttributeNames?.['#obSrc1']]).toEqual(['zoomAccountId', 'zoomUserId']);
  });

  it('answers undefined when the record no longer matches', async () => {
    ddb.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));

    expect(await repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false })).toBeUndefined();
  });

  it('lets other failures through', async () => {
    ddb.on(UpdateItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));

    await expect(repository.revoke('user-42', 'cred-1', NOW, { scrubZoomData: false })).rejects.toThrow(/Throughput/);
  });
});

describe('ConnectionRepository.scrubZoomData', () => {
  it('removes the Zoom ids only from a record of that identity that no longer relies on a credential', async () => {
    ddb.on(UpdateItemCommand).resolves({ Attributes: scrubbedItem });

    await repository.scrubZoomData('user-42', 'user#zu-1', NOW, { connectedNoLaterThan: '2026-11-30T17:59:58.000Z' });

    const input = ddb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
    expect(input?.ConditionExpression).toBe(
      '#identity = :identity AND #status IN (:revoked, :disconnected) AND #connectedAt <= :cutoff',
    );
    expect(input?.ExpressionAttributeValues?.[':identity']).toEqual({ S: 'user#zu-1' });
    expect(input?.UpdateExpression).toBe('SET #updated = :now REMOVE #zoom0, #zoom1, #zoom2');
    expect([0, 1, 2].map((i) => input?.ExpressionAttributeNames?.[`#zoom${i}`])).toEqual([
      'zoomAccountId',
      'zoomUserId',
      'zoomIdentity',
    ]);
  });
});

describe('ConnectionRepository.listByZoomIdentity', () => {
  it('returns the records of an identity, whatever their status', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ ...scrubbedItem, zoomIdentity: { S: 'user#zu-1' } }] });

    const records = await repository.listByZoomIdentity('user#zu-1');

    expect(records.map((r) => [r.userId, r.zoomIdentity])).toEqual([['user-42', 'user#zu-1']]);
  });
});
