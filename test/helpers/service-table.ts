import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  paginateScan,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { itemKey } from '../../functions/core/table-schema.js';
import { createServiceTable, localDynamoDbClient, startLocalDynamoDb } from '../../local/local-table.js';

export type Item = Record<string, AttributeValue>;

/**
 * The service table in a dynalite, read and changed straight over the DynamoDB protocol, as no route of the service
 * can: what a test plants, backdates or checks behind the code under test.
 */
export class ServiceTable {
  readonly client: DynamoDBClient;

  /**
   * @param endpoint - the dynalite's endpoint
   * @param name - the table's name (`TABLE_NAME`)
   * @param onClose - what else to stop with the table (its dynalite, when the table owns it)
   */
  constructor(
    readonly endpoint: string,
    readonly name: string,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.client = localDynamoDbClient(endpoint);
  }

  /** The item with partition key `pk` (built by the table schema's key functions), read consistently. */
  async item(pk: string): Promise<Item | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.name, Key: itemKey(pk), ConsistentRead: true }));
    return Item;
  }

  /**
   * Overwrites attributes of an existing item, each of which it must hold already.
   * @returns false when there is no such item or it lacks one of the attributes
   */
  async set(pk: string, values: Item): Promise<boolean> {
    const names = Object.keys(values);
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.name,
          Key: itemKey(pk),
          UpdateExpression: `SET ${names.map((_, n) => `#a${n} = :v${n}`).join(', ')}`,
          ConditionExpression: names.map((_, n) => `attribute_exists(#a${n})`).join(' AND '),
          ExpressionAttributeNames: Object.fromEntries(names.map((name, n) => [`#a${n}`, name])),
          ExpressionAttributeValues: Object.fromEntries(names.map((name, n) => [`:v${n}`, values[name] as AttributeValue])),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Every item in the table, read consistently. */
  async scan(): Promise<Item[]> {
    const items: Item[] = [];
    for await (const page of paginateScan({ client: this.client }, { TableName: this.name, ConsistentRead: true })) {
      items.push(...(page.Items ?? []));
    }
    return items;
  }

  async close(): Promise<void> {
    this.client.destroy();
    await this.onClose();
  }
}

/**
 * A dynalite of its own, holding the service table exactly as the stack declares it (`createServiceTable`).
 * @param name - the table's name
 */
export async function startServiceTable(name: string): Promise<ServiceTable> {
  const dynamo = await startLocalDynamoDb();
  try {
    await createServiceTable(dynamo.endpoint, name);
  } catch (error) {
    await dynamo.close();
    throw error;
  }
  return new ServiceTable(dynamo.endpoint, name, () => dynamo.close());
}
