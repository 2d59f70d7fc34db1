import { beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRepository } from '../../functions/adapters/connection-repository.js';
import { sha256Hex } from '../../functions/core/crypto.js';
import { ConsumedStateRepository } from '../../functions/adapters/consumed-state-repository.js';
import { TABLE_SCHEMA, usedLinkKey, usedStateKey } from '../../functions/core/table-schema.js';
import { useFileFixture } from '../helpers/file-fixture.js';
import { startServiceTable } from '../helpers/service-table.js';

/**
 * The repositories' conditional writes against a real DynamoDB protocol (dynalite over HTTP): the guarantees the
 * flows rely on are enforced by DynamoDB conditions, so mocks alone cannot prove them.
 */
const table = useFileFixture('The service table', () => startServiceTable('repositories-test'));
let states: ConsumedStateRepository;
let connections: ConnectionRepository;

beforeAll(() => {
  states = new ConsumedStateRepository(table.client, table.name);
  connections = new ConnectionRepository(table.client, table.name);
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

    const item = await table.item(usedStateKey(stateId));

    expect(item).toEqual({
      [TABLE_SCHEMA.partitionKey]: { S: usedStateKey(stateId) },
      [TABLE_SCHEMA.ttlAttribute]: { N: String(NOW_S + 600) },
    });
  });

  it('keeps states apart: using one never uses another', async () => {
    expect(await states.consume(sha256Hex('state-a'), NOW_S + 600)).toBe(true);
    expect(await states.consume(sha256Hex('state-b'), NOW_S + 600)).toBe(true);
  });
});

describe('ConsumedStateRepository.consumeWithLink on DynamoDB (a transaction)', () => {
  const link = (name: string) => ({ id: sha256Hex(`link-${name}`), expiresAt: NOW_S + 900 });

  it('uses a state and its link together, in one call: both items written, each with its expiry as TTL', async () => {
    const stateId = sha256Hex('tx-state');

    expect(await states.consumeWithLink(stateId, NOW_S + 600, link('tx'))).toBe('consumed');

    expect((await table.item(usedStateKey(stateId)))?.[TABLE_SCHEMA.ttlAttribute]).toEqual({ N: String(NOW_S + 600) });
    expect((await table.item(usedLinkKey(link('tx').id)))?.[TABLE_SCHEMA.ttlAttribute]).toEqual({ N: String(NOW_S + 900) });
  });

  it('refuses a second attempt of the same link (link_used), and writes nothing of it: its state stays unused', async () => {
    expect(await states.consumeWithLink(sha256Hex('first-attempt'), NOW_S + 600, link('once'))).toBe('consumed');

    const second = sha256Hex('second-attempt');
    expect(await states.consumeWithLink(second, NOW_S + 600, link('once'))).toBe('link_used');

    // All or nothing: the second attempt's state was not used up by the cancelled transaction
    expect(await states.consume(second, NOW_S + 600)).toBe(true);
  });

  it('answers state_used for a replayed state, whatever the link', async () => {
    const stateId = sha256Hex('replayed-tx-state');
    expect(await states.consumeWithLink(stateId, NOW_S + 600, link('replay'))).toBe('consumed');

    expect(await states.consumeWithLink(stateId, NOW_S + 600, link('replay'))).toBe('state_used');
    expect(await states.consumeWithLink(stateId, NOW_S + 600, link('another'))).toBe('state_used');
  });

  it('lets exactly one of many concurrent attempts of one link go on', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, n) => states.consumeWithLink(sha256Hex(`racing-${n}`), NOW_S + 600, link('raced'))),
    );

    expect(results.filter((result) => result === 'consumed')).toHaveLength(1);
    expect(results.filter((result) => result === 'link_used')).toHaveLength(7);
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

describe('ConnectionRepository: attempts ordered by the millisecond they began', () => {
  it('of two attempts of one user begun in the same second, the newer record stays, whichever finishes last', async () => {
    // Prepare: both began in the second 18:00:00, 40 ms apart
    const second = Date.parse('2026-11-30T18:00:00.000Z');
    const [older, newer] = [second + 310, second + 350];
    const credential = (id: string) => ({ id, user_id: `zu-${id}`, account_id: 'za-1' });

    // Act: the newer finishes first
    const newerResult = await connections.recordConnected('same-second', credential('cred-newer'), 'app', '2026-11-30T18:00:01.000Z', newer);
    const olderResult = await connections.recordConnected('same-second', credential('cred-older'), 'app', '2026-11-30T18:00:02.000Z', older);

    // Assess
    expect(newerResult.status).toBe('recorded');
    expect(olderResult.status).toBe('superseded');
    expect((await connections.get('same-second'))?.recallCredentialId).toBe('cred-newer');
  });

  it('compares strictly: an attempt begun in the same millisecond as the recorded one does not replace it', async () => {
    const at = Date.parse('2026-11-30T18:00:00.500Z');
    await connections.recordConnected('same-ms', { id: 'cred-a', user_id: 'zu-a' }, 'app', '2026-11-30T18:00:01.000Z', at);

    const again = await connections.recordConnected('same-ms', { id: 'cred-b', user_id: 'zu-b' }, 'app', '2026-11-30T18:00:02.000Z', at);

    expect(again.status).toBe('superseded');
    expect((await connections.get('same-ms'))?.recallCredentialId).toBe('cred-a');
  });
});
