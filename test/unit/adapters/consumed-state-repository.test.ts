import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConsumedStateRepository,
  usedLinkItem,
  usedStateItem,
  usedUntil,
} from '../../../functions/adapters/consumed-state-repository.js';
import { usedLinkKey, usedStateKey } from '../../../functions/core/table-schema.js';

const ddb = mockClient(DynamoDBClient);
const repository = new ConsumedStateRepository(new DynamoDBClient({ region: 'us-east-1' }), 'connect-table');
const STATE_ID = 'a'.repeat(64);

beforeEach(() => {
  ddb.reset();
});

describe('ConsumedStateRepository', () => {
  it('uses a state with one put of its hash and expiry, on the condition that it was never used', async () => {
    ddb.on(PutItemCommand).resolves({});

    expect(await repository.consume(STATE_ID, 1_796_062_200)).toBe(true);

    expect(ddb.calls()).toHaveLength(1);
    expect(ddb.commandCalls(PutItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'connect-table',
      Item: usedStateItem(STATE_ID, 1_796_062_200),
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': 'pk' },
    });
  });

  it('stores the used state and link under their keys, read back with their expiry', () => {
    expect(usedStateItem(STATE_ID, 1_796_062_200).pk).toEqual({ S: usedStateKey(STATE_ID) });
    expect(usedLinkItem(STATE_ID, 1_796_062_500).pk).toEqual({ S: usedLinkKey(STATE_ID) });
    expect(usedUntil(usedStateItem(STATE_ID, 1_796_062_200))).toBe(1_796_062_200);
    expect(usedUntil({ pk: { S: usedStateKey(STATE_ID) } })).toBeUndefined();
  });

  it('answers false for a state used before', async () => {
    ddb.on(PutItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    expect(await repository.consume(STATE_ID, 1_796_062_200)).toBe(false);
  });

  it('lets any other failure through: the callback answers 5xx and the state stays unused', async () => {
    ddb.on(PutItemCommand).rejects(Object.assign(new Error('Throughput exceeded'), { name: 'ProvisionedThroughputExceededException' }));

    await expect(repository.consume(STATE_ID, 1_796_062_200)).rejects.toThrow('Throughput exceeded');
  });

  describe('consumeWithLink', () => {
    const LINK = { id: 'b'.repeat(64), expiresAt: 1_796_062_500 };
    const cancelled = (...codes: string[]) =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: codes.map((Code) => ({ Code })),
      });

    it('uses the state and the link in one transaction of two conditional puts, nothing else', async () => {
      ddb.on(TransactWriteItemsCommand).resolves({});

      expect(await repository.consumeWithLink(STATE_ID, 1_796_062_200, LINK)).toBe('consumed');

      expect(ddb.calls()).toHaveLength(1);
      const condition = { ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } };
      expect(ddb.commandCalls(TransactWriteItemsCommand)[0]?.args[0].input).toEqual({
        TransactItems: [
          { Put: { TableName: 'connect-table', Item: usedStateItem(STATE_ID, 1_796_062_200), ...condition } },
          { Put: { TableName: 'connect-table', Item: usedLinkItem(LINK.id, LINK.expiresAt), ...condition } },
        ],
      });
    });

    it.each([
      [['ConditionalCheckFailed', 'None'], 'state_used'],
      [['ConditionalCheckFailed', 'ConditionalCheckFailed'], 'state_used'],
      [['None', 'ConditionalCheckFailed'], 'link_used'],
      [['TransactionConflict', 'None'], 'state_used'],
      [['None', 'TransactionConflict'], 'link_used'],
    ])('reads the cancellation reasons %j as %s', async (codes, expected) => {
      ddb.on(TransactWriteItemsCommand).rejects(cancelled(...codes));

      expect(await repository.consumeWithLink(STATE_ID, 1_796_062_200, LINK)).toBe(expected);
    });

    it('lets a cancellation for another reason through (throttling): not an answer about the state', async () => {
      ddb.on(TransactWriteItemsCommand).rejects(cancelled('ThrottlingError', 'None'));

      await expect(repository.consumeWithLink(STATE_ID, 1_796_062_200, LINK)).rejects.toBeInstanceOf(TransactionCanceledException);
    });
  });
});
