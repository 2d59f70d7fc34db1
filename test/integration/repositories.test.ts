import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRepository } from '../../functions/shared/connection-repository.js';
import { sha256Hex } from '../../functions/shared/crypto.js';
import { ConsumedStateRepository } from '../../functions/shared/consumed-state-repository.js';
import { TABLE_SCHEMA } from '../../functions/shared/table-schema.js';
import { createServiceTable, LOCAL_AWS_CREDENTIALS, type LocalDynamoDb, startLocalDynamoDb } from '../../local/local-table.js';

/**
 * The repositories' conditional writes against a real DynamoDB protocol (dynalite over HTTP): the guarantees the
 * flows rely on are enforced by DynamoDB conditions, so mocks alone cannot prove them.
 */
const TABLE = 'repositories-test';
let dynamo: LocalDynamoDb;
let client: DynamoDBClient;
let states: ConsumedStateRepository;
let connections: ConnectionRepository;

beforeAll(async () => {
  dynamo = await startLocalDynamoDb();
  await createServiceTable(dynamo.endpoint, TABLE);
  client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  states = new ConsumedStateRepository(client, TABLE);
  connections = new ConnectionRepository(client, TABLE);
});

afterAll(async () => {
  client.destroy();
  await dynamo.close();
});

const NOW_S = Math.floor(Date.now() / 1000);

describe('ConsumedStateRepository on DynamoDB', () => {
  it('lets exactly one of many concurrent callbacks use a state', async () => {
    const stateId = sha256Hex('concurrent-state');

    const results = await Promise.all(Array.from({ length: 8 }, () => states.consume(stateId, NOW_S + 600)));

    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.filter((used) => !used)).toHaveLength(7);
  });

  it('refuses a state used before, however much later and with whatever expiry', async () => {
    const stateId = sha256Hex('used-state');

    expect(await states.consume(stateId, NOW_S + 600)).toBe(true);
    expect(await states.consume(stateId, NOW_S + 600)).toBe(false);
    expect(await states.consume(stateId, NOW_S + 999_999)).toBe(false);
  });

  it('stores only the hash and the expiry, as the TTL attribute', async () => {
    const stateId = sha256Hex('stored-state');
    await states.consume(stateId, NOW_S + 600);

    const { Item } = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { [TABLE_SCHEMA.partitionKey]: { S: `STATE#${stateId}` } } }),
    );

    expect(Item).toEqual({
      [TABLE_SCHEMA.partitionKey]: { S: `STATE#${stateId}` },
      [TABLE_SCHEMA.ttlAttribute]: { N: String(NOW_S + 600) },
    });
  });

  it('keeps states apart: using one never uses another', async () => {
    expect(await states.consume(sha256Hex('state-a'), NOW_S + 600)).toBe(true);
    expect(await states.consume(sha256Hex('state-b'), NOW_S + 600)).toBe(true);
  });
});

describe('ConnectionRepository on DynamoDB', () => {
  const credential = (id: string) => ({ id, user_id: 'zu-shared', account_id: 'za-1' });
  const at = (minute: number) => `2026-11-30T18:${String(minute).padStart(2, '0')}:00.000Z`;

  it('never lets a stale status decision undo a disconnect', async () => {
    await connections.recordConnected('stale', credential('cred-a'), 'app', at(0));
    await connections.setStatus('stale', 'unhealthy', 'cred-a', at(1), ['connected']);
    await connections.setStatus('stale', 'disconnected', 'cred-a', at(2));

    // A health sync that read `unhealthy` before the disconnect now tries to restore it.
    const restored = await connections.setStatus('stale', 'connected', 'cred-a', at(3), ['unhealthy']);

    expect(restored).toBeUndefined();
    expect((await connections.get('stale'))?.status).toBe('disconnected');
  });

  it('only changes a record that still points at the expected credential', async () => {
    await connections.recordConnected('moved', credential('cred-b'), 'app', at(0));

    expect(await connections.setStatus('moved', 'unhealthy', 'cred-old', at(1))).toBeUndefined();
    expect(await connections.repoint('moved', 'cred-old', { id: 'cred-c' }, at(1))).toBe(false);
    expect(await connections.repoint('moved', 'cred-b', { id: 'cred-c' }, at(2))).toBe(true);
    expect((await connections.get('moved'))?.recallCredentialId).toBe('cred-c');
  });

  it('finds every user of one Zoom identity and every connection in one status through the indexes', async () => {
    await connections.recordConnected('idx-1', { id: 'cred-i', user_id: 'zu-indexed' }, 'app', at(0));
    await connections.recordConnected('idx-2', { id: 'cred-i', user_id: 'zu-indexed' }, 'app', at(0));
    await connections.setStatus('idx-2', 'unhealthy', 'cred-i', at(1), ['connected']);

    const sharing = await connections.listByZoomIdentity('user#zu-indexed');
    const unhealthy = await connections.listByStatus('unhealthy');

    expect(sharing.map((c) => c.userId).sort()).toEqual(['idx-1', 'idx-2']);
    expect(unhealthy.map((c) => c.userId)).toContain('idx-2');
    expect(unhealthy.map((c) => c.userId)).not.toContain('idx-1');
  });
});
