import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConnectionRepository } from '../../functions/adapters/connection-repository.js';
import type { ReconcileReport } from '../../functions/lifecycle/reconcile.js';
import { LOCAL_AWS_CREDENTIALS } from '../../local/local-table.js';
import { type SandboxCredential, startFakeRecall } from '../../local/sandbox-recall.js';
import { useFileFixture } from '../helpers/file-fixture.js';
import { startServiceTable } from '../helpers/service-table.js';

/**
 * `npm run reconcile` runs `tsx scripts/reconcile.ts`; this runs the same command as a real process against
 * dynalite and the sandbox Recall over HTTP, with only the environment ops would give it.
 */
const execute = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

const HOUR_AGO = new Date(Date.now() - 3_600_000).toISOString();

const table = useFileFixture('The service table', () => startServiceTable('reconcile-test'));
const recall = useFileFixture('The fake Recall', () => startFakeRecall());
let connections: ConnectionRepository;
beforeAll(() => {
  connections = new ConnectionRepository(table.client, table.name);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with what an operator's shell would hold: the service's variables and AWS settings, nothing else. */
async function reconcileCli(...args: string[]): Promise<Run> {
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TABLE_NAME: table.name,
    RECALL_ZOOM_OAUTH_APP_ID: recall.sandbox.oauthApp.id,
    RECALL_API_BASE_URL: recall.url,
    RECALL_API_KEY: recall.sandbox.apiKey,
    AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
  };
  try {
    const { stdout, stderr } = await execute(tsx, ['scripts/reconcile.ts', ...args], { cwd: root, env, timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout: string; stderr: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** A credential made at the sandbox directly, as Recall would hold it, created `createdAt`. */
function plantCredential(zoomUserId: string, createdAt: string): SandboxCredential {
  const credential: SandboxCredential = {
    id: randomUUID(),
    oauth_app: recall.sandbox.oauthApp.id,
    status: 'healthy',
    user_id: zoomUserId,
    account_id: 'zoom-account-reconcile',
    access_token_callback_url: null,
    created_at: createdAt,
    meeting_sync_status: 'completed',
  };
  recall.state.credentials.set(credential.id, credential);
  return credential;
}

/** A connection record written an hour ago, on `credential` (which may be gone at Recall). */
async function plantRecord(userId: string, credential: Pick<SandboxCredential, 'id' | 'user_id' | 'account_id'>): Promise<void> {
  await connections.recordConnected(userId, credential, recall.sandbox.oauthApp.id, HOUR_AGO);
}

const parse = (run: Run): ReconcileReport => JSON.parse(run.stdout) as ReconcileReport;

describe('npm run reconcile', () => {
  it('reports orphans and dangling records (exit 1, nothing changed), repairs them with --fix, then reports clean', async () => {
    // Prepare: a healthy pair; an orphan; a credential still inside the grace period; a record whose credential is
    // gone with nothing to move to; a record whose credential Recall replaced with one nobody points at yet
    const healthy = plantCredential('zoom-user-healthy', HOUR_AGO);
    await plantRecord('user-healthy', healthy);
    const orphan = plantCredential('zoom-user-orphan', HOUR_AGO);
    const young = plantCredential('zoom-user-young', new Date().toISOString());
    const goneForGood = { id: randomUUID(), user_id: 'zoom-user-left', account_id: 'zoom-account-reconcile' };
    await plantRecord('user-dangling', goneForGood);
    const replaced = { id: randomUUID(), user_id: 'zoom-user-moved', account_id: 'zoom-account-reconcile' };
    await plantRecord('user-moved', replaced);
    const successor = plantCredential('zoom-user-moved', HOUR_AGO);
    const before = await Promise.all(['user-healthy', 'user-dangling', 'user-moved'].map((user) => connections.get(user)));

    // Act + Assess: report, for a person
    const text = await reconcileCli();
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toContain('Orphan credentials (no record relies on them): 1');
    expect(text.stdout).toContain(orphan.id);
    expect(text.stdout).toContain(`user user-dangling (connected) on ${goneForGood.id}: mark unhealthy`);
    expect(text.stdout).toContain(`user user-moved (connected) on ${replaced.id}: repoint to ${successor.id}`);
    expect(text.stdout).toContain('Result: 3 problems found; run with --fix');

    // Act + Assess: report, for a machine; nothing changed at Recall or in the table
    const report = parse(await reconcileCli('--json'));
    expect(report.orphans.map((found) => found.recallCredentialId)).toEqual([orphan.id]);
    expect(report.notYetChecked.youngCredentials).toEqual([young.id]);
    expect(report.danglingRecords.map(({ userId, repair }) => ({ userId, repair }))).toEqual([
      { userId: 'user-dangling', repair: 'mark_unhealthy' },
      { userId: 'user-moved', repair: 'repoint' },
    ]);
    expect(report.actions).toEqual([]);
    expect([...recall.state.credentials.keys()].sort()).toEqual([healthy.id, orphan.id, young.id, successor.id].sort());
    expect(await Promise.all(['user-healthy', 'user-dangling', 'user-moved'].map((user) => connections.get(user)))).toEqual(before);
    expect(recall.sandbox.requestsOf('delete')).toEqual([]);

    // Act + Assess: fix
    const fixing = await reconcileCli('--fix', '--json');
    expect(fixing.code, fixing.stderr).toBe(0);
    expect(parse(fixing).actions).toEqual(
      expect.arrayContaining([
        { kind: 'deleted', recallCredentialId: orphan.id, zoomIdentity: 'user#zoom-user-orphan' },
        { kind: 'marked_unhealthy', userId: 'user-dangling', recallCredentialId: goneForGood.id },
        { kind: 'repointed', userId: 'user-moved', fromCredentialId: replaced.id, toCredentialId: successor.id },
      ]),
    );
    expect(parse(fixing).actions).toHaveLength(3);
    expect([...recall.state.credentials.keys()].sort()).toEqual([healthy.id, young.id, successor.id].sort());
    expect(await connections.get('user-dangling')).toMatchObject({ status: 'unhealthy', recallCredentialId: goneForGood.id });
    expect(await connections.get('user-moved')).toMatchObject({ status: 'connected', recallCredentialId: successor.id });
    expect(await connections.get('user-healthy')).toEqual(before[0]);

    // Act + Assess: clean now; the marked user waits for a reconnect, which is no problem to repair
    const clean = await reconcileCli();
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toContain('Result: clean, nothing to repair.');
    // Marked just now, so not judged again this soon.
    expect(clean.stdout).toContain('1 record changed too recently to judge');

    // Never a secret, on either stream of any run
    for (const run of [text, fixing, clean]) expect(`${run.stdout}${run.stderr}`).not.toContain(recall.sandbox.apiKey);
  }, 90_000);

  it('prints its usage with --help (exit 0) and refuses an unknown flag (exit 2, nothing on stdout)', async () => {
    const help = await reconcileCli('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run reconcile -- [--fix] [--json]');
    expect(help.stdout).toMatch(/1 {2}problems found/);

    const wrong = await reconcileCli('--repair');
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toContain("Unknown option '--repair'");
    expect(wrong.stderr).toContain('Usage: npm run reconcile');
  });

  it('names what is missing from the environment (exit 2) before touching anything', async () => {
    const requests = recall.state.requests.length;
    const run = await execute(tsx, ['scripts/reconcile.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, RECALL_ZOOM_OAUTH_APP_ID: 'app', RECALL_API_KEY: 'key' },
      timeout: 30_000,
    }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(run?.code).toBe(2);
    expect(run?.stderr).toContain('TABLE_NAME is required');
    expect(recall.state.requests.length).toBe(requests);
  });
});
