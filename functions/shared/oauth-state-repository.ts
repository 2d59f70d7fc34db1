import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { TABLE_SCHEMA } from './table-schema.js';

/**
 * One started connect attempt. Stored under the SHA-256 of the state the browser carries, so the table alone
 * cannot be used to complete someone's flow.
 */
export interface OAuthState {
  userId: string;
  returnTo: string;
  codeVerifier: string;
  /** SHA-256 of the browser-binding cookie set by the authorize step. */
  bindingHash: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** How many times this attempt was sent back to Zoom for a fresh code (bounded to one). */
  reauthCount: number;
  /** Follows the attempt from authorize to callback in the logs. */
  correlationId: string;
}

export type ConsumeResult =
  | { status: 'consumed'; state: OAuthState }
  | { status: 'unknown' }
  | { status: 'expired'; state: OAuthState }
  | { status: 'browser_mismatch'; state: OAuthState };

const PK = TABLE_SCHEMA.partitionKey;
const key = (stateId: string): Record<string, AttributeValue> => ({ [PK]: { S: `STATE#${stateId}` } });

export class OAuthStateRepository {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** Saves a new state; a (vanishingly unlikely) id collision fails instead of overwriting. */
  async save(stateId: string, state: OAuthState): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          ...key(stateId),
          userId: { S: state.userId },
          returnTo: { S: state.returnTo },
          codeVerifier: { S: state.codeVerifier },
          bindingHash: { S: state.bindingHash },
          [TABLE_SCHEMA.ttlAttribute]: { N: String(state.expiresAt) },
          reauthCount: { N: String(state.reauthCount) },
          correlationId: { S: state.correlationId },
        },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': PK },
      }),
    );
  }

  /**
   * Uses a state at most once: one conditional delete that succeeds only while the state exists, is unexpired and
   * was started by the browser holding the binding cookie. Two concurrent callbacks cannot both win. A request
   * from another browser does not burn the state, so a leaked callback URL cannot lock the real user out.
   */
  async consume(stateId: string, bindingHash: string | undefined, nowSeconds: number): Promise<ConsumeResult> {
    try {
      const { Attributes } = await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: key(stateId),
          ConditionExpression: 'attribute_exists(#pk) AND #binding = :binding AND #exp > :now',
          ExpressionAttributeNames: { '#pk': PK, '#binding': 'bindingHash', '#exp': TABLE_SCHEMA.ttlAttribute },
          ExpressionAttributeValues: {
            // No cookie can never match: a hash is 64 hex characters.
            ':binding': { S: bindingHash ?? '-' },
            ':now': { N: String(nowSeconds) },
          },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const state = Attributes && fromItem(Attributes);
      return state ? { status: 'consumed', state } : { status: 'unknown' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    // Only failures pay for this read; it tells the user why and where to go back to.
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: key(stateId), ConsistentRead: true }),
    );
    const state = Item && fromItem(Item);
    if (!state) return { status: 'unknown' };
    if (state.expiresAt <= nowSeconds) {
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: key(stateId) }));
      return { status: 'expired', state };
    }
    return { status: 'browser_mismatch', state };
  }
}

function fromItem(item: Record<string, AttributeValue>): OAuthState | undefined {
  const s = (name: string) => item[name]?.S;
  const n = (name: string) => Number(item[name]?.N);
  const [userId, returnTo, codeVerifier, bindingHash, correlationId] = [
    s('userId'),
    s('returnTo'),
    s('codeVerifier'),
    s('bindingHash'),
    s('correlationId'),
  ];
  if (!userId || !returnTo || !codeVerifier || !bindingHash || !correlationId) return undefined;
  return {
    userId,
    returnTo,
    codeVerifier,
    bindingHash,
    correlationId,
    expiresAt: n(TABLE_SCHEMA.ttlAttribute),
    reauthCount: n('reauthCount') || 0,
  };
}
