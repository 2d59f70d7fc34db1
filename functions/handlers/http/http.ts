import { createHash } from 'node:crypto';
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { count } from '../../adapters/metrics.js';
import { WebhookRejectedError } from '../../adapters/zoom-webhook-refusals.js';
import { RequestError } from '../../core/errors.js';
import { logger, logMisconfiguration } from '../../core/logger.js';

export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Every response: nothing cached (URLs and cookies are single-use), no Referer leaking a code or state. */
const BASE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
} as const;

/**
 * The error pages' one stylesheet. The pages run no script, load nothing and submit nothing; the CSP allows this
 * exact stylesheet by its SHA-256 (computed once, at init) instead of 'unsafe-inline'. Colours meet WCAG AA.
 */
const PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}' +
  'h1{font-size:1.4rem;line-height:1.25}';

export const PAGE_CSP = [
  "default-src 'none'",
  `style-src 'sha256-${createHash('sha256').update(PAGE_STYLE, 'utf8').digest('base64')}'`,
  "img-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** What a user can do after each kind of error page: every page says what happened, then this. */
const NEXT_STEPS: Record<number, string> = {
  400: 'Go back to the app you came from and choose “Connect Zoom” again, in this browser.',
  500: 'Please try again in a few minutes. If it keeps happening, contact the app’s support.',
  503: 'Please try again later. If it keeps happening, contact the app’s support.',
};
const DEFAULT_NEXT_STEP = 'Go back to the app you came from and start again there.';

export function redirect(location: string, cookies: string[] = []): HttpResult {
  return { statusCode: 302, headers: { ...BASE_HEADERS, location }, cookies, body: '' };
}

export function json(statusCode: number, body: unknown): HttpResult {
  return {
    statusCode,
    headers: { ...BASE_HEADERS, 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  };
}

/**
 * A small, self-contained page for when there is no trustworthy return URL to send the user to: what happened
 * (`message`, safe to show) and what to do next.
 */
export function htmlPage(
  statusCode: number,
  title: string,
  message: string,
  cookies: string[] = [],
  next: string = NEXT_STEPS[statusCode] ?? DEFAULT_NEXT_STEP,
): HttpResult {
  const body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${PAGE_STYLE}</style>
</head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p><p>${escapeHtml(next)}</p></main></body></html>`;
  return {
    statusCode,
    headers: { ...BASE_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP },
    cookies,
    body,
  };
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const TITLES: Record<number, string> = {
  400: 'This link cannot be used',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
};

/**
 * How errors are answered: pages for the browser routes, JSON for the product backend's API, and JSON for Zoom's
 * webhook, whose unset Secret Token names itself (ops can tell it from an outage) and whose other failures are a
 * generic 500 that makes Zoom retry.
 */
export type ErrorFormat = 'html' | 'json' | 'webhook';

const NOT_CONFIGURED: Record<ErrorFormat, () => HttpResult> = {
  html: () => htmlPage(503, 'Not available yet', 'This service is not configured yet. Please try again later.'),
  json: () => json(503, { error: 'The service is not configured yet.' }),
  webhook: () => json(503, { error: 'The webhook is not configured yet.' }),
};

const FAILED: Record<ErrorFormat, { log: string; answer: () => HttpResult }> = {
  html: {
    log: 'Request failed',
    answer: () => htmlPage(500, 'Something went wrong', 'Something went wrong on our side. Please try again in a few minutes.'),
  },
  json: { log: 'Request failed', answer: () => json(500, { error: 'internal error' }) },
  webhook: { log: 'Zoom webhook failed', answer: () => json(500, { error: 'internal error' }) },
};

/**
 * The one place errors become HTTP, for every HTTP function. A refusal (`RequestError`, or the webhook's
 * `WebhookRejectedError`) is a 4xx whose message is safe to show. A misconfiguration (a secret unreadable or not
 * filled in) is the one `Service misconfigured` log line naming the secret and its fields and a 503 that says the
 * service is not configured yet: it is not an outage, and not a crash either. Anything else is logged in full and
 * answered with a generic 500 that reveals nothing.
 * @param format - pages for browser routes, JSON for the product backend's API and for Zoom's webhook
 * @param options.onFailure - told of every 5xx answered, and why (the connect steps count it as a failed attempt)
 */
export function httpErrors(
  format: ErrorFormat,
  options: { onFailure?: (reason: 'misconfigured' | 'internal') => void } = {},
): MiddlewareObj<APIGatewayProxyEventV2, HttpResult> {
  return {
    onError: async (request) => {
      const { error } = request;
      if (error instanceof WebhookRejectedError) {
        if (error.statusCode === 401) count('WebhookRejected');
        logger.warn('Zoom webhook refused', { status: error.statusCode, problem: error.problem });
        request.response = json(error.statusCode, { error: error.message });
        return;
      }
      if (logMisconfiguration(error)) {
        options.onFailure?.('misconfigured');
        request.response = NOT_CONFIGURED[format]();
        return;
      }
      if (error instanceof RequestError) {
        logger.info('Request refused', { status: error.statusCode, error: error.name, problem: problemOf(error) });
        request.response =
          format === 'html'
            ? htmlPage(error.statusCode, TITLES[error.statusCode] ?? 'Request refused', error.message)
            : json(error.statusCode, { error: error.message });
        return;
      }
      logger.error(FAILED[format].log, { error });
      options.onFailure?.('internal');
      request.response = FAILED[format].answer();
    },
  };
}

function problemOf(error: RequestError): string | undefined {
  return 'problem' in error && typeof error.problem === 'string' ? error.problem : undefined;
}
