import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_SCHEMA, usedLinkKey, usedStateKey } from '../core/table-schema.js';

const PK = TABLE_SCHEMA.partitionKey;

const USED = new Set(['ConditionalCheckFailed', 'TransactionConflict']);

/** How using up an attempt ended: only `consumed` may go on to Recall. */
export type ConsumeResult = 'consumed' | 'state_used' | 'link_used';

/**
 * The states the callback has used, and the connect links. A connect attempt lives in its browser's cookie
 * (`oauth-state.ts`), so the one thing the service must remember is that a state was used: one conditional put
 * makes a state single-use, even for two callbacks racing with the same state and cookie. A connect link is used up
 * in the same write (a transaction of two conditional puts), so one link completes one connection however many
 * attempts it started. Each item expires with what it guards (DynamoDB's TTL): after that the callback refuses
 * the state as expired, and authorize the link, before they get here.
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
      await this.client.send(new PutItemCommand(this.#firstUse(usedStateItem(stateId, expiresAt))));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Marks a state and the connect link that started it used, both or neither, in one call.
   * @param link - the link's id (SHA-256 hex of the JWT, never the JWT) and its `exp`, epoch seconds: the item's TTL
   * @returns `consumed` for the one call that used both; `state_used` when the state had been used (whatever the
   *   link), `link_used` when only the link had (another attempt it started completed)
   */
  async consumeWithLink(stateId: string, expiresAt: number, link: { id: string; expiresAt: number }): Promise<ConsumeResult> {
    try {
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: this.#firstUse(usedStateItem(stateId, expiresAt)) },
            { Put: this.#firstUse(usedLinkItem(link.id, link.expiresAt)) },
          ],
        }),
      );
      return 'consumed';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const [state, token] = error.CancellationReasons ?? [];
      // A conflict means another callback is using the same item at this moment: it is the one that goes on.
      if (USED.has(state?.Code ?? '')) return 'state_used';
      if (USED.has(token?.Code ?? '')) return 'link_used';
      // Cancelled for another reason (throttling, a validation error): not an answer.
      throw error;
    }
  }

  #firstUse(Item: Record<string, AttributeValue>) {
    return {
      TableName: this.tableName,
      Item,
      ConditionExpression: 'attribute_not_exists(#pk)',
      ExpressionAttributeNames: { '#pk': PK },
    };
  }
}

/** The item that marks a state used (`stateId`: the state's SHA-256, hex), expiring with its attempt (epoch seconds). */
export const usedStateItem = (stateId: string, expiresAt: number): Record<string, AttributeValue> =>
  firstUseItem(usedStateKey(stateId), expiresAt);

/** The item that marks a connect link used (`linkId`: the link's SHA-256, hex), expiring with the link (epoch seconds). */
export const usedLinkItem = (linkId: string, expiresAt: number): Record<string, AttributeValue> =>
  firstUseItem(usedLinkKey(linkId), expiresAt);

const firstUseItem = (pk: string, expiresAt: number): Record<string, AttributeValue> => ({
  [PK]: { S: pk },
  [TABLE_SCHEMA.ttlAttribute]: { N: String(expiresAt) },
});

/** When a used state's or link's item expires (epoch seconds; DynamoDB's TTL), or `undefined` for another item. */
export const usedUntil = (item: Record<string, AttributeValue> | undefined): number | undefined => {
  const expiresAt = item?.[TABLE_SCHEMA.ttlAttribute]?.N;
  return expiresAt === undefined ? undefined : Number(expiresAt);
};
