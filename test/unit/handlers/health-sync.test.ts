import { UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { type ConnectionStatus } from '../../../functions/adapters/connection-repository.js';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { connectionKey } from '../../../functions/core/table-schema.js';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { scheduledEvent } from '../../helpers/events.js';
import { type Answer, credential } from '../../helpers/fake-recall-fetch.js';
import { handlerHarness } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { recordItem, storedConnection } from '../../helpers/records.js';

// Set as a careless deployment might: this function must still never call EventBridge. Metrics on: some tests
// assert on them.
const h = handlerHarness('health-sync', { env: { EVENT_BUS_NAME: 'recall-zoom-connect-events' }, metrics: true, table: true });
const { ddb, eventBridge, recall } = h;

const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const run = () => h.handler(scheduledEvent('health-sync'));
const emitted = () => h.emitted();

/** The table holds these records of Zoom user zu-1, each on its credential. */
const records = (...records: Array<[userId: string, status: ConnectionStatus, credentialId: string]>) =>
  h.table.put(...records.map(([userId, status, credentialId]) => recordItem(userId, status, credentialId)));
const stored = async (userId: string) => storedConnection(await h.table.get(connectionKey(userId)));
/** Recall lists these credentials as unhealthy, and answers a retrieve of `retrieved` (its id) with `answer`. */
function recallReports(unhealthy: string[], retrieved?: { id: string; answer: Answer }): void {
  recall
    .on((r) =>
      r.path.startsWith(`${CREDENTIALS}?`)
        ? { status: 200, body: { next: null, results: unhealthy.map((id) => ({ ...credential(id, { user_id: 'zu-1' }), status: 'unhealthy' })) } }
        : undefined,
    )
    .on((r) => (retrieved && r.path === `${CREDENTIALS}${retrieved.id}/` ? retrieved.answer : undefined));
}
const healthyAgain = { id: 'cred-1', answer: { status: 200, body: credential('cred-1', { user_id: 'zu-1' }) } };

/** The events the status writes stored in the outbox. The function itself never calls EventBridge. */
const publishedEvents = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return h.table.outboxEvents().map((detail) => ({ DetailType: detailTypeOf(detail.type), detail }));
};

describe('health sync (scheduled)', () => {
  it('marks connections on a credential Recall lists as unhealthy, and publishes `unhealthy`', async () => {
    // Prepare: the record is found by its Zoom identity, the one the listed credential is for.
    recallReports(['cred-bad']);
    await records(['user-42', 'connected', 'cred-bad']);

    // Act
    const summary = await run();

    // Assess
    expect(summary).toMatchObject({ unhealthy: 1, markedUnhealthy: 1, healthyAgain: 0, stillGone: 0, failed: 0 });
    expect(recall.requests[0]).toMatchObject({
      method: 'GET',
      path: `${CREDENTIALS}?oauth_app=${APP}&status=unhealthy`,
      authorization: `Token ${SECRETS.recallApiKey}`,
    });
    expect(await stored('user-42')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-bad' });
    expect(publishedEvents()).toEqual([
      {
        DetailType: 'Zoom connection unhealthy.v1',
        detail: expect.objectContaining({
          schemaVersion: 1,
          type: 'unhealthy',
          userId: 'user-42',
          status: 'unhealthy',
          recallCredentialId: 'cred-bad',
          zoomUserId: 'zu-1',
        }),
      },
    ]);
  });

  it('moves unhealthy connections back to connected when Recall reports the credential healthy again', async () => {
    recallReports([], healthyAgain);
    // The unhealthy record is found by its status; the connected one on another credential is not asked about.
    await records(['user-42', 'unhealthy', 'cred-1'], ['user-7', 'connected', 'cred-7']);

    const summary = await run();

    expect(summary).toMatchObject({ unhealthy: 0, healthyAgain: 1 });
    expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${CREDENTIALS}?oauth_app=${APP}&status=unhealthy`,
      `GET ${CREDENTIALS}cred-1/`,
    ]);
    expect(await stored('user-42')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-1' });
    expect(publishedEvents()).toEqual([
      expect.objectContaining({
        DetailType: 'Zoom connection healthy_again.v1',
        detail: expect.objectContaining({ type: 'healthy_again', userId: 'user-42', status: 'connected' }),
      }),
    ]);
  });

  it('keeps a connection unhealthy when its credential is gone at Recall (404)', async () => {
    recallReports([], { id: 'cred-gone', answer: { status: 404, body: { detail: 'Not found.' } } });
    await records(['user-42', 'unhealthy', 'cred-gone']);

    const summary = await run();

    expect(summary).toMatchObject({ stillGone: 1, healthyAgain: 0 });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    expect((await stored('user-42')).status).toBe('unhealthy');
    expect(publishedEvents()).toEqual([]);
  });

  it('fails the run (an invocation error for alarms) when Recall refuses the list, changing nothing', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));
    await records(['user-42', 'unhealthy', 'cred-1']);

    await expect(run()).rejects.toThrow('Recall list answered 401');
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });
});

describe('health sync: metrics', () => {
  it('counts the records marked unhealthy, and reports zero healthy-again rather than nothing', async () => {
    recallReports(['cred-bad']);
    await records(['user-1', 'connected', 'cred-bad'], ['user-2', 'connected', 'cred-bad']);

    await run();

    const metrics = emitted();
    expect(metricSum(metrics, 'HealthSyncMarkedUnhealthy')).toBe(2);
    expect(metrics.map((metric) => metric.name)).toContain('HealthSyncHealthyAgain');
    expect(metricSum(metrics, 'HealthSyncHealthyAgain')).toBe(0);
    expect(metricSum(metrics, 'RecallCall')).toBe(1);
  });

  it('counts the records healthy again', async () => {
    recallReports([], healthyAgain);
    await records(['user-42', 'unhealthy', 'cred-1']);

    await run();

    expect(metricSum(emitted(), 'HealthSyncHealthyAgain')).toBe(1);
    expect(metricSum(emitted(), 'HealthSyncMarkedUnhealthy')).toBe(0);
  });

  it('still writes the Recall metrics of a run that failed', async () => {
    recall.on(() => ({ status: 503, body: {}, headers: { 'retry-after': '0' } }));

    await expect(run()).rejects.toThrow('Recall list answered 503');

    expect(metricSum(emitted(), 'RecallCall')).toBe(3);
    expect(metricSum(emitted(), 'RecallFailure')).toBe(1);
    expect(metricSum(emitted(), 'HealthSyncMarkedUnhealthy')).toBe(0);
  });
});
