import type { LocalServer } from '../../../local/server.js';
import { TestBrowser } from './browser.js';
import { answerAtZoom, describeFlow, type FlowResult, runConnectFlow, type ZoomChoice } from './connect-flow.js';

/**
 * One browser stopped at the moment Zoom sends it back: its attempt's binding cookie is in its jar and the callback
 * URL (code and state) is in hand, not yet requested. Race and crash tests fire it when they choose.
 */
export interface PendingCallback {
  userId: string;
  choice: ZoomChoice;
  browser: TestBrowser;
  /** The service's callback URL with Zoom's code and state (test-only: never logged). */
  callbackUrl: string;
}

/**
 * Drives a browser from the demo page's "Connect Zoom" link through authorize and the sandbox Zoom consent page,
 * and stops before the callback.
 */
export async function reachCallback(
  server: LocalServer,
  userId: string,
  choice: ZoomChoice,
  browser = new TestBrowser(),
): Promise<PendingCallback> {
  const zoomPrefix = `${server.settings.zoomAuthorizeUrl}?`;
  let atZoom: string | undefined;
  await browser.navigate(`${server.url}/demo/connect?user=${encodeURIComponent(userId)}`, (next) => {
    if (next.startsWith(zoomPrefix)) atZoom = next;
    return atZoom !== undefined;
  });
  if (!atZoom) throw new Error(`The connect link for ${userId} did not lead to the Zoom consent page.`);
  return { userId, choice, browser, callbackUrl: await answerAtZoom(browser, atZoom, choice) };
}

/** How one fired callback ended, once the user finished whatever it asked of them. */
export interface FinishedCallback {
  userId: string;
  /** Wall time of the callback request itself. */
  callbackMs: number;
  /** The callback sent the user back to Zoom for a fresh code (and the test answered, as the user would). */
  reauthorized: boolean;
  /** `zoom_connect` on the return URL the user finally landed on, with `:<reason>` for an error. */
  outcome: string;
  /** The redirect chain after a re-authorization, for messages. */
  flow: FlowResult | undefined;
}

/**
 * Requests the callback; when it sends the user back to Zoom, consents again (the same identity) and follows the
 * flow to the return URL, as a real user would.
 */
export async function fireCallback(server: LocalServer, pending: PendingCallback): Promise<FinishedCallback> {
  const started = performance.now();
  const response = await pending.browser.request(pending.callbackUrl);
  const callbackMs = performance.now() - started;
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) {
    throw new Error(`The callback of ${pending.userId} answered ${response.status}: ${await response.text()}`);
  }
  await response.body?.cancel();
  const next = new URL(location, pending.callbackUrl).href;
  if (!next.startsWith(`${server.settings.zoomAuthorizeUrl}?`)) {
    return { userId: pending.userId, callbackMs, reauthorized: false, outcome: outcomeOf(next), flow: undefined };
  }
  const flow = await runConnectFlow(server, pending.browser, next, pending.choice);
  return {
    userId: pending.userId,
    callbackMs,
    reauthorized: true,
    outcome: flow.finalUrl ? outcomeOf(flow.finalUrl.href) : `no return URL (${describeFlow(flow)})`,
    flow,
  };
}

function outcomeOf(url: string): string {
  const query = new URL(url).searchParams;
  const reason = query.get('reason');
  return `${query.get('zoom_connect') ?? 'none'}${reason ? `:${reason}` : ''}`;
}
