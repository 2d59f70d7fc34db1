import { ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoIdentityLock, type IdentityLockOptions, lockFromItem, lockItem, lockKey } from '../../../functions/adapters/identity-lock.js';
import { itemKey } from '../../../functions/core/table-schema.js';
import { type MemoryTable, memoryTable } from '../../helpers/memory-table.js';

const ddb = mockClient(DynamoDBClient);
const TABLE = 'connect-table';
const IDENTITY = 'user#zoom-user-1';
const T0 = Date.parse('2026-11-30T18:00:00.000Z');
const DEADLINE = T0 + 17_500;

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

/** A lock over the mocked client, on a clock that only the lock's own waits move. */
function lockWith(options: IdentityLockOptions = {}) {
  const clock = { now: T0 };
  const sleeps: number[] = [];
  const lock = new DynamoIdentityLock(new DynamoDBClient({ region: 'us-west-2' }), TABLE, {
    now: () => clock.now,
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.now += ms;
    },
    random: () => 1,
    ...options,
  });
  return { lock, clock, sleeps };
}

/** The lock as the table holds it, after the lock's conditional writes (the in-memory table evaluates them). */
const storedLock = async () => lockFromItem(await table.get(lockKey(IDENTITY)));
let table: MemoryTable;
beforeAll(async () => {
  table = await memoryTable(ddb, TABLE);
}, 30_000);
afterAll(() => table.close());
/** The table answers the lock's writes (by default the tests script each answer). */
const realTable = () => table.reset();

const puts = () => ddb.commandCalls(PutItemCommand).map((call) => call.args[0].input);
const deletes = () => ddb.commandCalls(DeleteItemCommand).map((call) => call.args[0].input);

beforeEach(() => {
  ddb.reset();
});

describe('DynamoIdentityLock.acquire', () => {
  it('takes a free lock with one conditional put of LOCK#<identity>: free, or its lease already over', async () => {
    // Prepare
    ddb.on(PutItemCommand).resolves({});
    const { lock } = lockWith();

    // Act
    const lease = await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });

    // Assess
    expect(lease?.identity).toBe(IDENTITY);
    expect(puts()).toEqual([
      {
        TableName: TABLE,
        Item: lockItem({ identity: IDENTITY, owner: expect.stringMatching(/^[0-9a-f]{32}$/), leaseUntil: DEADLINE + 2_000 }),
        ConditionExpression: 'attribute_not_exists(#pk) OR #lease < :now',
        ExpressionAttributeNames: { '#pk': 'pk', '#lease': 'leaseUntil' },
        ExpressionAttributeValues: { ':now': { N: String(T0) } },
      },
    ]);
  });

  it("ends the lease at the holder's own deadline plus the configured margin", async () => {
    ddb.on(PutItemCommand).resolves({});
    const { lock } = lockWith({ leaseMarginMs: 500 });

    await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });

    expect(puts()[0]?.Item?.leaseUntil).toEqual({ N: String(DEADLINE + 500) });
  });

  it('gives every acquirer its own owner token', async () => {
    ddb.on(PutItemCommand).resolves({});
    const { lock } = lockWith();

    await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });
    await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });

    const [first, second] = puts().map((input) => input.Item?.owner?.S);
    expect(first).not.toBe(second);
  });

  it("takes over a lock whose holder crashed, once the holder's lease has run out", async () => {
    // Prepare: a holder took the lock and never gave it back.
    await realTable();
    const { lock: crashed } = lockWith();
    await crashed.acquire(IDENTITY, { deadlineMs: T0 + 1_000 });
    const { lock, clock, sleeps } = lockWith();

    // Act
    const lease = await lock.acquire(IDENTITY, { deadlineMs: T0 + 10_000 });

    // Assess: it waited for the crashed lease (until T0 + 1 s + the 2 s margin), not for its own deadline.
    expect(lease).toBeDefined();
    expect(clock.now).toBeGreaterThan(T0 + 3_000);
    expect(clock.now).toBeLessThan(T0 + 3_000 + 500);
    expect(sleeps.length).toBeGreaterThan(1);
    expect((await storedLock())?.owner).toEqual(lockFromItem(puts().at(-1)?.Item)?.owner);
  });

  it('polls with a backoff that grows to 500 ms, and gives up (undefined) before its deadline while the lock stays held', async () => {
    // Prepare
    ddb.on(PutItemCommand).rejects(conditionFailed());
    const { lock, clock, sleeps } = lockWith();

    // Act
    const lease = await lock.acquire(IDENTITY, { deadlineMs: T0 + 2_000 });

    // Assess: a 10 ms floor plus 50, 100, 200, 400, then 500 ms (jitter at its largest), never past the deadline.
    expect(lease).toBeUndefined();
    expect(sleeps).toEqual([60, 110, 210, 410, 510, 510]);
    expect(clock.now).toBeLessThan(T0 + 2_000);
    expect(puts()).toHaveLength(sleeps.length + 1);
    // Every try asks with the time it is made at.
    expect(puts().map((input) => Number(input.ExpressionAttributeValues?.[':now']?.N))).toEqual([
      T0,
      T0 + 60,
      T0 + 170,
      T0 + 380,
      T0 + 790,
      T0 + 1_300,
      T0 + 1_810,
    ]);
  });

  it('spreads the waiters out: each wait is the floor plus random × the backoff step', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    const randoms = [0.5, 0.25, 0.5];
    const { lock, sleeps } = lockWith({ random: () => randoms.shift() ?? 1 });

    await lock.acquire(IDENTITY, { deadlineMs: T0 + 300 });

    expect(sleeps).toEqual([35, 35, 110]);
  });

  it('never spins: with jitter at zero each wait is still the 10 ms floor', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    const { lock, sleeps } = lockWith({ random: () => 0 });

    const lease = await lock.acquire(IDENTITY, { deadlineMs: T0 + 55 });

    expect(lease).toBeUndefined();
    expect(sleeps).toEqual([10, 10, 10, 10, 10]);
  });

  it('stops waiting at waitUntilMs but leases until the deadline plus the margin', async () => {
    ddb.on(PutItemCommand).rejectsOnce(conditionFailed()).resolves({});
    const { lock, sleeps } = lockWith({ random: () => 0 });

    const lease = await lock.acquire(IDENTITY, { deadlineMs: T0 + 5_000, waitUntilMs: T0 + 1_000 });
    expect(lease).toBeDefined();
    expect(sleeps).toEqual([10]);
    expect(Number(puts()[1]?.Item?.leaseUntil?.N)).toBe(T0 + 5_000 + 2_000);

    ddb.on(PutItemCommand).rejects(conditionFailed());
    const busy = lockWith();
    expect(await busy.lock.acquire(IDENTITY, { deadlineMs: T0 + 5_000, waitUntilMs: T0 + 100 })).toBeUndefined();
    expect(busy.sleeps).toEqual([60]);
  });

  it('stops waiting when its signal is aborted', async () => {
    ddb.on(PutItemCommand).rejects(conditionFailed());
    const controller = new AbortController();
    const { lock, sleeps } = lockWith({
      sleep: async (ms) => {
        sleeps.push(ms);
        controller.abort();
      },
    });

    const lease = await lock.acquire(IDENTITY, { deadlineMs: T0 + 10_000, signal: controller.signal });

    expect(lease).toBeUndefined();
    expect(sleeps).toHaveLength(1);
    expect(puts()).toHaveLength(2);
  });

  it('lets a failure other than the condition through', async () => {
    ddb.on(PutItemCommand).rejects(new Error('ProvisionedThroughputExceededException'));
    const { lock } = lockWith();

    await expect(lock.acquire(IDENTITY, { deadlineMs: DEADLINE })).rejects.toThrow(/Throughput/);
  });
});

