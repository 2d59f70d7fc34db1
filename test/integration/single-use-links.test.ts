import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_HEADER_BYTES } from '../../local/api-gateway.js';
import { CONNECT_OUTCOME_MESSAGES } from '../../local/demo-page.js';
import { TestBrowser } from './helpers/browser.js';
import { answerAtZoom, connectUrl, describeFlow, runConnectFlow, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { assertIdentityInvariants, markRecall, recallSequenceSince } from './helpers/invariants.js';

/**
 * A connect link through local mode (real HTTP, dynalite, the sandboxes): one link completes one connection, and
 * the browser's binding cookies stay few enough that API Gateway (431 past 10,240 header bytes) never locks it out.
 */
const { server } = useLocalService();

describe('a connect link completes one connection', () => {
  it('the same link opened twice: the first connects, the second lands on reason=link_used without any Recall call', async () => {
    // Prepare
    const [userId, zoomUser] = [uniqueUser('twice'), uniqueIdentity('twice')];
    const link = await connectUrl(server, { userId });
    const first = await runConnectFlow(server, new TestBrowser(), link, zoomUser);
    expect(first.finalUrl?.searchParams.get('zoom_connect'), describeFlow(first)).toBe('connected');
    const mark = markRecall(server);

    // Act: the same link again (another browser: a leaked link), through Zoom's consent
    const second = await runConnectFlow(server, new TestBrowser(), link, uniqueIdentity('attacker'));

    // Assess
    expect(Object.fromEntries(second.finalUrl?.searchParams ?? [])).toMatchObject({ zoom_connect: 'error', reason: 'link_used' });
    expect(recallSequenceSince(server, mark)).toEqual([]);
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('a link whose first attempt was declined at Zoom still completes one connection', async () => {
    const [userId, zoomUser] = [uniqueUser('declined-first'), uniqueIdentity('declined-first')];
    const link = await connectUrl(server, { userId });

    const declined = await runConnectFlow(server, new TestBrowser(), link, zoomUser, 'decline');
    const allowed = await runConnectFlow(server, new TestBrowser(), link, zoomUser);

    expect(declined.finalUrl?.searchParams.get('zoom_connect')).toBe('denied');
    expect(allowed.finalUrl?.searchParams.get('zoom_connect'), describeFlow(allowed)).toBe('connected');
  });

  it('refuses a link whose exp lies further ahead than the maximum, with the 400 page, before Zoom', async () => {
    const browser = new TestBrowser();

    const response = await browser.request(await connectUrl(server, { userId: uniqueUser('long'), ttlSeconds: 7 * 24 * 3600 }));

    expect(response.status).toBe(400);
    expect(browser.cookies).toHaveLength(0);
  });
});

describe('binding cookies cannot pile up', () => {
  it('30 abandoned attempts in one browser still let the 31st connect; the browser never holds more than 3', async () => {
    // Prepare: 30 attempts that reach Zoom's consent page and go no further
    const browser = new TestBrowser();
    const userId = uniqueUser('abandoning');
    for (let n = 0; n < 30; n++) {
      const started = await browser.request(await connectUrl(server, { userId }));
      expect(started.status, `attempt ${n + 1}`).toBe(302);
      expect(browser.cookies.filter((cookie) => cookie.name.startsWith('zc_')).length).toBeLessThanOrEqual(3);
    }
    const header = browser.cookieHeaderFor(`${server.settings.apiBaseUrl}/zoom/authorize`);
    expect(header.length).toBeLessThan(MAX_REQUEST_HEADER_BYTES / 2);

    // Act
    const zoomUser = uniqueIdentity('abandoning');
    const flow = await runConnectFlow(server, browser, await connectUrl(server, { userId }), zoomUser);

    // Assess
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
    await assertIdentityInvariants(server, zoomUser, [userId]);
  });

  it('local mode answers 431 like API Gateway once the headers pass 10,240 bytes', async () => {
    const response = await fetch(`${server.settings.apiBaseUrl}/zoom/authorize`, {
      headers: { cookie: `big=${'x'.repeat(MAX_REQUEST_HEADER_BYTES)}` },
      redirect: 'manual',
    });

    expect(response.status).toBe(431);
  });
});

describe('callbacks without a state', () => {
  it('Zoom\'s decline without a state, one attempt under way: lands on its return URL with zoom_connect=denied', async () => {
    // Prepare: an attempt that reached the consent page; Zoom answers with only error=access_denied
    const browser = new TestBrowser();
    const userId = uniqueUser('stateless-decline');
    await browser.request(await connectUrl(server, { userId }));
    const mark = markRecall(server);

    // Act
    const response = await browser.request(`${server.settings.zoomRedirectUri}?error=access_denied`);

    // Assess
    expect(response.status).toBe(302);
    const landed = new URL(response.headers.get('location') ?? '');
    expect(landed.searchParams.get('zoom_connect')).toBe('denied');
    expect(landed.searchParams.get('user')).toBe(userId);
    expect(browser.cookies.filter((cookie) => cookie.name.startsWith('zc_'))).toHaveLength(0);
    expect(recallSequenceSince(server, mark)).toEqual([]);
  });

  it('a Marketplace install (a code, no state): sent to the demo page with zoom_connect=install, the code never exchanged', async () => {
    // Prepare: a real code from Zoom's consent, but the redirect carries no state
    const browser = new TestBrowser();
    const started = await browser.request(await connectUrl(server, { userId: uniqueUser('install') }));
    const callback = new URL(await answerAtZoom(browser, started.headers.get('location') as string, uniqueIdentity('install')));
    callback.searchParams.delete('state');
    const mark = markRecall(server);

    // Act
    const response = await new TestBrowser().request(callback.href);

    // Assess
    expect(response.status).toBe(302);
    const landed = new URL(response.headers.get('location') ?? '');
    expect(`${landed.origin}${landed.pathname}`).toBe(`${server.url}/`);
    expect(landed.searchParams.get('zoom_connect')).toBe('install');
    expect(recallSequenceSince(server, mark)).toEqual([]);
    // The demo page (the product) says what to do next: start a connect link
    const page = await (await new TestBrowser().request(landed.href)).text();
    expect(page).toContain(CONNECT_OUTCOME_MESSAGES.install.title);
  });
});
