import { describe, expect, it } from 'vitest';
import { TestBrowser } from './helpers/browser.js';
import { connectedCredential, connectThroughDemo, getConnection, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { eventTypesFor } from './helpers/lifecycle.js';

/**
 * The demo page's lifecycle controls, used as a person would: read the page, submit its forms (no script), follow
 * the redirect back. Each control plays another party for real: "Simulate revoke" POSTs a signed Zoom webhook over
 * HTTP, "Mark … in Recall" changes the sandbox Recall, "Run health sync now" runs the real function.
 */
const { server } = useLocalService();

const pageOf = async (browser: TestBrowser, userId: string) => {
  const response = await browser.request(`${server.url}/?user=${encodeURIComponent(userId)}`);
  expect(response.status).toBe(200);
  return { html: await response.text(), csp: response.headers.get('content-security-policy') ?? '' };
};

/** Submits a demo form as the browser would, and returns where it was sent back to. */
async function submit(browser: TestBrowser, action: string, form: Record<string, string>): Promise<string> {
  const response = await browser.request(`${server.url}${action}`, { form });
  expect(response.status, await response.clone().text()).toBe(302);
  return response.headers.get('location') as string;
}

describe('demo page: the connection\'s status in plain words, with the next step', () => {
  it('offers the sandbox controls for a connected user, as labelled plain forms under the strict CSP', async () => {
    // Prepare
    const userId = uniqueUser('page');
    await connectThroughDemo(server, userId, uniqueIdentity('page'));

    // Act
    const { html, csp } = await pageOf(new TestBrowser(), userId);

    // Assess
    expect(html).toContain('<strong>Connected.</strong> Recall can use your Zoom account. Nothing to do.');
    expect(html).toContain('<form method="post" action="/demo/simulate-revoke">');
    expect(html).toContain('<button type="submit" class="secondary">Simulate revoke in Zoom (sandbox)</button>');
    expect(html).toMatch(/<label><input type="checkbox" name="keep_data" value="true"> The Zoom user lets the app keep/);
    expect(html).toContain('<button type="submit" class="secondary">Mark unhealthy in Recall (sandbox)</button>');
    expect(html).toContain('<button type="submit" class="secondary">Run health sync now</button>');
    expect(html).not.toContain('<script');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
  });
});

describe('demo page: "Simulate revoke in Zoom (sandbox)"', () => {
  it('sends a signed app_deauthorized through the real webhook, and the page then says the app was removed', async () => {
    // Prepare
    const userId = uniqueUser('revoke');
    const zoomUser = uniqueIdentity('revoke');
    await connectThroughDemo(server, userId, zoomUser);
    const { connection } = await getConnection(server, userId);
    const browser = new TestBrowser();
    const webhooksBefore = server.localAws.queue.stats.sent;

    // Act
    const location = await submit(browser, '/demo/simulate-revoke', { user: userId });

    // Assess: through the queue (the route waited for it), revoked, the credential deleted, Recall told too
    expect(location).toBe(`/?user=${userId}&demo_notice=revoke_sent`);
    expect(server.localAws.queue.stats.sent).toBe(webhooksBefore + 1);
    expect(await getConnection(server, userId)).toMatchObject({
      connection: { status: 'revoked', zoomUserId: null },
    });
    expect(server.sandboxRecall.state.credentials.has(connection?.recallCredentialId as string)).toBe(false);
    expect(server.sandboxRecall.state.forwardedWebhooks.at(-1)).toMatchObject({ event: 'app_deauthorized' });
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'revoked']);
    const { html } = await pageOf(browser, userId);
    expect(html).toContain('Removed in Zoom.');
    expect(html).toContain('Choose “Connect Zoom” to connect again.');
    expect(html).not.toContain('Simulate revoke in Zoom');
  });

  it('keeps the Zoom ids when the form says the user allows it', async () => {
    const userId = uniqueUser('keep');
    const zoomUser = uniqueIdentity('keep');
    await connectThroughDemo(server, userId, zoomUser);
    await submit(new TestBrowser(), '/demo/simulate-revoke', { user: userId, keep_data: 'true' });
    expect((await getConnection(server, userId)).connection).toMatchObject({ status: 'revoked', zoomUserId: zoomUser.userId });
  });

  it('revokes an account-level connection, which records no Zoom user', async () => {
    // Prepare
    server.sandboxRecall.configure({ appKind: 'account_level' });
    try {
      const userId = uniqueUser('account');
      const zoomUser = uniqueIdentity('account');
      await connectThroughDemo(server, userId, zoomUser);

      // Act
      await submit(new TestBrowser(), '/demo/simulate-revoke', { user: userId });

      // Assess
      expect((await getConnection(server, userId)).connection?.status).toBe('revoked');
      expect(server.sandboxRecall.credentialsFor({ accountId: zoomUser.accountId })).toEqual([]);
    } finally {
      server.sandboxRecall.configure({ appKind: 'user_level' });
    }
  });

  it('says there is nothing to revoke for a user who never connected', async () => {
    const location = await submit(new TestBrowser(), '/demo/simulate-revoke', { user: uniqueUser('nobody') });
    expect(location).toMatch(/demo_notice=no_connection$/);
  });
});

