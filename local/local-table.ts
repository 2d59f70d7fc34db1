import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
} from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { TABLE_SCHEMA } from '../functions/core/table-schema.js';
import { serveTransactions } from './local-transactions.js';

/** An in-memory DynamoDB (dynalite) on a random loopback port. */
export interface LocalDynamoDb {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_DYNAMODB`. */
  endpoint: string;
  close(): Promise<void>;
}

/** Dynalite accepts any credentials; these keep real ones from ever being signed into a local request. */
export const LOCAL_AWS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** A DynamoDB client on a local endpoint (dynalite), signing with `LOCAL_AWS_CREDENTIALS`; the caller destroys it. */
export function localDynamoDbClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
}

/**
 * Starts dynalite in memory; tables become ACTIVE at once instead of after dynalite's default 500 ms. Dynalite has
 * no transactions: `serveTransactions` adds the `TransactWriteItems` the callback uses.
 */
export async function startLocalDynamoDb(): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const stopTransactions = serveTransactions(server, localDynamoDbClient(endpoint));
  return {
    endpoint,
    close: () =>
      new Promise<void>((resolve, reject) => {
        stopTransactions();
        // The SDK keeps sockets alive; without this, close waits for them to time out.
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The service table as the stack declares it (see `TABLE_SCHEMA`): the key and the three indexes. */
export function serviceTableDefinition(tableName: string): CreateTableCommandInput {
  const { partitionKey, zoomIdentityIndex, statusIndex, outboxIndex } = TABLE_SCHEMA;
  const indexes = [zoomIdentityIndex, statusIndex, outboxIndex];
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...new Set([partitionKey, ...indexes.flatMap((index) => [index.partitionKey, index.sortKey])])].map(
      (name) => ({ AttributeName: name, AttributeType: 'S' as const }),
    ),
    KeySchema: [{ AttributeName: partitionKey, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}

/**
 * Creates the service table exactly as the stack declares it (see `TABLE_SCHEMA`: the `byZoomIdentity` and
 * `byStatus` indexes) and waits until it and its indexes are ACTIVE. Dynalite has no TTL API; the repositories
 * check expiry on read anyway.
 * @param endpoint - a DynamoDB endpoint, normally dynalite's
 * @param tableName - the `TABLE_NAME` the handlers will use
 */
export async function createServiceTable(endpoint: string, tableName: string): Promise<void> {
  const client = localDynamoDbClient(endpoint);
  try {
    await client.send(new CreateTableCommand(serviceTableDefinition(tableName)));
    for (let attempt = 0; attempt < 100; attempt++) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`Table ${tableName} did not become ACTIVE.`);
  } catch (error) {
    if (error instanceof ResourceInUseException) return;
    throw error;
  } finally {
    client.destroy();
  }
}
