import { DeleteItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { lockFromItem } from '../../../functions/adapters/identity-lock.js';
import { connectionKey, lockKey } from '../../../functions/core/table-schema.js';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { scheduledEvent } from '../../helpers/events.js';
import { credential } from '../../helpers/fake-recall-fetch.js';
import { handlerHarness } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { recordItem, storedConnection } from '../../helpers/records.js';

// Each test loads the handler afresh: it reads RECONCILE_FIX at init.
const h = handlerHarness('reconcile', { logLevel: 'INFO', metrics: true, table: true, warm: false });
const { ddb, recall } = h;

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();
const scheduled = scheduledEvent('reconcile');
const importHandler = (env: Record<string, string> = {}) => h.cold(env);

/** A connected record of Zoom user `zoomUserId`, connected an hour ago. */
const record = (userId: string, credentialId: string, zoomUserId: string) =>
  recordItem(userId, 'connected', credentialId, { zoomUserId, zoomIdentity: `user#${zoomUserId}`, connectedAt: HOUR_AGO, updatedAt: HOUR_AGO });

/** Recall lists one credential in use, one orphan; the table has a record on the first and one on a gone credential. */
async function scriptOrphanAndDangling(): Promise<void> {
  recall
    .on((r) =>
      r.method === 'GET' && r.path.startsWith(`${CREDENTIALS}?`)
        ? {
            status: 200,
            body: {
              next: null,
              results: [
                { ...credential('cred-used', { user_id: 'zu-1' }), created_at: HOUR_AGO },
                { ...credential('cred-orphan', { user_id: 'zu-2' }), created_at: HOUR_AGO },
              ],
            },
          }
        : undefined,
    )
    .on((r) => (r.path === `${CREDENTIALS}cred-gone/` ? { status: 404, body: { detail: 'Not found.' } } : undefined))
    .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
  await h.table.put(record('user-1', 'cred-used', 'zu-1'), record('user-2', 'cred-gone', 'zu-3'));
}

const summaryLines = () => h.output.logs().filter((line) => line.message.startsWith('Reconcile finished'));
const emitted = () => h.emitted();
const stored = async (userId: string) => storedConnection(await h.table.get(connectionKey(userId)));
/** The identity locks taken (their conditional puts), in order. */
const locksTaken = () => ddb.commandCalls(PutItemCommand).map((call) => lockFromItem(call.args[0].input.Item)?.identity);

describe('reconcile (scheduled)', () => {
  it('reports by default: one summary line and the counts as metrics, and changes nothing', async () => {
    // Prepare
    await scriptOrphanAndDangling();
    const handler = await importHandler();

    // Act
    const report = await handler(scheduled);

    // Assess
    expect(report).toMatchObject({ fix: false, problems: 2, unresolved: 2, actions: [] });
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${CREDENTIALS}?oauth_app=${APP}`,
      `GET ${CREDENTIALS}cred-gone/`,
    ]);
    expect(recall.requests[0]?.authorization).toBe(`Token ${SECRETS.recallApiKey}`);
    // The records come from the status index (connected, unhealthy), never a scan; nothing is written, no lock taken.
    expect(ddb.commandCalls(QueryCommand).map((call) => call.args[0].input.IndexName)).toEqual(['byStatus', 'byStatus']);
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual(['QueryCommand', 'QueryCommand']);
    expect(await stored('user-2')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-gone' });
    expect(summaryLines()).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'Reconcile finished with problems left',
        fix: false,
        orphans: ['cred-orphan'],
        danglingRecords: ['user-2'],
      }),
    ]);
    expect(metricSum(emitted(), 'ReconcileOrphans')).toBe(1);
    expect(metricSum(emitted(), 'ReconcileDanglingRecords')).toBe(1);
    expect(metricSum(emitted(), 'ReconcileRepaired')).toBe(0);
    expect(h.output.text()).not.toContain(SECRETS.recallApiKey);
  });

  it('repairs with RECONCILE_FIX=true: deletes the orphan and marks the dangling record, each under its lock', async () => {
    // Prepare
    await scriptOrphanAndDangling();
    const handler = await importHandler({ RECONCILE_FIX: 'true' });

    // Act
    const report = await handler(scheduled);

    // Assess
    expect(report).toMatchObject({ fix: true, problems: 2, unresolved: 0 });
    expect(recall.requests.filter((r) => r.method === 'DELETE').map((r) => r.path)).toEqual([`${CREDENTIALS}cred-orphan/`]);
    // Each under the lock of its Zoom identity, every lock given back.
    expect(locksTaken()).toEqual(['user#zu-3', 'user#zu-2']);
    expect(ddb.commandCalls(DeleteItemCommand).map((call) => call.args[0].input.Key?.pk?.S)).toEqual([lockKey('user#zu-3'), lockKey('user#zu-2')]);
    expect((await h.table.items()).filter((item) => lockFromItem(item))).toEqual([]);
    expect(await stored('user-2')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-gone' });
    expect(await stored('user-1')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-used' });
    expect(summaryLines()).toEqual([expect.objectContaining({ level: 'INFO', message: 'Reconcile finished', repaired: 2 })]);
    expect(metricSum(emitted(), 'ReconcileRepaired')).toBe(2);
  });

  it('lists at most 30 times a minute, leaving Recall’s other 30 to the callbacks', async () => {
    // Prepare: every listing is 20 pages long (the client's cap)
    recall.on((r) => {
      if (!r.path.startsWith(`${CREDENTIALS}?`)) return undefined;
      const page = Number(new URLSearchParams(r.path.split('?')[1]).get('cursor') ?? 0);
      return { status: 200, body: { next: `${page + 1}`, results: [] } };
    });
    const handler = await importHandler();

    // Act: the first run lists 20 pages; the second may list only 10 more within the minute, and its deadline is
    // nearer than the budget's next free slot
    await handler(scheduled);
    const second = handler(scheduled);

    // Assess
    await expect(second).rejects.toThrow('30/min budget');
    expect(recall.requests).toHaveLength(30);
    expect(h.output.logs()).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'Reconcile failed' }));
  });

  it('fails the run (an invocation error for alarms) when Recall refuses the list, changing nothing', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));
    const handler = await importHandler({ RECONCILE_FIX: 'true' });

    await expect(handler(scheduled)).rejects.toThrow('Recall list answered 401');
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(0);
  });
});
