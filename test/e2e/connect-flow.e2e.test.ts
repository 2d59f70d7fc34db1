import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Locator, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTCOME_REASONS } from '../../functions/core/outcome-reasons.js';
import {
  CONNECT_ERROR_MESSAGES,
  CONNECT_OUTCOME_MESSAGES,
  DEFAULT_DEMO_USER,
  NOT_RECORDED,
  type OutcomeMessage,
  UNKNOWN_ERROR_MESSAGE,
} from '../../local/demo-page.js';
import { SANDBOX_ZOOM_USERS, type SandboxZoomUser } from '../../local/sandbox-zoom.js';
import type { LocalServer } from '../../local/server.js';
import { useLocalService } from '../integration/helpers/local-service.js';

/**
 * The connect flow in a real browser: Debian's Chromium, headless, driven by playwright-core, against local mode
 * started in this process. A person's path through the pages: the demo page, "Connect Zoom", the sandbox Zoom
 * consent page, Allow or Decline, and back; a Zoom Marketplace install's landing; then every other control on the
 * demo page, clicked (switch user, to a usable id and to one it refuses, mark unhealthy, run the health sync,
 * simulate a revoke with and without data retention, disconnect), and a form another site aims at the demo,
 * refused, with the refusal page's way back. It proves what fetch-based tests cannot: that Chromium keeps and sends
 * the Secure browser-binding cookie over http://localhost, that the CSP's style hash matches what is served (the
 * styles apply, nothing is refused), and that every page works with JavaScript off.
 *
 * Skipped only when no Chromium binary is found (`CHROMIUM_PATH`, or `chromium` / `chromium-browser` on PATH);
 * CI installs Debian's `chromium` (.ci/run). Screenshots of each step go to test-results/e2e/ (git-ignored).
 */

function findChromium(): string | undefined {
  const onPath = ['chromium', 'chromium-browser'].flatMap((name) =>
    (process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((dir) => join(dir, name)),
  );
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', ...onPath].find(
    (candidate): candidate is string => Boolean(candidate) && existsSync(candidate as string),
  );
}

const chromiumPath = findChromium();
const SCREENSHOTS = fileURLToPath(new URL('../../test-results/e2e/', import.meta.url));
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
/** The blue of the buttons in the pages' one stylesheet: seen computed only if the CSP hash let the style apply. */
const BUTTON_BLUE = 'rgb(11, 92, 173)';
const STRICT_CSP =
  /^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]{43}='; img-src 'none'; form-action 'self'(?: http:\/\/localhost:\d+)*; base-uri 'none'; frame-ancestors 'none'$/;

const [ADA, GRACE, ALAN] = SANDBOX_ZOOM_USERS as [SandboxZoomUser, SandboxZoomUser, SandboxZoomUser];

/** One tab, with everything it reported that a clean page never does. */
interface Tab {
  page: Page;
  /** Console errors and warnings (CSP violations are console errors in Chromium) and uncaught page errors. */
  problems: { url: string; text: string }[];
  /** The main frame's document responses, redirects included, in order. */
  documents: Response[];
}

/**
 * Chromium logs every 4xx document as "Failed to load resource"; for the error pages the test opens on purpose
 * that is expected, so those URLs are registered with `expectErrorPage`.
 */
const intendedErrorPages = new Map<string, number>();
const LOAD_FAILURE = /^error: Failed to load resource: the server responded with a status of (\d{3})\b/;

function expectErrorPage(response: Response | null | undefined, status: number): void {
  expect(response?.status()).toBe(status);
  intendedErrorPages.set((response as Response).url(), status);
}

function unexpectedProblems(tab: Tab): string[] {
  return tab.problems
    .filter(({ url, text }) => Number(LOAD_FAILURE.exec(text)?.[1]) !== intendedErrorPages.get(url))
    .map(({ url, text }) => `${url}: ${text}`);
}