describe('DynamoIdentityLock: release', () => {
  it("deletes the item only on the owner's condition", async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).resolves({});
    const { lock } = lockWith();
    const lease = await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });

    await lease?.release();

    expect(deletes()).toEqual([
      {
        TableName: TABLE,
        Key: itemKey(lockKey(IDENTITY)),
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': puts()[0]?.Item?.owner },
      },
    ]);
  });

  it("never frees a successor's lock: a holder whose lease ran out releases nothing", async () => {
    // Prepare: A's lease runs out, B takes the lock over, then A (late) releases.
    await realTable();
    const { lock: a } = lockWith();
    const late = await a.acquire(IDENTITY, { deadlineMs: T0 });
    const { lock: b, clock } = lockWith();
    clock.now = T0 + 2_001;
    await b.acquire(IDENTITY, { deadlineMs: T0 + 10_000 });
    const successor = (await storedLock())?.owner;

    // Act
    await expect(late?.release()).resolves.toBeUndefined();

    // Assess
    expect((await storedLock())?.owner).toEqual(successor);
    expect(successor).toBeDefined();
  });

  it('frees the lock for the next acquirer at once', async () => {
    await realTable();
    const { lock } = lockWith();
    const first = await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });
    await first?.release();
    const { lock: next, sleeps } = lockWith();

    const second = await next.acquire(IDENTITY, { deadlineMs: DEADLINE });

    expect(second).toBeDefined();
    expect(sleeps).toEqual([]);
  });

  it('lets a failure other than the condition through', async () => {
    ddb.on(PutItemCommand).resolves({});
    ddb.on(DeleteItemCommand).rejects(new Error('InternalServerError'));
    const { lock } = lockWith();
    const lease = await lock.acquire(IDENTITY, { deadlineMs: DEADLINE });

    await expect(lease?.release()).rejects.toThrow('InternalServerError');
  });
});
