import {
  DescribeTableCommand,
  GetItemCommand,
  ResourceNotFoundException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../../functions/core/table-schema.js';
import { createServiceTable, localDynamoDbClient, startLocalDynamoDb } from '../../../local/local-table.js';
import { useFileFixture } from '../../helpers/file-fixture.js';
import { rejectionOf } from '../../helpers/rejection.js';

/** Local mode's table must be the stack's table: the same key and both indexes, or queries that work locally fail on AWS. */
const dynamo = useFileFixture('dynalite', startLocalDynamoDb);

describe('createServiceTable', () => {
  it('creates the table with the byZoomIdentity, byStatus and byOutbox indexes of TABLE_SCHEMA, ACTIVE, projecting everything', async () => {
    // Act
    await createServiceTable(dynamo.endpoint, 'service-table');

    // Assess
    const client = localDynamoDbClient(dynamo.endpoint);
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: 'service-table' }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.KeySchema).toEqual([{ AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' }]);
      const indexes = Object.fromEntries(
        (Table?.GlobalSecondaryIndexes ?? []).map((index) => [
          index.IndexName,
          { keys: index.KeySchema, projection: index.Projection?.ProjectionType, status: index.IndexStatus },
        ]),
      );
      for (const index of [TABLE_SCHEMA.zoomIdentityIndex, TABLE_SCHEMA.statusIndex, TABLE_SCHEMA.outboxIndex]) {
        expect(indexes[index.name], index.name).toEqual({
          keys: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          projection: 'ALL',
          status: 'ACTIVE',
        });
      }
      expect(Object.keys(indexes)).toHaveLength(3);
    } finally {
      client.destroy();
    }
  });

  it('leaves an existing table alone', async () => {
    await createServiceTable(dynamo.endpoint, 'twice');
    await expect(createServiceTable(dynamo.endpoint, 'twice')).resolves.toBeUndefined();
  });
});

describe('TransactWriteItems on local dynalite', () => {
  // A hang here would leave the calling handler waiting for its Lambda timeout: the budget only bounds that failure.
  it('answers an item DynamoDB refuses (a table that does not exist) with its error, and undoes the items already written', { timeout: 20_000 }, async () => {
    // Prepare
    await createServiceTable(dynamo.endpoint, 'transactions');
    const client = localDynamoDbClient(dynamo.endpoint);
    const key = { [TABLE_SCHEMA.partitionKey]: { S: 'TX#first' } };
    try {
      // Act
      const error = await rejectionOf(
        client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { Put: { TableName: 'transactions', Item: key } },
              { Put: { TableName: 'no-such-table', Item: { [TABLE_SCHEMA.partitionKey]: { S: 'TX#second' } } } },
            ],
          }),
        ),
        ResourceNotFoundException,
      );

      // Assess: DynamoDB's error for the item, and all or nothing: the first put is gone again
      expect(error.name).toBe('ResourceNotFoundException');
      const { Item } = await client.send(new GetItemCommand({ TableName: 'transactions', Key: key, ConsistentRead: true }));
      expect(Item).toBeUndefined();
    } finally {
      client.destroy();
    }
  });
});
