import { randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { FRESH_CREDENTIAL_MS } from '../../../functions/connect/credential-exchange.js';
import { signConnectToken } from '../../../functions/connect/connect-token.js';
import type { LocalServer } from '../../../local/server.js';
import { type Hop, TestBrowser } from './browser.js';

/** A sandbox Zoom user by key, or any Zoom identity typed into the consent page's free-text fields. */
export type ZoomChoice = 'ada' | 'grace' | 'alan' | { accountId: string; userId: string };

/** A Zoom identity no other test uses, so tests sharing one server cannot collide. */
export function uniqueIdentity(tag: string): { accountId: string; userId: string } {
  const suffix = randomBytes(4).toString('hex');
  return { accountId: `acct-${tag}-${suffix}`, userId: `user-${tag}-${suffix}` };
}

export const uniqueUser = (tag: string): string => `${tag}-${randomBytes(4).toString('hex')}`;

/** A first and a second product user no other test uses. */
export const twoUsers = (): [string, string] => [uniqueUser('first'), uniqueUser('second')];

const decodeEntities = (text: string) =>
  text.replace(/&(amp|lt|gt|quot|#39);/g, (_, entity: string) =>
    ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[entity] ?? '',
  );

/** Reads the consent page's form the way a browser would submit it. */
export function parseConsentForm(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="post" action="([^"]+)">/.exec(html)?.[1];
  if (!action) throw new Error('The consent page has no POST form.');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    fields[decodeEntities(match[1] as string)] = decodeEntities(match[2] as string);
  }
  return { action: decodeEntities(action), fields };
}

/**
 * At the sandbox Zoom consent page: loads it as HTML and submits the form with an identity and a decision.
 * @returns where sandbox Zoom redirects the browser (the service's callback URL)
 */
export async function answerAtZoom(
  browser: TestBrowser,
  consentUrl: string,
  choice: ZoomChoice,
  decision: 'allow' | 'decline' = 'allow',
): Promise<string> {
  const page = await browser.request(consentUrl);
  const html = await page.text();
  expect(page.status, html).toBe(200);
  const { action, fields } = parseConsentForm(html);
  const identity: Record<string, string> =
    typeof choice === 'string'
      ? { identity: choice }
      : { identity: 'custom', custom_account_id: choice.accountId, custom_user_id: choice.userId };
  const submitted = await browser.request(new URL(action, consentUrl).href, {
    form: { ...fields, ...identity, decision },
  });
  expect(submitted.status).toBe(302);
  return new URL(submitted.headers.get('location') as string, consentUrl).href;
}

export interface FlowResult {
  /** Where the service finally sent the browser outside itself (the return URL), if it did. */
  finalUrl: URL | undefined;
  /** The last response when the chain ended on a page instead (an error page). */
  finalResponse: Response | undefined;
  hops: Hop[];
  /** Every callback URL the browser was sent to (with code and state: test-only, never logged). */
  callbackUrls: string[];
  consents: number;
}

/**
 * Drives the browser from `startUrl` (a demo connect URL or a connect link) through authorize, the sandbox Zoom
 * consent page (again if the service sends the user back to Zoom) and the callback, stopping at the first URL
 * outside the service: the return URL.
 */
export async function runConnectFlow(
  server: LocalServer,
  browser: TestBrowser,
  startUrl: string,
  choice: ZoomChoice,
  decision: 'allow' | 'decline' = 'allow',
): Promise<FlowResult> {
  const zoomPrefix = `${server.settings.zoomAuthorizeUrl}?`;
  const apiOrigin = server.settings.apiBaseUrl;
  const servicePaths = new Set(['/demo/connect', '/zoom/authorize', '/zoom/callback']);
  const result: FlowResult = { finalUrl: undefined, finalResponse: undefined, hops: [], callbackUrls: [], consents: 0 };
  let url = startUrl;
  for (let step = 0; step < 12; step++) {
    if (url.startsWith(zoomPrefix)) {
      expect(result.consents, 'sent to Zoom more than twice').toBeLessThan(2);
      url = await answerAtZoom(browser, url, choice, decision);
      result.callbackUrls.push(url);
      result.consents++;
      continue;
    }
    const target = new URL(url);
    const isService =
      (target.origin === apiOrigin || target.origin === server.url) && servicePaths.has(target.pathname);
    if (!isService) {
      result.finalUrl = target;
      return result;
    }
    const response = await browser.request(url);
    const location = response.headers.get('location');
    result.hops.push({ url, status: response.status, location: location ?? undefined });
    if (response.status !== 302 || !location) {
      result.finalResponse = response;
      return result;
    }
    url = new URL(location, url).href;
  }
  throw new Error('The connect flow did not end.');
}

