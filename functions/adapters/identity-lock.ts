import { type AttributeValue, ConditionalCheckFailedException, DeleteItemCommand, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import { abortableSleep } from '../core/sleep.js';
import { itemKey, lockKey, TABLE_SCHEMA } from '../core/table-schema.js';

const PK = TABLE_SCHEMA.partitionKey;

/** A held lock: give it back with `release` (a crashed holder's lease simply runs out). */
export interface IdentityLease {
  readonly identity: string;
  release(): Promise<void>;
}

/** Serializes the work that deletes credentials or moves records of one Zoom identity. */
export interface IdentityLock {
  /**
   * Waits for the identity's lock until `waitUntilMs` (default: `deadlineMs`); the lease lasts until the holder's
   * `deadlineMs` plus a margin.
   * @returns the lease, or `undefined` when another holder kept it past the wait
   */
  acquire(identity: string, options: AcquireOptions): Promise<IdentityLease | undefined>;
}

export interface AcquireOptions {
  /** The holder's own deadline (epoch ms): its work with the lock ends by then. */
  deadlineMs: number;
  /** Stop waiting for a busy lock at this time (epoch ms); at most `deadlineMs`. */
  waitUntilMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface IdentityLockOptions {
  /** How long a lease lasts past the holder's own deadline: a crashed holder blocks the identity no longer. */
  leaseMarginMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/**
 * Waits between tries: short, because a holder's work is a few Recall calls, jittered so waiters spread out, and
 * never shorter than the floor, so a waiter cannot spin.
 */
const POLL_FLOOR_MS = 10;
const POLL_BASE_MS = 50;
const POLL_MAX_MS = 500;
/** How long DynamoDB's TTL keeps a lock item that was never released (a crash); the lease decides, not this. */
const TTL_AFTER_LEASE_SECONDS = 3_600;

/**
 * A lock per Zoom identity in the service table (`LOCK#<identity>`): one conditional put takes it when it is free
 * or its lease has run out; one conditional delete by the owner gives it back. The lease runs until the holder's
 * own deadline (plus a margin), so it never outlives the Lambda invocation that took it by much, and a crashed
 * holder is replaced as soon as its lease ends.
 */
export class DynamoIdentityLock implements IdentityLock {
  readonly #now: () => number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #leaseMarginMs: number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: IdentityLockOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? abortableSleep;
    this.#random = options.random ?? Math.random;
    this.#leaseMarginMs = options.leaseMarginMs ?? 2_000;
  }

  async acquire(identity: string, { deadlineMs, waitUntilMs, signal }: AcquireOptions): Promise<IdentityLease | undefined> {
    const owner = randomBytes(16).toString('hex');
    const waitUntil = Math.min(waitUntilMs ?? deadlineMs, deadlineMs);
    for (let attempt = 0; ; attempt++) {
      if (await this.#tryPut(identity, owner, deadlineMs + this.#leaseMarginMs)) {
        return { identity, release: () => this.#release(identity, owner) };
      }
      const wait = POLL_FLOOR_MS + this.#random() * Math.min(POLL_MAX_MS, POLL_BASE_MS * 2 ** attempt);
      if (signal?.aborted || this.#now() + wait >= waitUntil) return undefined;
      await this.#sleep(wait, signal);
    }
  }

  async #tryPut(identity: string, owner: string, leaseUntil: number): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: lockItem({ identity, owner, leaseUntil }),
          ConditionExpression: 'attribute_not_exists(#pk) OR #lease < :now',
          ExpressionAttributeNames: { '#pk': PK, '#lease': 'leaseUntil' },
          ExpressionAttributeValues: { ':now': { N: String(this.#now()) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Only the owner's delete succeeds: a holder whose lease ran out never frees its successor's lock. */
  async #release(identity: string, owner: string): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: itemKey(lockKey(identity)),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': { S: owner } },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

export { lockKey };

/** A held lock as stored: whose it is, and until when its lease runs (epoch ms). */
export interface StoredLock {
  identity: string;
  owner: string;
  leaseUntil: number;
}

/** A lock's item: the one encoding of a `StoredLock`; DynamoDB's TTL removes it an hour after its lease. */
export function lockItem({ identity, owner, leaseUntil }: StoredLock): Record<string, AttributeValue> {
  return {
    [PK]: { S: lockKey(identity) },
    owner: { S: owner },
    leaseUntil: { N: String(leaseUntil) },
    [TABLE_SCHEMA.ttlAttribute]: { N: String(Math.ceil(leaseUntil / 1000) + TTL_AFTER_LEASE_SECONDS) },
  };
}

/** The lock a stored item holds (`lockItem`'s inverse); `undefined` for an item that is not a lock. */
export function lockFromItem(item: Record<string, AttributeValue> | undefined): StoredLock | undefined {
  const pk = item?.[PK]?.S;
  const owner = item?.owner?.S;
  const leaseUntil = Number(item?.leaseUntil?.N);
  const prefix = lockKey('');
  if (!pk?.startsWith(prefix) || !owner || !Number.isFinite(leaseUntil)) return undefined;
  return { identity: pk.slice(prefix.length), owner, leaseUntil };
}