describe('demo page: "Mark unhealthy in Recall (sandbox)" and "Run health sync now"', () => {
  it('walks a connection to unhealthy and back, each step explained on the page', async () => {
    // Prepare
    const userId = uniqueUser('health');
    const credentialId = await connectedCredential(server, userId, uniqueIdentity('health'));
    const browser = new TestBrowser();

    // Act + Assess: Recall marks it; the service only learns at the next health sync
    expect(await submit(browser, '/demo/sandbox-credential-status', { user: userId, status: 'unhealthy' })).toMatch(
      /demo_notice=marked_unhealthy$/,
    );
    expect(server.sandboxRecall.state.credentials.get(credentialId)?.status).toBe('unhealthy');
    expect((await getConnection(server, userId)).connection?.status).toBe('connected');
    let page = (await pageOf(browser, userId)).html;
    expect(page).toContain('In the sandbox Recall, this credential is <strong>unhealthy</strong>.');
    expect(page).toContain('Mark healthy in Recall (sandbox)');

    expect(await submit(browser, '/demo/health-sync', { user: userId })).toMatch(/demo_notice=health_sync_done$/);
    expect((await getConnection(server, userId)).connection?.status).toBe('unhealthy');
    page = (await pageOf(browser, userId)).html;
    expect(page).toContain('<strong>Needs reconnecting.</strong>');

    // Act + Assess: healthy again
    await submit(browser, '/demo/sandbox-credential-status', { user: userId, status: 'healthy' });
    await submit(browser, '/demo/health-sync', { user: userId });
    expect((await getConnection(server, userId)).connection?.status).toBe('connected');
    expect(await eventTypesFor(server, userId)).toEqual(['connected', 'unhealthy', 'healthy_again']);
  });

  it('says so when the sandbox Recall no longer has the credential', async () => {
    const userId = uniqueUser('vanished');
    const credentialId = await connectedCredential(server, userId, uniqueIdentity('vanished'));
    server.sandboxRecall.state.credentials.delete(credentialId);
    const browser = new TestBrowser();
    expect((await pageOf(browser, userId)).html).toContain('The sandbox Recall has no credential for this connection any more.');
    const location = await submit(browser, '/demo/sandbox-credential-status', { user: userId, status: 'unhealthy' });
    expect(location).toMatch(/demo_notice=credential_gone$/);
  });
});

describe('demo page: bad requests to the lifecycle controls', () => {
  it('refuses cross-site posts, invalid users and an invalid status, changing nothing', async () => {
    // Prepare
    const userId = uniqueUser('guarded');
    const credentialId = await connectedCredential(server, userId, uniqueIdentity('guarded'));
    const sentBefore = server.localAws.queue.stats.sent;
    const post = (path: string, body: string, origin?: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
        body,
        redirect: 'manual',
      });

    // Act + Assess
    for (const path of ['/demo/simulate-revoke', '/demo/sandbox-credential-status', '/demo/health-sync']) {
      expect((await post(path, `user=${userId}&status=unhealthy`, 'https://evil.example')).status, path).toBe(403);
      expect((await post(path, 'user=%3Cscript%3E&status=unhealthy')).status, path).toBe(400);
    }
    expect((await post('/demo/sandbox-credential-status', `user=${userId}&status=revoked`)).status).toBe(400);
    expect(server.localAws.queue.stats.sent).toBe(sentBefore);
    expect(server.sandboxRecall.state.credentials.get(credentialId)?.status).toBe('healthy');
    expect((await getConnection(server, userId)).connection?.status).toBe('connected');
  });

  it('ignores an unknown demo_notice instead of echoing it', async () => {
    const response = await fetch(`${server.url}/?user=demo-user&demo_notice=%3Cb%3Ehi%3C%2Fb%3E`);
    const html = await response.text();
    expect(html).not.toContain('<b>hi</b>');
    expect(html).not.toContain('class="notice');
  });
});
