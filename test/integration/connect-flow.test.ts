import { describe, expect, it } from 'vitest';
import { TestBrowser } from './helpers/browser.js';
import { answerAtZoom, connectThroughDemo, connectUrl, describeFlow, getConnection, runConnectFlow, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * The whole redirect chain over real HTTP, as a browser walks it: demo page → authorize → sandbox Zoom consent →
 * callback → back on the product page; then the product backend's view of the connection.
 */
const { server } = useLocalService();

describe('connecting Zoom through local mode', () => {
  it('connects through the consent page and records the credential that exists in Recall', async () => {
    // Prepare
    const userId = uniqueUser('ada-owner');
    const browser = new TestBrowser();

    // Act: demo "Connect Zoom" link → authorize
    const demo = await browser.request(`${server.url}/demo/connect?user=${userId}`);
    expect(demo.status).toBe(302);
    const authorize = await browser.request(demo.headers.get('location') as string);

    // Assess: the browser goes to Zoom with the configured redirect URI, PKCE and a browser-binding cookie
    expect(authorize.status).toBe(302);
    const zoomUrl = new URL(authorize.headers.get('location') as string);
    expect(`${zoomUrl.origin}${zoomUrl.pathname}`).toBe(server.settings.zoomAuthorizeUrl);
    expect(zoomUrl.searchParams.get('redirect_uri')).toBe(server.settings.zoomRedirectUri);
    expect(zoomUrl.searchParams.get('client_id')).toBe(server.settings.zoomClientId);
    expect(zoomUrl.searchParams.get('response_type')).toBe('code');
    expect(zoomUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(zoomUrl.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    const [binding] = browser.cookies;
    expect(browser.cookies).toHaveLength(1);
    // On the path authorize and the callback share: authorize sees the browser's earlier attempts (at most 3 kept).
    expect(binding).toMatchObject({ path: '/zoom', httpOnly: true, secure: true, sameSite: 'Lax' });

    // Act: the consent page, as HTML, then Allow as Ada
    const consent = await browser.request(zoomUrl.href);
    const html = await consent.text();
    expect(consent.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(html).toMatch(/<button type="submit" name="decision" value="allow">Allow<\/button>/);
    expect(html).toMatch(/<button type="submit" name="decision" value="decline"[^>]*>Decline<\/button>/);
    expect(html).toContain('Ada Lovelace — ada@acme.example, account Acme');
    const callbackUrl = await answerAtZoom(browser, zoomUrl.href, 'ada');
    expect(callbackUrl.startsWith(`${server.settings.zoomRedirectUri}?`)).toBe(true);
    const callback = await browser.request(callbackUrl);

    // Assess: back on the product page, connected, the binding cookie gone
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect(callback.headers.get('location')).toBe(`${server.url}/?user=${userId}&zoom_connect=connected`);
    expect(browser.cookieHeaderFor(callbackUrl)).toBe('');

    // Assess: Recall got exactly one create, on the documented path, and holds the credential the record names
    const creates = server.sandboxRecall.requestsOf('create');
    expect(creates).toHaveLength(1);
    expect(creates[0]).toMatchObject({ method: 'POST', path: '/api/v2/zoom-oauth-credentials/', status: 201 });
    const ada = server.sandboxRecall.credentialsFor({ userId: 'AdaUser7Kc3nW8mQe5Ys0b' });
    expect(ada).toHaveLength(1);
    const { status, connection } = await getConnection(server, userId);
    expect(status).toBe(200);
    expect(connection).toMatchObject({
      userId,
      status: 'connected',
      recallCredentialId: ada[0]?.id,
      zoomUserId: 'AdaUser7Kc3nW8mQe5Ys0b',
    });

    // Assess: the demo page shows the outcome and the connection
    const page = await (await fetch(`${server.url}/?user=${userId}&zoom_connect=connected`)).text();
    expect(page).toContain('Your Zoom account is connected.');
    expect(page).toContain(ada[0]?.id);
  });

  it('keeps the return URL\'s own query and adds the outcome after it', async () => {
    const userId = uniqueUser('query');
    const returnTo = `${server.url}/settings/integrations?tab=zoom&from=onboarding`;
    const flow = await runConnectFlow(
      server,
      new TestBrowser(),
      await connectUrl(server, { userId, returnTo }),
      { accountId: 'acct-query', userId: `zoom-${userId}` },
    );
    expect(flow.finalUrl?.href, describeFlow(flow)).toBe(`${returnTo}&zoom_connect=connected`);
  });

  it('lands on zoom_connect=denied when the user declines at Zoom, without calling Recall', async () => {
    const userId = uniqueUser('decliner');
    const before = server.sandboxRecall.state.requests.length;

    const flow = await runConnectFlow(
      server,
      new TestBrowser(),
      `${server.url}/demo/connect?user=${userId}`,
      'grace',
      'decline',
    );

    expect(flow.callbackUrls[0]).toContain('error=access_denied');
    expect(flow.finalUrl?.href, describeFlow(flow)).toBe(`${server.url}/?user=${userId}&zoom_connect=denied`);
    expect(server.sandboxRecall.state.requests.length).toBe(before);
    expect((await getConnection(server, userId)).status).toBe(404);
    const page = await (await fetch(flow.finalUrl as URL)).text();
    expect(page).toContain('You declined access at Zoom');
  });

  it('disconnects from the demo page and deletes the credential nobody else uses', async () => {
    // Prepare
    const userId = uniqueUser('leaver');
    const zoomUser = { accountId: 'acct-leaver', userId: `zoom-${userId}` };
    await connectThroughDemo(server, userId, zoomUser);
    const [credential] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    expect(credential).toBeDefined();

    // Act: the demo page's Disconnect form
    const browser = new TestBrowser();
    const page = await (await browser.request(`${server.url}/?user=${userId}`)).text();
    expect(page).toMatch(/<button type="submit" class="secondary">Disconnect Zoom<\/button>/);
    const response = await browser.request(`${server.url}/demo/disconnect`, { form: { user: userId } });

    // Assess
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe(`/?user=${userId}&demo_notice=disconnected`);
    expect(server.sandboxRecall.state.credentials.has(credential?.id as string)).toBe(false);
    expect((await getConnection(server, userId)).connection?.status).toBe('disconnected');
  });

  it('refuses a cross-site disconnect form', async () => {
    const response = await fetch(`${server.url}/demo/disconnect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: 'user=demo-user',
      redirect: 'manual',
    });
    expect(response.status).toBe(403);
  });

  it('answers API Gateway\'s 404 for unknown routes and 404 for an unknown user', async () => {
    const unknownRoute = await fetch(`${server.url}/zoom/callback/`);
    expect(unknownRoute.status).toBe(404);
    expect(await unknownRoute.json()).toEqual({ message: 'Not Found' });
    const wrongMethod = await fetch(`${server.url}/zoom/authorize`, { method: 'POST' });
    expect(wrongMethod.status).toBe(404);
    expect((await getConnection(server, uniqueUser('nobody'))).status).toBe(404);
  });
});