async function openTab(context: BrowserContext): Promise<Tab> {
  const page = await context.newPage();
  const tab: Tab = { page, problems: [], documents: [] };
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      tab.problems.push({ url: message.location().url || page.url(), text: `${message.type()}: ${message.text()}` });
    }
  });
  page.on('pageerror', (error) => tab.problems.push({ url: page.url(), text: `pageerror: ${error.message}` }));
  page.on('response', (response) => {
    if (response.request().isNavigationRequest() && response.frame() === page.mainFrame()) tab.documents.push(response);
  });
  return tab;
}

let shot = 0;
async function screenshot(page: Page, name: string): Promise<void> {
  shot += 1;
  await page.screenshot({ path: join(SCREENSHOTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true });
}

/**
 * The page now shown carries the strict CSP, the hash in it is the SHA-256 of the `<style>` text served, and it
 * has the basic structure of an accessible page: a language, a title, one h1, a main landmark, and a name for
 * every control.
 */
async function expectStrictAccessiblePage(tab: Tab, response: Response | null): Promise<void> {
  expect(response, 'the page was not loaded by a navigation').not.toBeNull();
  const served = response as Response;
  const csp = (await served.allHeaders())['content-security-policy'] ?? '';
  expect(csp, served.url()).toMatch(STRICT_CSP);
  const style = /<style>([\s\S]*?)<\/style>/.exec(await served.text())?.[1];
  expect(style, 'the page has no inline stylesheet').toBeDefined();
  expect(csp).toContain(`'sha256-${createHash('sha256').update(style as string).digest('base64')}'`);
  expect((await served.allHeaders())['x-content-type-options']).toBe('nosniff');
  await expectAccessibleBasics(tab.page);
}

async function expectAccessibleBasics(page: Page): Promise<void> {
  expect(await page.locator('html').getAttribute('lang')).toBe('en');
  expect(await page.title()).not.toBe('');
  expect(await page.locator('h1').count()).toBe(1);
  expect(await page.getByRole('main').count()).toBe(1);
  // Every visible control has an accessible name (a label, or the button's own text).
  const controls = page.locator('main :is(input:not([type=hidden]), select, textarea, button)');
  for (const control of await controls.all()) {
    expect(await control.ariaSnapshot(), await control.evaluate((element) => element.outerHTML)).toMatch(
      /^- (textbox|radio|checkbox|button|combobox) "[^"]+"/,
    );
  }
}

/**
 * A computed style, read in the page (by the browser's DevTools protocol: it works with the page's JavaScript off).
 * Written without DOM globals, which this project's TypeScript (lib ES2023, no DOM) does not declare.
 */
const computedStyle = (target: Locator, property: 'backgroundColor' | 'outlineStyle' | 'fontSize'): Promise<string> =>
  target.evaluate((element, name) => element.ownerDocument.defaultView?.getComputedStyle(element)[name] ?? '', property);

const isFocused = (target: Locator): Promise<boolean> =>
  target.evaluate((element) => element === element.ownerDocument.activeElement);

/** The styles applied, which happens only if Chromium accepted the stylesheet's hash. */
async function expectStyled(control: Locator): Promise<void> {
  expect(await computedStyle(control, 'backgroundColor')).toBe(BUTTON_BLUE);
}

/** A definition on the demo page's connection details, by its term. */
const detail = (page: Page, term: string) => page.locator(`main dt:text-is("${term}") + dd`).innerText();

