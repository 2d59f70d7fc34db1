import { describe, expect, it } from 'vitest';
import { DEFAULT_BEHAVIOUR } from '../../local/sandbox-recall.js';
import { TestBrowser } from './helpers/browser.js';
import { connectThroughDemo, describeFlow, getConnection, runConnectFlow, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { assertIdentityInvariants } from './helpers/invariants.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * Local mode pointed at another Recall through RECALL_API_BASE_URL (here the sandbox run as its own server), the
 * way a developer points it at real Recall. Also how Recall's failures reach the user.
 */
const RECALL_API_KEY = 'external-recall-key-for-tests';
const SIGNING_KEY = 'external-test-signing-key-0123456789abcdef';
const OAUTH_APP_ID = '0b9f6a3e-1c2d-4e5f-8a7b-6c5d4e3f2a1b';

const logLines: string[] = [];
const { server, recall } = useLocalService({
  externalRecall: { apiKey: RECALL_API_KEY, oauthApp: { id: OAUTH_APP_ID, clientId: 'ext-zoom-client' } },
  env: { CONNECT_SIGNING_KEY: SIGNING_KEY },
  log: (line) => logLines.push(line),
});

describe('local mode with RECALL_API_BASE_URL', () => {
  it('sends every Recall call to the configured Recall and none to the built-in sandbox', async () => {
    const userId = uniqueUser('external');
    const zoomUser = uniqueIdentity('external');
    await connectThroughDemo(server, userId, zoomUser);

    const [credential] = recall.credentialsFor({ userId: zoomUser.userId });
    expect(credential?.oauth_app).toBe(OAUTH_APP_ID);
    expect((await getConnection(server, userId)).connection?.recallCredentialId).toBe(credential?.id);
    expect(server.sandboxRecall.state.requests).toHaveLength(0);
  });

  it('refuses reconcile?fix=true against a Recall that is not the sandbox (no flag at start), and still reports', async () => {
    const deletesBefore = recall.state.requests.filter((request) => request.operation === 'delete').length;
    const listsBefore = recall.state.requests.filter((request) => request.operation === 'list').length;

    const fix = await fetch(`${server.url}/_local/reconcile?fix=true`, { method: 'POST' });
    const report = await fetch(`${server.url}/_local/reconcile`, { method: 'POST' });

    expect(fix.status).toBe(403);
    expect(((await fix.json()) as { message: string }).message).toContain('RECONCILE_FIX_EXTERNAL_RECALL=true');
    await expect(server.reconcile.run({ fix: true })).rejects.toThrow(/not the sandbox/);
    expect(recall.state.requests.filter((request) => request.operation === 'delete')).toHaveLength(deletesBefore);
    expect(report.status).toBe(200);
    expect(recall.state.requests.filter((request) => request.operation === 'list').length).toBeGreaterThan(listsBefore);
    expect(logLines.join('\n')).toContain('refused against this Recall unless started with RECONCILE_FIX_EXTERNAL_RECALL=true');
  });

  it('prints where it sends calls, and never a key', () => {
    const banner = logLines.join('\n');
    expect(server.settings.recall).toEqual({
      kind: 'external',
      baseUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      chosenBy: 'RECALL_API_BASE_URL',
    });
    expect(banner).toContain(`Recall:            ${server.settings.recall.baseUrl} (from RECALL_API_BASE_URL)`);
    expect(banner).toContain(`Redirect URI:      ${server.settings.zoomRedirectUri}`);
    expect(banner).not.toContain(RECALL_API_KEY);
    expect(banner).not.toContain(SIGNING_KEY);
  });

  it('ends on error&reason=recall_rejected when Recall\'s WAF refuses the localhost redirect URI', async () => {
    recall.configure({ rejectLocalhostRedirect: true });
    try {
      const userId = uniqueUser('waf');
      const flow = await runConnectFlow(
        server,
        new TestBrowser(),
        `${server.url}/demo/connect?user=${userId}`,
        uniqueIdentity('waf'),
      );
      expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('error');
      expect(flow.finalUrl?.searchParams.get('reason')).toBe('recall_rejected');
      expect(recall.state.requests.at(-1)).toMatchObject({ operation: 'create', status: 403 });
      expect((await getConnection(server, userId)).status).toBe(404);
    } finally {
      recall.configure({ rejectLocalhostRedirect: false });
    }
  });

  it('waits out a 429 with Retry-After and connects', async () => {
    recall.failNext('create', { status: 429, headers: { 'retry-after': '0' }, body: { detail: 'Throttled' } });
    const start = recall.state.requests.length;
    await connectThroughDemo(server, uniqueUser('throttled'), uniqueIdentity('throttled'));
    expect(recall.state.requests.slice(start).map((request) => `${request.operation} ${request.status}`)).toEqual([
      'create 429',
      'create 201',
    ]);
  });

  it('a create that succeeded but answered 503: the repeat with the same Idempotency-Key is answered with it, one consent', async () => {
    // Prepare: one list page whatever this file created before (the list of recent credentials spans them all)
    recall.failNext('create', { status: 503, afterProcessing: true });
    recall.configure({ pageSize: 100 });
    const [userId, zoomUser] = [uniqueUser('unknown'), uniqueIdentity('unknown')];
    const start = recall.state.requests.length;

    // Act
    const flow = await runConnectFlow(server, new TestBrowser(), `${server.url}/demo/connect?user=${userId}`, zoomUser).finally(
      () => recall.configure({ pageSize: DEFAULT_BEHAVIOUR.pageSize }),
    );

    // Assess: Recall replays the first answer instead of creating again
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
    expect(flow.consents).toBe(1);
    expect(recall.state.requests.slice(start).map((request) => `${request.operation} ${request.status}${request.replayed ? ' replayed' : ''}`)).toEqual([
      'create 503',
      'create 201 replayed',
    ]);
    expect(recall.credentialsFor({ userId: zoomUser.userId })).toHaveLength(1);
    const [lost] = recall.credentialsFor({ userId: zoomUser.userId });
    await assertIdentityInvariants(server, zoomUser, [userId], { recall, credentialId: lost?.id });
  });
});
