import { ConditionalCheckFailedException, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { TABLE_SCHEMA } from './table-schema.js';

const PK = TABLE_SCHEMA.partitionKey;

/**
 * The states the callback has used. A connect attempt lives in its browser's cookie (`oauth-state.ts`), so the
 * one thing the service must remember is that a state was used: one conditional put makes a state single-use, even
 * for two callbacks racing with the same state and cookie. The item expires with the state (DynamoDB's TTL): after
 * that the callback refuses the state as expired before it gets here.
 */
export class ConsumedStateRepository {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /**
   * Marks a state used, once.
   * @param stateId - SHA-256 (hex) of the state, never the state itself
   * @param expiresAt - the state's expiry, epoch seconds: the item's TTL
   * @returns `true` for the one call that used it; `false` when it had been used before
   */
  async consume(stateId: string, expiresAt: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { [PK]: { S: `STATE#${stateId}` }, [TABLE_SCHEMA.ttlAttribute]: { N: String(expiresAt) } },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