async function connectionOf(server: LocalServer, userId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/connections/${encodeURIComponent(userId)}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The outcome message as the page shows it: in a status region, or an alert for errors. */
async function expectOutcome(page: Page, message: OutcomeMessage, reason?: string): Promise<void> {
  const region = page.getByRole(message.tone === 'error' ? 'alert' : 'status');
  expect(await region.count()).toBe(1);
  const text = await region.innerText();
  expect(text).toContain(message.what);
  expect(text).toContain(message.next);
  if (reason) expect(text).toContain(reason);
  expect(await page.title()).toContain(message.title);
}

// Each step is a few seconds; the budget leaves room for a loaded 2-core CI machine.
describe.skipIf(!chromiumPath)('the connect flow in Chromium (headless, local mode)', { timeout: 30_000 }, () => {
  const { server } = useLocalService({
    // Spelled out: this file asserts the conflict path, whatever SANDBOX_RECALL_* the shell has.
    sandboxRecall: { appKind: 'user_level', conflictMode: 'conflict', spendCodeOnConflict: false },
  });
  let browser: Browser;
  /** JavaScript on, and a second browser profile with it off: each has its own cookies. */
  let scripted: BrowserContext;
  let scriptless: BrowserContext;
  const tabs: Tab[] = [];
  const tab = async (context: BrowserContext) => {
    const opened = await openTab(context);
    tabs.push(opened);
    return opened;
  };
  const suffix = Date.now().toString(36);
  const firstUser = `e2e-first-${suffix}`;
  const secondUser = `e2e-second-${suffix}`;
  const decliningUser = `e2e-declines-${suffix}`;
  const lifecycleUser = `e2e-lifecycle-${suffix}`;

  beforeAll(async () => {
    rmSync(SCREENSHOTS, { recursive: true, force: true });
    mkdirSync(SCREENSHOTS, { recursive: true });
    // playwright-core gives every launch a fresh, temporary user-data dir, removed on close.
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
    scripted = await browser.newContext({ javaScriptEnabled: true });
    scriptless = await browser.newContext({ javaScriptEnabled: false });
    for (const context of [scripted, scriptless]) context.setDefaultTimeout(10_000);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('notices a CSP violation when a page has one (so the clean pages below mean something)', async () => {
    // Prepare: a page whose inline style is not the hashed one
    const { page, problems } = await openTab(scripted);
    const url = `${server.url}/__e2e-canary`;
    await page.route(url, (route) =>
      route.fulfill({
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'; style-src 'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='",
        },
        body: '<!doctype html><html lang="en"><title>canary</title><style>body{color:red}</style><main><h1>x</h1></main>',
      }),
    );

    // Act
    await page.goto(url);
    await page.waitForTimeout(100);

    // Assess
    expect(problems.map(({ text }) => text).join('\n')).toMatch(/Content Security Policy/);
    await page.close();
  });

  it('connects: demo page → "Connect Zoom" → sandbox consent as Ada → Allow → back, connected', async () => {
    // Act: the demo page
    const t = await tab(scripted);
    const { page } = t;
    const demo = await page.goto(`${server.url}/?user=${firstUser}`);

    // Assess: a strict, styled, accessible page, with a visible focus ring on the keyboard's first stop
    expect(demo?.status()).toBe(200);
    await expectStrictAccessiblePage(t, demo);
    const connect = page.getByRole('link', { name: 'Connect Zoom' });
    await expectStyled(connect);
    await page.keyboard.press('Tab');
    expect(await isFocused(connect)).toBe(true);
    expect(await computedStyle(connect, 'outlineStyle')).toBe('solid');
    expect(await page.getByText('Not connected yet.').isVisible()).toBe(true);
    await screenshot(page, 'demo-page-not-connected');

    // Act: "Connect Zoom" → authorize → the sandbox Zoom consent page
    await connect.click();
    await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));

    // Assess: Chromium kept the Secure, HttpOnly binding cookie for the callback over http://localhost
    const binding = await scripted.cookies(server.settings.zoomRedirectUri);
    expect(binding).toHaveLength(1);
    // On the path authorize and the callback share (authorize keeps a browser's binding cookies to 3)
    expect(binding[0]).toMatchObject({ path: '/zoom', secure: true, httpOnly: true, sameSite: 'Lax' });
    expect(binding[0]?.name).toMatch(/^zc_/);
    const consent = t.documents.at(-1) ?? null;
    expect(consent?.status()).toBe(200);
    await expectStrictAccessiblePage(t, consent);
    await expectStyled(page.getByRole('button', { name: 'Allow' }));
    await page.getByRole('radio', { name: new RegExp(ADA.name) }).check();
    await screenshot(page, 'zoom-consent-ada');

    // Act: Allow
    const callbackRequest = page.waitForRequest((request) => request.url().startsWith(`${server.settings.zoomRedirectUri}?`));
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/' && url.searchParams.has('zoom_connect'));

    // Assess: the callback got the binding cookie, then cleared it; the page says connected and shows the ids
    expect((await (await callbackRequest).allHeaders()).cookie).toContain(`${binding[0]?.name}=`);
    expect(await scripted.cookies(server.settings.zoomRedirectUri)).toHaveLength(0);
    expect(new URL(page.url()).searchParams.get('zoom_connect')).toBe('connected');
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    await expectOutcome(page, CONNECT_OUTCOME_MESSAGES.connected);
    expect(await detail(page, 'Status')).toBe('connected');
    expect(await detail(page, 'Zoom user id')).toBe(ADA.userId);
    const shownAccount = await detail(page, 'Zoom account id');
    const shownCredential = await detail(page, 'Recall credential id');
    await screenshot(page, 'demo-page-connected');

    // Assess: what the page shows is what the connections API and Recall hold (a user-level app's credential
    // names the Zoom user; the account is shown when the record has it)
    const { status, body } = await connectionOf(server, firstUser);
    expect(status).toBe(200);
    expect(body).toMatchObject({ userId: firstUser, status: 'connected', recallCredentialId: shownCredential, zoomUserId: ADA.userId });
    expect(shownAccount).toBe(body.zoomAccountId ?? NOT_RECORDED);
    expect([ADA.accountId, NOT_RECORDED]).toContain(shownAccount);
    expect(server.sandboxRecall.credentialsFor({ userId: ADA.userId }).map((credential) => credential.id)).toEqual([
      shownCredential,
    ]);
  });

  it('connects a second user of the same Zoom user with JavaScript off; both then share one credential', async () => {
    // Prepare: the first user's credential, made moments ago
    const [firstCredential] = server.sandboxRecall.credentialsFor({ userId: ADA.userId });
    const requestsBefore = server.sandboxRecall.state.requests.length;
    const t = await tab(scriptless);
    const { page } = t;

    // Act: the whole flow in a browser profile without JavaScript
    const demo = await page.goto(`${server.url}/?user=${secondUser}`);
    await expectStrictAccessiblePage(t, demo);
    await expectStyled(page.getByRole('link', { name: 'Connect Zoom' }));
    await screenshot(page, 'nojs-demo-page-second-user');
    await page.getByRole('link', { name: 'Connect Zoom' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    await page.getByRole('radio', { name: new RegExp(ADA.name) }).check();
    await screenshot(page, 'nojs-zoom-consent-ada-again');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/' && url.searchParams.has('zoom_connect'));

    // Assess: connected, through the conflict path (Recall refused the second create for the same Zoom user), which
    // finds the credential the first user's record names (a retrieve, no list) and, made moments ago, adopts it
    expect(new URL(page.url()).searchParams.get('zoom_connect')).toBe('connected');
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    await expectOutcome(page, CONNECT_OUTCOME_MESSAGES.connected);
    const calls = server.sandboxRecall.state.requests.slice(requestsBefore);
    expect(calls.map((request) => `${request.operation} ${request.status}`)).toEqual(['create 400', 'retrieve 200']);
    const secondCredential = await detail(page, 'Recall credential id');
    expect(secondCredential).toBe(firstCredential?.id);
    expect(await detail(page, 'Zoom user id')).toBe(ADA.userId);
    await screenshot(page, 'nojs-demo-page-second-user-connected');

    // Assess: the first user's page (in the other browser profile) shows the same credential; Recall holds one
    const first = await tab(scripted);
    await first.page.goto(`${server.url}/?user=${firstUser}`);
    expect(await detail(first.page, 'Recall credential id')).toBe(secondCredential);
    expect(await detail(first.page, 'Status')).toBe('connected');
    await screenshot(first.page, 'demo-page-first-user-shares-credential');
    const live = server.sandboxRecall.credentialsFor({ userId: ADA.userId });
    expect(live.map((credential) => credential.id)).toEqual([secondCredential]);
    for (const userId of [firstUser, secondUser]) {
      expect((await connectionOf(server, userId)).body).toMatchObject({ status: 'connected', recallCredentialId: secondCredential });
    }
  });

  it('declines at Zoom: after a missing choice is pointed out, Decline lands on a friendly message', async () => {
    // Prepare
    const credentialsBefore = server.sandboxRecall.state.credentials.size;
    const t = await tab(scripted);
    const { page } = t;
    await page.goto(`${server.url}/?user=${decliningUser}`);
    await page.getByRole('link', { name: 'Connect Zoom' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));

    // Act: "Another Zoom user" without ids, then Allow
    await page.getByRole('radio', { name: /Another Zoom user/ }).check();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForLoadState();

    // Assess: the consent page again, saying what is missing, in an alert
    expectErrorPage(t.documents.at(-1), 400);
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('alert').innerText()).toContain('Choose a Zoom user');
    expect(await page.getByRole('radio', { name: /Another Zoom user/ }).isChecked()).toBe(true);
    await screenshot(page, 'zoom-consent-choice-missing');

    // Act: Decline
    await page.getByRole('radio', { name: new RegExp(ALAN.name) }).check();
    await page.getByRole('button', { name: 'Decline' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === '/' && url.searchParams.has('zoom_connect'));

    // Assess: a friendly message; nothing recorded, nothing created at Recall
    expect(new URL(page.url()).searchParams.get('zoom_connect')).toBe('denied');
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    await expectOutcome(page, CONNECT_OUTCOME_MESSAGES.denied);
    expect(await page.getByText('Not connected yet.').isVisible()).toBe(true);
    await screenshot(page, 'demo-page-declined');
    expect((await connectionOf(server, decliningUser)).status).toBe(404);
    expect(server.sandboxRecall.credentialsFor({ userId: ALAN.userId })).toHaveLength(0);
    expect(server.sandboxRecall.state.credentials.size).toBe(credentialsBefore);
  });

  it('says what happened and what to do next for every documented error reason (JavaScript off)', async () => {
    const t = await tab(scriptless);
    for (const reason of OUTCOME_REASONS) {
      const response = await t.page.goto(`${server.url}/?user=${firstUser}&zoom_connect=error&reason=${reason}`);
      await expectStrictAccessiblePage(t, response);
      await expectOutcome(t.page, CONNECT_ERROR_MESSAGES[reason], reason);
      await screenshot(t.page, `demo-page-error-${reason}`);
    }
    // A reason this page does not know (a newer service) still gets a message, and is never echoed.
    await t.page.goto(`${server.url}/?user=${firstUser}&zoom_connect=error&reason=%3Cb%3Enew%3C%2Fb%3E`);
    await expectOutcome(t.page, UNKNOWN_ERROR_MESSAGE);
    expect(await t.page.getByRole('main').innerText()).not.toMatch(/<b>|\bnew\b/);
  });

  it('lands a Zoom Marketplace install (a code without a state) on the demo page, whose "Connect Zoom" then works', async () => {
    const t = await tab(scriptless);
    const { page } = t;

    // Act: Zoom sends the browser to the callback with a code and no state, as after an install from its Marketplace
    await page.goto(`${server.settings.zoomRedirectUri}?code=marketplace-install-code`);
    await page.waitForURL((url) => url.origin === server.url && url.searchParams.get('zoom_connect') === 'install');

    // Assess: what to do next, on a clean page
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    await expectOutcome(page, CONNECT_OUTCOME_MESSAGES.install);
    await screenshot(page, 'demo-page-install');

    // Act: the control the message names
    await page.getByRole('link', { name: 'Connect Zoom' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));

    // Assess: the consent page, ready to choose a Zoom user
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('button', { name: 'Allow' }).isVisible()).toBe(true);
  });

  it('shows plain error pages under the CSP: the service\'s own (Lambda) and local mode\'s', async () => {
    const t = await tab(scriptless);
    const { page } = t;

    // Act: a callback with a state the service never issued (the Lambda's 400 page)
    const lambdaPage = await page.goto(`${server.settings.zoomRedirectUri}?code=not-a-code&state=${'x'.repeat(43)}`);

    // Assess: a page that says what to do, with a CSP that allows nothing to load or run but its style
    // (functions/handlers/http/http.ts's page and policy, not local mode's)
    expectErrorPage(lambdaPage, 400);
    const lambdaCsp = (await lambdaPage?.allHeaders())?.['content-security-policy'] ?? '';
    expect(lambdaCsp).toContain("default-src 'none'");
    expect(lambdaCsp).toContain("frame-ancestors 'none'");
    const lambdaStyle = /<style>([\s\S]*?)<\/style>/.exec((await lambdaPage?.text()) ?? '')?.[1] ?? '';
    if (lambdaCsp.includes("'sha256-")) {
      expect(lambdaCsp).toContain(`'sha256-${createHash('sha256').update(lambdaStyle).digest('base64')}'`);
    }
    // Its stylesheet applied (the h1 is not at the browser's default 2em): the CSP let it through.
    expect(await computedStyle(page.locator('h1'), 'fontSize')).not.toBe('32px');
    await expectAccessibleBasics(page);
    expect(await page.getByRole('main').innerText()).toMatch(/start again/i);
    await screenshot(page, 'error-page-service-callback');

    // Act: the sandbox Zoom with a redirect URI that is not the registered one
    const zoomError = await page.goto(
      `${server.settings.zoomAuthorizeUrl}?response_type=code&client_id=${server.settings.zoomClientId}` +
        `&redirect_uri=${encodeURIComponent(`${server.settings.zoomRedirectUri}/`)}`,
    );

    // Assess: local mode's error page, strict and styled, with a way back
    expectErrorPage(zoomError, 400);
    await expectStrictAccessiblePage(t, zoomError);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain('invalid redirect');
    expect(await page.getByRole('main').innerText()).toContain('ZOOM_REDIRECT_URI');
    await screenshot(page, 'error-page-sandbox-zoom');
    await page.getByRole('link', { name: 'Back to the demo page' }).click();
    await page.waitForURL(`${server.url}/`);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain('Demo product');
  });

  it('every lifecycle control works when clicked: switch user, mark unhealthy and healthy, health sync, revoke (both ways), disconnect', async () => {
    const t = await tab(scripted);
    const { page } = t;

    /** Clicks a control and waits for the page the redirect after it lands on; that page is served with 200. */
    const click = async (control: Locator, notice: string) => {
      await control.click();
      await page.waitForURL((url) => url.origin === server.url && url.searchParams.get('demo_notice') === notice);
      expect(t.documents.at(-1)?.status()).toBe(200);
      expect(t.documents.at(-2)?.status()).toBe(302);
      await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
      expect(new URL(page.url()).searchParams.get('user')).toBe(lifecycleUser);
    };
    const statusNotice = () => page.getByRole('status').innerText();
    const connectAsGrace = async () => {
      await page.getByRole('link', { name: 'Connect Zoom' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));
      await page.getByRole('radio', { name: new RegExp(GRACE.name) }).check();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.origin === server.url && url.searchParams.get('zoom_connect') === 'connected');
      expect(await detail(page, 'Status')).toBe('connected');
      return detail(page, 'Recall credential id');
    };

    // Act: switch to a user id the demo cannot use
    await page.goto(`${server.url}/`);
    await page.getByRole('textbox', { name: 'Product user id' }).fill('not a user id!');
    await page.getByRole('button', { name: 'Switch user' }).click();
    await page.waitForURL((url) => url.searchParams.get('user') === 'not a user id!');

    // Assess: an alert that says what to type instead, on the default user's page (nothing acted for the bad id)
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('alert').innerText()).toContain('That user id can’t be used here');
    expect(await page.getByRole('main').innerText()).toContain(`signed in to the demo product as ${DEFAULT_DEMO_USER}`);
    expect(await page.getByRole('textbox', { name: 'Product user id' }).inputValue()).toBe(DEFAULT_DEMO_USER);
    await screenshot(page, 'lifecycle-invalid-user');

    // Act: switch user, by typing another product user id
    await page.getByRole('textbox', { name: 'Product user id' }).fill(lifecycleUser);
    await page.getByRole('button', { name: 'Switch user' }).click();
    await page.waitForURL((url) => url.searchParams.get('user') === lifecycleUser);

    // Assess: the page is the new user's, not connected
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('main').innerText()).toContain(`signed in to the demo product as ${lifecycleUser}`);
    expect(await page.getByText('Not connected yet.').isVisible()).toBe(true);
    await screenshot(page, 'lifecycle-switched-user');

    // Act: connect, then mark the credential unhealthy in the sandbox Recall
    const credential = await connectAsGrace();
    await click(page.getByRole('button', { name: 'Mark unhealthy in Recall (sandbox)' }), 'marked_unhealthy');

    // Assess: Recall says unhealthy; the service does not know yet
    expect(await statusNotice()).toContain('now reports this credential unhealthy');
    expect(await page.getByRole('main').innerText()).toContain('In the sandbox Recall, this credential is unhealthy.');
    expect(await detail(page, 'Status')).toBe('connected');
    expect(server.sandboxRecall.state.credentials.get(credential)?.status).toBe('unhealthy');
    await screenshot(page, 'lifecycle-marked-unhealthy');

    // Act: run the health sync now
    await click(page.getByRole('button', { name: 'Run health sync now' }), 'health_sync_done');

    // Assess: the service noticed; the page says what to do
    expect(await statusNotice()).toContain('The health sync ran');
    expect(await detail(page, 'Status')).toBe('unhealthy');
    expect(await page.getByRole('main').innerText()).toContain('Needs reconnecting.');
    expect((await connectionOf(server, lifecycleUser)).body).toMatchObject({ status: 'unhealthy' });
    await screenshot(page, 'lifecycle-health-sync-unhealthy');

    // Act: Recall reports the credential healthy again, and the health sync notices
    await click(page.getByRole('button', { name: 'Mark healthy in Recall (sandbox)' }), 'marked_healthy');
    expect(await statusNotice()).toContain('now reports this credential healthy');
    expect(await detail(page, 'Status')).toBe('unhealthy');
    await click(page.getByRole('button', { name: 'Run health sync now' }), 'health_sync_done');

    // Assess: connected again, on the same credential
    expect(await detail(page, 'Status')).toBe('connected');
    expect(await detail(page, 'Recall credential id')).toBe(credential);
    await screenshot(page, 'lifecycle-healthy-again');

    // Act: simulate a revoke in Zoom without data retention
    await click(page.getByRole('button', { name: 'Simulate revoke in Zoom (sandbox)' }), 'revoke_sent');

    // Assess: revoked, the Recall credential deleted, the Zoom ids erased (Zoom asked the app to delete its data)
    expect(await statusNotice()).toContain('app deauthorized');
    expect(await detail(page, 'Status')).toBe('revoked');
    expect(await page.getByRole('main').innerText()).toContain('Removed in Zoom.');
    expect(await detail(page, 'Zoom user id')).toBe(NOT_RECORDED);
    expect(server.sandboxRecall.state.credentials.has(credential)).toBe(false);
    await screenshot(page, 'lifecycle-revoked-without-retention');

    // Act: connect again, then simulate a revoke in which the Zoom user lets the app keep their data
    const second = await connectAsGrace();
    expect(second).not.toBe(credential);
    await page.getByRole('checkbox', { name: /keep their data/ }).check();
    await click(page.getByRole('button', { name: 'Simulate revoke in Zoom (sandbox)' }), 'revoke_sent');

    // Assess: revoked, but the Zoom ids are kept
    expect(await detail(page, 'Status')).toBe('revoked');
    expect(await detail(page, 'Zoom user id')).toBe(GRACE.userId);
    expect(server.sandboxRecall.state.credentials.has(second)).toBe(false);
    await screenshot(page, 'lifecycle-revoked-with-retention');

    // Act: connect once more, as a Zoom user typed into the consent page's own fields, then disconnect
    const typed = { accountId: `acct-e2e-${suffix}`, userId: `user-e2e-${suffix}` };
    await page.getByRole('link', { name: 'Connect Zoom' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${server.settings.zoomAuthorizeUrl}?`));
    await page.getByRole('radio', { name: /Another Zoom user/ }).check();
    await page.getByRole('textbox', { name: 'Zoom account id' }).fill(typed.accountId);
    await page.getByRole('textbox', { name: 'Zoom user id' }).fill(typed.userId);
    await screenshot(page, 'zoom-consent-typed-user');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.origin === server.url && url.searchParams.get('zoom_connect') === 'connected');
    expect(await detail(page, 'Zoom user id')).toBe(typed.userId);
    const third = await detail(page, 'Recall credential id');
    await click(page.getByRole('button', { name: 'Disconnect Zoom' }), 'disconnected');

    // Assess: disconnected, the credential deleted at Recall, no Disconnect button any more
    expect(await statusNotice()).toContain('Zoom is disconnected.');
    expect(await detail(page, 'Status')).toBe('disconnected');
    expect(await page.getByRole('button', { name: 'Disconnect Zoom' }).count()).toBe(0);
    expect(server.sandboxRecall.state.credentials.has(third)).toBe(false);
    expect((await connectionOf(server, lifecycleUser)).body).toMatchObject({ status: 'disconnected' });
    await screenshot(page, 'lifecycle-disconnected');
    // Some twenty page loads: more room than the other steps get, for a loaded CI machine.
  }, 90_000);

  it('refuses a form another site submits to the demo (Chromium marks it cross-site), changing nothing', async () => {
    // Prepare: a page on another origin (127.0.0.1 is another site than localhost) with a form aimed at the demo
    const t = await tab(scriptless);
    const { page } = t;
    const evil = `http://127.0.0.1:${server.port}/__e2e-other-site`;
    await page.route(evil, (route) =>
      route.fulfill({
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body:
          '<!doctype html><html lang="en"><title>other site</title><main><h1>Win a prize</h1>' +
          `<form method="post" action="${server.url}/demo/disconnect"><input type="hidden" name="user" value="${firstUser}">` +
          '<button type="submit">Claim</button></form></main></html>',
      }),
    );
    await page.goto(evil);

    // Act
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.waitForURL(`${server.url}/demo/disconnect`);

    // Assess: the refusal page, and the first user still connected
    expectErrorPage(t.documents.at(-1), 403);
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe('Cross-site request refused');
    await screenshot(page, 'cross-site-form-refused');
    expect((await connectionOf(server, firstUser)).body).toMatchObject({ status: 'connected' });

    // Act: the refusal page's way back
    await page.getByRole('link', { name: 'Back to the demo page' }).click();
    await page.waitForURL(`${server.url}/`);

    // Assess: the demo page itself, strict and clean
    await expectStrictAccessiblePage(t, t.documents.at(-1) ?? null);
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toContain('Demo product');
  });

  it('reported no console error, CSP violation or page error on any page', () => {
    expect(tabs.flatMap(unexpectedProblems)).toEqual([]);
    expect(tabs.length).toBeGreaterThanOrEqual(6);
  });
});
