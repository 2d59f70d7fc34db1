import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type CapturedField,
  OUTBOX_PENDING,
  type OutboxEvent,
  outboxAck,
  outboxEntriesOf,
  outboxSeqOf,
  outboxWrite,
  withOutbox,
} from './outbox.js';
import type { RecallCredential } from './recall-client.js';
import { connectionKey, itemKey, TABLE_SCHEMA } from '../core/table-schema.js';
import { zoomIdentityOf } from './zoom-identity.js';

import { CONNECTION_STATUSES, type ConnectionStatus } from '../core/connection-status.js';

export { CONNECTION_STATUSES, type ConnectionStatus } from '../core/connection-status.js';

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

export type RecordResult = { status: 'recorded'; previous?: Connection } | { status: 'superseded' };
const key = (userId: string): Record<string, AttributeValue> => itemKey(connectionKey(userId));
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
    return Item && connectionFromItem(Item);
  }

  /**
   * Records that `userId` is connected through `credential`, unless a newer attempt of the same user already wrote
   * the record: attempts are ordered by `attemptVersion` (when the attempt began), and an older one never
   * overwrites a newer one, however late it finishes.
   * The same write holds the `connected` outbox entry, which copies what the record was before (its credential,
   * status and identity) so that the publisher can tell a `replaced` and release a credential left behind.
   * @returns the record it replaced, if any; or `superseded` when a newer attempt's record stays (nothing written)
   */
  recordConnected(
    userId: string,
    credential: RecallCredential,
    oauthAppId: string,
    now: string,
    attemptVersion = 0,
    correlationId?: string,
  ): Promise<RecordResult> {
    return this.#record(recordOf('connected', userId, credential, oauthAppId, now), attemptVersion, correlationId);
  }

  /**
   * Records that `userId` authorized `credential` but Recall holds it `unhealthy` (its Zoom tokens do not work):
   * the same write as `recordConnected`, in status `unhealthy`, so nothing relies on it as a working connection.
   * The same write holds its `unhealthy` outbox entry.
   * @returns the record written, or `undefined` when a newer attempt's record stays
   */
  async recordUnhealthy(
    userId: string,
    credential: RecallCredential,
    oauthAppId: string,
    now: string,
    attemptVersion: number,
    correlationId?: string,
  ): Promise<Connection | undefined> {
    const record = recordOf('unhealthy', userId, credential, oauthAppId, now);
    const result = await this.#record(record, attemptVersion, correlationId);
    return result.status === 'superseded' ? undefined : record;
  }

  async #record(record: Connection & { status: 'connected' | 'unhealthy' }, attemptVersion: number, correlationId: string | undefined): Promise<RecordResult> {
    const { userId, status, recallCredentialId, zoomAccountId, zoomUserId, zoomIdentity, oauthAppId, connectedAt: now } = record;
    const event: OutboxEvent = {
      type: status,
      userId,
      status,
      recallCredentialId,
      zoomAccountId,
      zoomUserId,
      occurredAt: now,
      ...(correlationId ? { correlationId } : {}),
    };
    // The event rides on the same write. A `connected` one also copies what the record was before (a credential it
    // replaced, an identity it left) from the old item by the write itself, so no read comes first; an `unhealthy`
    // one is only that (nothing relies on its credential, so there is nothing to follow up).
    const outbox =
      status === 'connected'
        ? outboxWrite({ ...event, zoomIdentity, oauthAppId }, ['priorRecallCredentialId', 'priorStatus', 'priorZoomIdentity'])
        : outboxWrite(event);
    const { [PK]: _key, ...attributes } = connectionItem(record, attemptVersion);
    // The whole record, one `#name = :name` per attribute of its item: written exactly as `connectionItem` encodes it.
    const names = Object.fromEntries(Object.keys(attributes).map((name) => [`#${name}`, name]));
    const values = Object.fromEntries(Object.entries(attributes).map(([name, value]) => [`:${name}`, value]));
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          ...withOutbox({ set: [Object.keys(attributes).map((name) => `#${name} = :${name}`).join(', ')], names, values }, outbox),
          ConditionExpression: `attribute_not_exists(#${ATTEMPT_VERSION}) OR #${ATTEMPT_VERSION} < :${ATTEMPT_VERSION}`,
          ReturnValues: 'ALL_OLD',
        }),
      );
      const previous = Attributes && connectionFromItem(Attributes);
      return { status: 'recorded', ...(previous ? { previous } : {}) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { status: 'superseded' };
      throw error;
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
        const connection = connectionFromItem(item);
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
  async repoint(
    userId: string,
    fromCredentialId: string,
    to: Pick<RecallCredential, 'id'>,
    now: string,
    correlationId?: string,
  ): Promise<boolean> {
    const event: OutboxEvent = {
      type: 'replaced',
      userId,
      status: 'connected',
      recallCredentialId: to.id,
      previousRecallCredentialId: fromCredentialId,
      occurredAt: now,
      ...(correlationId ? { correlationId } : {}),
    };
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          ...withOutbox(
            {
              set: ['#cred = :to, #status = :connected, #updated = :now'],
              names: { '#cred': 'recallCredentialId', '#status': 'status', '#updated': 'updatedAt' },
              values: {
                ':to': { S: to.id },
                ':from': { S: fromCredentialId },
                ':connected': { S: 'connected' },
                ':unhealthy': { S: 'unhealthy' },
                ':now': { S: now },
              },
            },
            outboxWrite(event, ZOOM_IDS),
          ),
          ConditionExpression: '#cred = :from AND #status IN (:connected, :unhealthy)',
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
    options: { correlationId?: string } = {},
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
    // Back to `connected` is only ever Recall reporting the credential healthy again.
    const event = eventOf(status === 'connected' ? 'healthy_again' : status, userId, status, credentialId, now, options);
    return this.#conditionalUpdate(
      userId,
      withOutbox({ set: ['#status = :status, #updated = :now'], names, values }, outboxWrite(event, ZOOM_IDS)),
      condition,
    );
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
    const condition = `#cred = :cred AND #status IN (:connected, :unhealthy)${connectedBy(options.connectedNoLaterThan, names, values)}`;
    const event = eventOf('revoked', userId, 'revoked', credentialId, now);
    // Scrubbed, the event carries no Zoom ids either (null); kept, it carries the record's.
    const outbox = options.scrubZoomData
      ? outboxWrite({ ...event, zoomAccountId: null, zoomUserId: null })
      : outboxWrite(event, ZOOM_IDS);
    const remove = options.scrubZoomData ? scrubActions(names) : [];
    return this.#conditionalUpdate(
      userId,
      withOutbox({ set: ['#status = :revoked, #updated = :now'], remove, names, values }, outbox),
      condition,
    );
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
    const condition = `#identity = :identity AND #status IN (:revoked, :disconnected)${connectedBy(options.connectedNoLaterThan, names, values)}`;
    // Not a transition (the status stays): no event.
    return this.#conditionalUpdate(
      userId,
      {
        UpdateExpression: `SET #updated = :now REMOVE ${scrubActions(names).join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
      condition,
    );
  }

  /**
   * Removes published outbox entries from a record's item (see `outbox.ts`); with `ifSeq`, also takes the item out
   * of the outbox index, unless an entry was added since it was read.
   * @returns false when `ifSeq` no longer matched (nothing was removed)
   */
  async acknowledgeOutbox(itemKey: Record<string, AttributeValue>, attributes: readonly string[], ifSeq?: number): Promise<boolean> {
    if (attributes.length === 0 && ifSeq === undefined) return true;
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: itemKey,
          ...outboxAck(attributes, ifSeq),
          ...(ifSeq === undefined ? { ReturnValues: 'ALL_NEW' as const } : {}),
        }),
      );
      // Entries only: when they were the last, the item leaves the index too (unless one was added meanwhile).
      const left = Attributes && outboxEntriesOf(Attributes);
      if (ifSeq === undefined && left && left.entries.length === 0 && left.unreadable.length === 0) {
        await this.acknowledgeOutbox(itemKey, [], outboxSeqOf(Attributes));
      }
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Items with outbox entries waiting since `olderThan` (ISO) or earlier, oldest first, from the sparse `byOutbox`
   * index (whole items: it projects every attribute).
   */
  async listPendingOutbox(olderThan: string, limit: number): Promise<Record<string, AttributeValue>[]> {
    const index = TABLE_SCHEMA.outboxIndex;
    const items: Record<string, AttributeValue>[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: '#pending = :pending AND #since <= :olderThan',
          ExpressionAttributeNames: { '#pending': index.partitionKey, '#since': index.sortKey },
          ExpressionAttributeValues: { ':pending': { S: OUTBOX_PENDING }, ':olderThan': { S: olderThan } },
          Limit: limit - items.length,
          ExclusiveStartKey: startKey,
        }),
      );
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey && items.length < limit);
    return items;
  }

  async #conditionalUpdate(
    userId: string,
    update: {
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
    condition: string,
  ): Promise<Connection | undefined> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(userId),
          ReturnValues: 'ALL_NEW',
          ConditionExpression: condition,
          ...update,
        }),
      );
      return Attributes && connectionFromItem(Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

/** The condition that a record was connected no later than `cutoff` (ISO; none without it); adds its placeholders. */
function connectedBy(cutoff: string | undefined, names: Record<string, string>, values: Record<string, AttributeValue>): string {
  if (!cutoff) return '';
  names['#connectedAt'] = 'connectedAt';
  values[':cutoff'] = { S: cutoff };
  return ' AND #connectedAt <= :cutoff';
}

/** The `REMOVE` actions of the Zoom data attributes; adds their `#names` to `names`. */
function scrubActions(names: Record<string, string>): string[] {
  return ZOOM_DATA_ATTRIBUTES.map((attribute, i) => {
    names[`#zoom${i}`] = attribute;
    return `#zoom${i}`;
  });
}

/** A status change's event copies the record's Zoom ids from the item as the write finds it. */
const ZOOM_IDS: readonly CapturedField[] = ['zoomAccountId', 'zoomUserId'];

function eventOf(
  type: OutboxEvent['type'],
  userId: string,
  status: ConnectionStatus,
  recallCredentialId: string,
  occurredAt: string,
  options: { correlationId?: string } = {},
): OutboxEvent {
  return {
    type,
    userId,
    status,
    recallCredentialId,
    occurredAt,
    ...(options.correlationId ? { correlationId: options.correlationId } : {}),
  };
}

/** A record as the callback writes it, from the credential Recall made. */
function recordOf(
  status: 'connected' | 'unhealthy',
  userId: string,
  credential: RecallCredential,
  oauthAppId: string,
  now: string,
): Connection & { status: 'connected' | 'unhealthy' } {
  return {
    userId,
    status,
    recallCredentialId: credential.id,
    zoomAccountId: credential.account_id ?? null,
    zoomUserId: credential.user_id ?? null,
    zoomIdentity: zoomIdentityOf(credential),
    oauthAppId,
    connectedAt: now,
    updatedAt: now,
  };
}

/**
 * A connection record's stored item: the one encoding of a `Connection` in the table (`connectionFromItem` reads it
 * back). Zoom ids the record does not have are `NULL`; an identity it does not have is left out (the identity is an
 * index key, which an item has as a string or not at all).
 * @param attemptVersion - when the attempt that wrote it began (epoch ms), as the callback's write stores it
 */
export function connectionItem(connection: Connection, attemptVersion?: number): Record<string, AttributeValue> {
  return {
    [PK]: { S: connectionKey(connection.userId) },
    userId: { S: connection.userId },
    status: { S: connection.status },
    recallCredentialId: { S: connection.recallCredentialId },
    zoomAccountId: nullable(connection.zoomAccountId),
    zoomUserId: nullable(connection.zoomUserId),
    ...(connection.zoomIdentity ? { [TABLE_SCHEMA.zoomIdentityIndex.partitionKey]: { S: connection.zoomIdentity } } : {}),
    oauthAppId: { S: connection.oauthAppId },
    connectedAt: { S: connection.connectedAt },
    updatedAt: { S: connection.updatedAt },
    ...(attemptVersion === undefined ? {} : { [ATTEMPT_VERSION]: { N: String(attemptVersion) } }),
  };
}

/** The `Connection` a stored item holds (`connectionItem`'s inverse); `undefined` for an item that is not one. */
export function connectionFromItem(item: Record<string, AttributeValue>): Connection | undefined {
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
