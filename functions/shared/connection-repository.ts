import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { RecallCredential } from './recall-client.js';
import { TABLE_SCHEMA } from './table-schema.js';
import { zoomIdentityOf } from './zoom-identity.js';

export const CONNECTION_STATUSES = ['connected', 'revoked', 'unhealthy', 'disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** Which product user is connected to which Recall credential, for which Zoom identity. */
export interface Connection {
  userId: string;
  status: ConnectionStatus;
  recallCredentialId: string;
  zoomAccountId: string | null;
  zoomUserId: string | null;
  /**
   * `user#<zoom user id>` for user-level apps, `account#<zoom account id>` for account-level apps; `null` once a
   * deauthorization without data retention removed the Zoom data (such a record is in no identity query).
   */
  zoomIdentity: string | null;
  oauthAppId: string;
  connectedAt: string;
  updatedAt: string;
}

const PK = TABLE_SCHEMA.partitionKey;
/**
 * When the attempt that wrote a record began (epoch ms; records written before it was ms hold the attempt's expiry
 * in epoch seconds, which any ms value passes): orders the attempts of one user, strictly.
 */
const ATTEMPT_VERSION = 'attemptVersion';
/** A conflict resolution's unfinished move of the identity's other records (see `markPendingSweep`). */
const PENDING_SWEEP = 'pendingSweep';

export type RecordResult =
  | { status: 'recorded'; previous?: Connection; pendingSweep?: string }
  | { status: 'superseded' };
const key = (userId: string): Record<string, AttributeValue> => ({ [PK]: { S: `USER#${userId}` } });
const nullable = (value: string | null | undefined): AttributeValue => (value ? { S: value } : { NULL: true });

export interface RevokeOptions {
  /** Remove the Zoom ids (`zoomAccountId`, `zoomUserId`, `zoomIdentity`) in the same write. */
  scrubZoomData: boolean;
  /** Only if the record was connected no later than this (ISO): a newer connection is a fresh authorization. */
  connectedNoLaterThan?: string;
}

/** The attributes that identify the Zoom user or account: what Zoom's data rules require deleting. */
const ZOOM_DATA_ATTRIBUTES = ['zoomAccountId', 'zoomUserId', TABLE_SCHEMA.zoomIdentityIndex.partitionKey] as const;

export class ConnectionRepository {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async get(userId: string): Promise<Connection | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: key(userId), ConsistentRead: true }),
    );
    return Item && fromItem(Item);
  }

  /**
   * Records that `userId` is connected through `credential`, unless a newer attempt of the same user already wrote
   * the record: attempts are ordered by `attemptVersion` (when the attempt began), and an older one never
   * overwrites a newer one, however late it finishes.
   * @returns the record it replaced, if any (so the caller can clean up a credential nobody uses any more) and the
   *   Zoom identity of a conflict resolution of this user's that may not have finished (`pendingSweep`); or
   *   `superseded` when a newer attempt's record stays
   */
  recordConnected(
    userId: string,
    credential: RecallCredential,
    oauthAppId: string,
    now: string,
    attemptVersion = 0,
  ): Promise<RecordResult> {
    return this.#record('connected', userId, credential, oauthAppId, now, attemptVersion);
  }

  /**
   * Records that `userId` authorized `credential` but Recall holds it `unhealthy` (its Zoom tokens do not work):
   * the same write as `recordConnected`, in status `unhealthy`, so nothing relies on it as a working connection.
   * @returns the record written, or `undefined` when a newer attempt's record stays
   */
  async recordUnhealthy(
    userId: string,
    credential: RecallCredential,
    oauthAppId: string,
    now: string,
    attemptVersion: number,
  ): Promise<Connection | undefined> {
    const result = await this.#record('unhealthy', userId, credential, oauthAppId, now, attemptVersion);
    if (result.status === 'superseded') return undefined;
    return {
      userId,
      status: 'unhealthy',
      recallCredentialId: credential.id,
      zoomAccountId: credential.account_id ?? null,
      zoomUserId: credential.user_id ?? null,
      zoomIdentity: zoomIdentityOf(credential),
      oauthAppId,
      connectedAt: now,
      updatedAt: now,
    };
  }

  async #record(
    status: 'connected' | 'unhealthy',
    userId: string,
    credential: RecallCredential,
    oauthAppId: string,
    now: string,
    attemptVersion: number,
  ): Promise<RecordResult> {
    const values: Record<string, AttributeValue> = {
      ':userId': { S: userId },
      ':connected': { S: status },
      ':cred': { S: credential.id },
      ':account': nullable(credential.account_id),
      ':zoomUser': nullable(credential.user_id),
      ':identity': { S: zoomIdentityOf(credential) },
      ':app': { S: oauthAppId },
      ':now': { S: now },
      ':attempt': { N: String(attemptVersion) },
    };
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          UpdateExpression:
            'SET userId = :userId, #status = :connected, recallCredentialId = :cred, zoomAccountId = :account, ' +
            'zoomUserId = :zoomUser, #identity = :identity, oauthAppId = :app, connectedAt = :now, updatedAt = :now, ' +
            '#attempt = :attempt',
          ConditionExpression: 'attribute_not_exists(#attempt) OR #attempt < :attempt',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#identity': TABLE_SCHEMA.zoomIdentityIndex.partitionKey,
            '#attempt': ATTEMPT_VERSION,
          },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const previous = Attributes && fromItem(Attributes);
      const pendingSweep = Attributes?.[PENDING_SWEEP]?.S;
      return { status: 'recorded', ...(previous ? { previous } : {}), ...(pendingSweep ? { pendingSweep } : {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { status: 'superseded' };
      throw error;
    }
  }

  /**
   * Notes on the user's own item, before a conflict resolution deletes the old credentials of `zoomIdentity`, that
   * the identity's other records must be moved once a new credential exists. The user's next record write returns
   * it (`pendingSweep`), so a crash between the delete and the move is finished by that user's next attempt. On a
   * user with no record yet, the item holds only this note: no read treats it as a connection.
   */
  async markPendingSweep(userId: string, zoomIdentity: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(userId),
        UpdateExpression: 'SET #sweep = :identity',
        ExpressionAttributeNames: { '#sweep': PENDING_SWEEP },
        ExpressionAttributeValues: { ':identity': { S: zoomIdentity } },
      }),
    );
  }

  /** Removes the note once the identity's records were moved (only if it still names that identity). */
  async clearPendingSweep(userId: string, zoomIdentity: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          UpdateExpression: 'REMOVE #sweep',
          ConditionExpression: '#sweep = :identity',
          ExpressionAttributeNames: { '#sweep': PENDING_SWEEP },
          ExpressionAttributeValues: { ':identity': { S: zoomIdentity } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * Every product user recorded against one Zoom identity, whatever their status. A record whose Zoom data was
   * removed (`null`) belongs to no identity: asking for `null` finds nothing.
   */
  async listByZoomIdentity(zoomIdentity: string | null): Promise<Connection[]> {
    if (!zoomIdentity) return [];
    const index = TABLE_SCHEMA.zoomIdentityIndex;
    return this.#queryIndex(index.name, index.partitionKey, zoomIdentity);
  }

  /** Every connection in one status (the health sync reads the `unhealthy` ones). */
  listByStatus(status: ConnectionStatus): Promise<Connection[]> {
    const index = TABLE_SCHEMA.statusIndex;
    return this.#queryIndex(index.name, index.partitionKey, status);
  }

  async #queryIndex(indexName: string, keyName: string, value: string): Promise<Connection[]> {
    const connections: Connection[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: indexName,
          KeyConditionExpression: '#key = :value',
          ExpressionAttributeNames: { '#key': keyName },
          ExpressionAttributeValues: { ':value': { S: value } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const connection = fromItem(item);
        if (connection) connections.push(connection);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return connections;
  }

  /**
   * Moves a record from a credential Recall replaced to its successor, only if it still points at the old one:
   * a record changed meanwhile (reconnected, disconnected) is left alone.
   * @returns whether the record was moved
   */
  async repoint(userId: string, fromCredentialId: string, to: RecallCredential, now: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          UpdateExpression: 'SET #cred = :to, #status = :connected, #updated = :now',
          ConditionExpression: '#cred = :from AND #status IN (:connected, :unhealthy)',
          ExpressionAttributeNames: { '#cred': 'recallCredentialId', '#status': 'status', '#updated': 'updatedAt' },
          ExpressionAttributeValues: {
            ':to': { S: to.id },
            ':from': { S: fromCredentialId },
            ':connected': { S: 'connected' },
            ':unhealthy': { S: 'unhealthy' },
            ':now': { S: now },
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Sets a record's status, only if it still points at `credentialId` (a reconnect meanwhile wins) and, with
   * `fromStatuses`, only if it is still in one of them (a disconnect meanwhile is never undone).
   * @returns the updated record, or `undefined` when it no longer matched
   */
  async setStatus(
    userId: string,
    status: ConnectionStatus,
    credentialId: string,
    now: string,
    fromStatuses?: readonly ConnectionStatus[],
  ): Promise<Connection | undefined> {
    const names: Record<string, string> = { '#cred': 'recallCredentialId', '#status': 'status', '#updated': 'updatedAt' };
    const values: Record<string, AttributeValue> = {
      ':status': { S: status },
      ':cred': { S: credentialId },
      ':now': { S: now },
    };
    let condition = '#cred = :cred';
    if (fromStatuses && fromStatuses.length > 0) {
      const placeholders = fromStatuses.map((from, i) => {
        values[`:from${i}`] = { S: from };
        return `:from${i}`;
      });
      condition += ` AND #status IN (${placeholders.join(', ')})`;
    }
    return this.#conditionalUpdate(userId, {
      UpdateExpression: 'SET #status = :status, #updated = :now',
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /**
   * Marks a record `revoked` (the Zoom user or account deauthorized the app), only while it still relies on
   * `credentialId` (connected or unhealthy) and, with `connectedNoLaterThan`, was connected by then.
   * @returns the updated record, or `undefined` when it no longer matched (already revoked, or reconnected)
   */
  async revoke(userId: string, credentialId: string, now: string, options: RevokeOptions): Promise<Connection | undefined> {
    const names: Record<string, string> = { '#cred': 'recallCredentialId', '#status': 'status', '#updated': 'updatedAt' };
    const values: Record<string, AttributeValue> = {
      ':revoked': { S: 'revoked' },
      ':cred': { S: credentialId },
      ':connected': { S: 'connected' },
      ':unhealthy': { S: 'unhealthy' },
      ':now': { S: now },
    };
    let condition = '#cred = :cred AND #status IN (:connected, :unhealthy)';
    if (options.connectedNoLaterThan) {
      names['#connectedAt'] = 'connectedAt';
      values[':cutoff'] = { S: options.connectedNoLaterThan };
      condition += ' AND #connectedAt <= :cutoff';
    }
    const scrub = options.scrubZoomData ? ` ${scrubExpression(names)}` : '';
    return this.#conditionalUpdate(userId, {
      UpdateExpression: `SET #status = :revoked, #updated = :now${scrub}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  /**
   * Removes the Zoom ids from a record that no longer relies on a credential (revoked or disconnected), only
   * while it still belongs to `zoomIdentity` and, with `connectedNoLaterThan`, was connected by then.
   * @returns the updated record, or `undefined` when it no longer matched
   */
  async scrubZoomData(
    userId: string,
    zoomIdentity: string,
    now: string,
    options: { connectedNoLaterThan?: string } = {},
  ): Promise<Connection | undefined> {
    const names: Record<string, string> = {
      '#identity': TABLE_SCHEMA.zoomIdentityIndex.partitionKey,
      '#status': 'status',
      '#updated': 'updatedAt',
    };
    const values: Record<string, AttributeValue> = {
      ':identity': { S: zoomIdentity },
      ':revoked': { S: 'revoked' },
      ':disconnected': { S: 'disconnected' },
      ':now': { S: now },
    };
    let condition = '#identity = :identity AND #status IN (:revoked, :disconnected)';
    if (options.connectedNoLaterThan) {
      names['#connectedAt'] = 'connectedAt';
      values[':cutoff'] = { S: options.connectedNoLaterThan };
      condition += ' AND #connectedAt <= :cutoff';
    }
    return this.#conditionalUpdate(userId, {
      UpdateExpression: `SET #updated = :now ${scrubExpression(names)}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  async #conditionalUpdate(
    userId: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
  ): Promise<Connection | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: key(userId), ReturnValues: 'ALL_NEW', ...update }),
      );
      return Attributes && fromItem(Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

/** `REMOVE` of the Zoom data attributes; adds their `#names` to `names`. */
function scrubExpression(names: Record<string, string>): string {
  const placeholders = ZOOM_DATA_ATTRIBUTES.map((attribute, i) => {
    names[`#zoom${i}`] = attribute;
    return `#zoom${i}`;
  });
  return `REMOVE ${placeholders.join(', ')}`;
}

function fromItem(item: Record<string, AttributeValue>): Connection | undefined {
  const s = (name: string) => item[name]?.S;
  const status = s('status');
  const [userId, recallCredentialId, zoomIdentity, oauthAppId, connectedAt, updatedAt] = [
    s('userId'),
    s('recallCredentialId'),
    s(TABLE_SCHEMA.zoomIdentityIndex.partitionKey),
    s('oauthAppId'),
    s('connectedAt'),
    s('updatedAt'),
  ];
  if (!userId || !recallCredentialId || !oauthAppId || !connectedAt || !updatedAt) return undefined;
  if (!CONNECTION_STATUSES.includes(status as ConnectionStatus)) return undefined;
  return {
    userId,
    status: status as ConnectionStatus,
    recallCredentialId,
    zoomAccountId: s('zoomAccountId') ?? null,
    zoomUserId: s('zoomUserId') ?? null,
    zoomIdentity: zoomIdentity ?? null,
    oauthAppId,
    connectedAt,
    updatedAt,
  };
}