/**
 * Connects `userId` through the demo page's "Connect Zoom" link and expects `zoom_connect=connected`.
 * @returns the flow, for further assertions
 */
export async function connectThroughDemo(
  server: LocalServer,
  userId: string,
  choice: ZoomChoice,
  browser = new TestBrowser(),
): Promise<FlowResult> {
  const flow = await runConnectFlow(server, browser, `${server.url}/demo/connect?user=${encodeURIComponent(userId)}`, choice);
  expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
  return flow;
}

/**
 * Connects `userId` through the demo page and checks the product backend's view says `connected`.
 * @returns the Recall credential the connection ended on
 */
export async function connectedCredential(server: LocalServer, userId: string, choice: ZoomChoice): Promise<string> {
  await connectThroughDemo(server, userId, choice);
  const { connection } = await getConnection(server, userId);
  expect(connection?.status).toBe('connected');
  return connection?.recallCredentialId as string;
}

/**
 * Switches the sandbox Recall to an account-level app and connects two product users through two Zoom users of one
 * account, so that one credential serves both.
 * @returns the account, the users and the credential the second connect ended on
 */
export async function connectAccountPair(
  server: LocalServer,
  tag: string,
): Promise<{ account: string; first: string; second: string; credential: string }> {
  server.sandboxRecall.configure({ appKind: 'account_level' });
  const account = uniqueIdentity(tag).accountId;
  const [first, second] = twoUsers();
  await connectedCredential(server, first, { accountId: account, userId: 'zoom-user-one' });
  const credential = await connectedCredential(server, second, { accountId: account, userId: 'zoom-user-two' });
  return { account, first, second, credential };
}

/** A flow's hops without query strings (they carry codes and states), for assertion messages. */
export function describeFlow(flow: FlowResult): string {
  return flow.hops.map((hop) => `${hop.status} ${hop.url.split('?')[0]}`).join(' → ');
}

export interface ConnectionView {
  userId: string;
  status: string;
  recallCredentialId: string;
  zoomAccountId: string | null;
  zoomUserId: string | null;
}

/** `GET /connections/{userId}` over HTTP. */
export async function getConnection(
  server: LocalServer,
  userId: string,
): Promise<{ status: number; connection: ConnectionView | undefined }> {
  const response = await fetch(`${server.url}/connections/${encodeURIComponent(userId)}`);
  const body = (await response.json()) as unknown;
  return { status: response.status, connection: response.status === 200 ? (body as ConnectionView) : undefined };
}

/** A connect URL for this server, as the product backend would mint it. */
export async function connectUrl(
  server: LocalServer,
  token: { userId: string; returnTo?: string; signingKey?: string; ttlSeconds?: number },
): Promise<string> {
  const jwt = await signConnectToken(
    { userId: token.userId, returnTo: token.returnTo ?? `${server.url}/?user=${encodeURIComponent(token.userId)}` },
    token.signingKey ?? server.settings.connectSigningKey,
    token.ttlSeconds,
  );
  return `${server.settings.apiBaseUrl}/zoom/authorize?connect_token=${encodeURIComponent(jwt)}`;
}

/**
 * Makes the credentials of one Zoom identity look made long ago (ten adopt windows), so that a conflict on them
 * deletes and recreates instead of adopting a credential another callback may have made moments ago
 * (`FRESH_CREDENTIAL_MS`).
 * @returns how many credentials were aged
 */
export function ageCredentials(server: LocalServer, identity: { userId?: string; accountId?: string }): number {
  const longAgo = new Date(Date.now() - 10 * FRESH_CREDENTIAL_MS).toISOString();
  const credentials = server.sandboxRecall.credentialsFor(identity);
  for (const credential of credentials) credential.created_at = longAgo;
  return credentials.length;
}
