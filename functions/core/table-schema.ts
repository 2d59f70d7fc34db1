/**
 * The key schema of the service's one DynamoDB table. The CDK stack, local mode and the repositories all read
 * it from here, so the deployed table and dynalite can never disagree.
 */
export const TABLE_SCHEMA = {
  /**
   * String partition key: `STATE#<sha256(state)>` (a used state), `TOKEN#<sha256(link)>` (a used link),
   * `USER#<userId>`, `LOCK#<zoomIdentity>`; built only by the functions below.
   */
  partitionKey: 'pk',
  /**
   * Epoch seconds; DynamoDB's TTL removes used states once their attempt has expired (the callback checks the
   * expiry sealed in the cookie before it gets to the table, so an expired state never needs the item).
   */
  ttlAttribute: 'expiresAt',
  /** Finds every product user connected to one Zoom identity (conflicts, deauthorization) in one query. */
  zoomIdentityIndex: { name: 'byZoomIdentity', partitionKey: 'zoomIdentity', sortKey: 'pk' },
  /** Finds the connections in one status (the health sync's `unhealthy` ones) without a scan. */
  statusIndex: { name: 'byStatus', partitionKey: 'status', sortKey: 'pk' },
  /**
   * Sparse: only items with an unpublished outbox entry carry its keys (`outbox.ts`), so the sweep finds the
   * entries left unpublished longest in one query, and published ones leave the index.
   */
  outboxIndex: { name: 'byOutbox', partitionKey: 'outboxPending', sortKey: 'outboxSince' },
} as const;

/** The partition key of an identity's lock item (`identity-lock.ts`); `lockKey('*')` is the IAM pattern for all. */
export const lockKey = (identity: string): string => `LOCK#${identity}`;

/** The partition key of a product user's connection record (`connection-repository.ts`). */
export const connectionKey = (userId: string): string => `USER#${userId}`;

/** The partition key of a used state (`consumed-state-repository.ts`); `stateId` is the state's SHA-256, hex. */
export const usedStateKey = (stateId: string): string => `STATE#${stateId}`;

/** The partition key of a used connect link; `linkId` is the link's SHA-256, hex. */
export const usedLinkKey = (linkId: string): string => `TOKEN#${linkId}`;

/** The DynamoDB `Key` of the item with partition key `pk`, for GetItem, UpdateItem and DeleteItem. */
export const itemKey = (pk: string): { [TABLE_SCHEMA.partitionKey]: { S: string } } => ({ [TABLE_SCHEMA.partitionKey]: { S: pk } });
