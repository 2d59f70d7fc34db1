import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ReconcileReport } from '../../functions/lifecycle/reconcile.js';
import { connectionKey } from '../../functions/core/table-schema.js';
import type { SandboxCredential } from '../../local/sandbox-recall.js';
import { connectedCredential, getConnection, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { eventsFor } from './helpers/lifecycle.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * `POST /_local/reconcile` runs the real reconcile function (functions/handlers/reconcile) against dynalite and the sandbox
 * Recall: it reports and changes nothing, repairs with `?fix=true`, and answers 502 when the run fails.
 */
const { server, table } = useLocalService();

const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

async function postReconcile(query = ''): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}/_local/reconcile${query}`, { method: 'POST' });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** `POST /_local/reconcile[?fix=true]`, expecting the run to succeed; its report. */
async function reconcile(options: { fix?: boolean } = {}): Promise<ReconcileReport> {
  const { status, body } = await postReconcile(options.fix ? '?fix=true' : '');
  expect(status, JSON.stringify(body)).toBe(200);
  return body as ReconcileReport;
}

const connect = (userId: string, zoomUser: { accountId: string; userId: string }) => connectedCredential(server, userId, zoomUser);

/** A credential made at the sandbox directly, as Recall would hold it, created an hour ago. */
function plantCredential(zoomUser: { accountId: string; userId: string }): SandboxCredential {
  const credential: SandboxCredential = {
    id: randomUUID(),
    oauth_app: server.settings.recallOAuthAppId,
    status: 'healthy',
    user_id: zoomUser.userId,
    account_id: zoomUser.accountId,
    access_token_callback_url: null,
    created_at: HOUR_AGO,
    meeting_sync_status: 'completed',
  };
  server.sandboxRecall.state.credentials.set(credential.id, credential);
  return credential;
}

/**
 * Makes a record look last changed an hour ago, straight in dynalite (no route can): reconcile judges only records
 * changed more than a minute before its listing (`LISTING_SKEW_MS`).
 */
async function backdateRecord(userId: string): Promise<void> {
  expect(await table.set(connectionKey(userId), { updatedAt: { S: HOUR_AGO } }), `${userId} has a record`).toBe(true);
}

const credentialIds = () => [...server.sandboxRecall.state.credentials.keys()].sort();

describe('POST /_local/reconcile', () => {
  it('reports an orphan and dangling records and changes nothing; repairs them with ?fix=true; then is clean', async () => {
    // Prepare: two connected users whose credentials Recall lost; one identity has a newer credential at Recall, the
    // other none; and a credential of a third identity nobody points at
    const [stranded, moved] = [uniqueUser('stranded'), uniqueUser('moved')];
    const movedZoomUser = uniqueIdentity('moved');
    const strandedCredential = await connect(stranded, uniqueIdentity('stranded'));
    const movedCredential = await connect(moved, movedZoomUser);
    server.sandboxRecall.state.credentials.delete(strandedCredential);
    server.sandboxRecall.state.credentials.delete(movedCredential);
    const successor = plantCredential(movedZoomUser);
    const orphan = plantCredential(uniqueIdentity('orphan'));
    await Promise.all([backdateRecord(stranded), backdateRecord(moved)]);
    const credentialsBefore = credentialIds();
    const recordsBefore = await Promise.all([stranded, moved].map((userId) => getConnection(server, userId)));

    // Act + Assess: a report, nothing changed at Recall or in the table
    const report = await reconcile();
    expect(report).toMatchObject({ fix: false, oauthAppId: server.settings.recallOAuthAppId, actions: [], failures: [] });
    expect(report.orphans).toEqual([
      { recallCredentialId: orphan.id, zoomIdentity: `user#${orphan.user_id}`, createdAt: HOUR_AGO },
    ]);
    expect(report.danglingRecords).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ userId: stranded, recallCredentialId: strandedCredential, repair: 'mark_unhealthy' }),
        expect.objectContaining({
          userId: moved,
          recallCredentialId: movedCredential,
          repair: 'repoint',
          repointTo: successor.id,
        }),
      ]),
    );
    expect(report.danglingRecords).toHaveLength(2);
    expect(report).toMatchObject({ problems: 3, unresolved: 3 });
    expect(credentialIds()).toEqual(credentialsBefore);
    expect(server.sandboxRecall.requestsOf('delete')).toEqual([]);
    expect(await Promise.all([stranded, moved].map((userId) => getConnection(server, userId)))).toEqual(recordsBefore);

    // Act + Assess: with ?fix=true the orphan is deleted, one record marked unhealthy, the other moved
    const fixing = await reconcile({ fix: true });
    expect(fixing.fix).toBe(true);
    expect(fixing.actions).toEqual(
      expect.arrayContaining([
        { kind: 'deleted', recallCredentialId: orphan.id, zoomIdentity: `user#${orphan.user_id}` },
        { kind: 'marked_unhealthy', userId: stranded, recallCredentialId: strandedCredential },
        { kind: 'repointed', userId: moved, fromCredentialId: movedCredential, toCredentialId: successor.id },
      ]),
    );
    expect(fixing.actions).toHaveLength(3);
    expect(fixing).toMatchObject({ problems: 3, unresolved: 0, failures: [] });
    expect(server.sandboxRecall.state.credentials.has(orphan.id)).toBe(false);
    expect((await getConnection(server, stranded)).connection).toMatchObject({
      status: 'unhealthy',
      recallCredentialId: strandedCredential,
    });
    expect((await getConnection(server, moved)).connection).toMatchObject({
      status: 'connected',
      recallCredentialId: successor.id,
    });
    // Each repair is a transition, and its event reaches the bus like any other (the outbox).
    expect((await eventsFor(server, stranded)).at(-1)).toMatchObject({
      type: 'unhealthy',
      status: 'unhealthy',
      recallCredentialId: strandedCredential,
    });
    expect((await eventsFor(server, moved)).at(-1)).toMatchObject({
      type: 'replaced',
      status: 'connected',
      recallCredentialId: successor.id,
      previousRecallCredentialId: movedCredential,
    });

    // Act + Assess: clean; the marked record, changed just now, waits for its user to connect again
    const clean = await reconcile();
    expect(clean).toMatchObject({ fix: false, orphans: [], danglingRecords: [], actions: [], problems: 0, unresolved: 0 });
    expect(clean.notYetChecked.recentRecords).toContain(stranded);
  });

  it('answers 502 with a short message when the run fails, and runs again afterwards', async () => {
    // Prepare: the sandbox refuses the key on the listing, as Recall does for a revoked one
    server.sandboxRecall.failNext('list', { status: 401, body: { detail: 'Invalid token.' } });

    // Act
    const failed = await postReconcile('?fix=true');

    // Assess
    expect(failed).toEqual({ status: 502, body: { message: 'The reconcile run failed: RecallRejectedError.' } });
    expect(JSON.stringify(failed.body)).not.toContain(server.settings.recallApiKey);
    expect(await reconcile()).toMatchObject({ fix: false, problems: 0 });
  });

  it('refuses another method (405) and a fix that is not true or false (400)', async () => {
    expect((await fetch(`${server.url}/_local/reconcile`)).status).toBe(405);
    expect(await postReconcile('?fix=yes')).toEqual({ status: 400, body: { message: 'fix must be true or false.' } });
  });
});
