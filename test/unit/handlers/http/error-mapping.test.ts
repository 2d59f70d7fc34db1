import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Request } from '@middy/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebhookRejectedError } from '../../../../functions/adapters/zoom-webhook.js';
import { MisconfiguredError, RequestError } from '../../../../functions/core/errors.js';
import { logger } from '../../../../functions/core/logger.js';
import { type ErrorFormat, type HttpResult, httpErrors } from '../../../../functions/handlers/http/http.js';
import { context } from '../../../helpers/context.js';

/** What `httpErrors(format)` answers for `error`, and what it told `onFailure`. */
async function answer(format: ErrorFormat, error: unknown) {
  const failures: string[] = [];
  const request = { event: {}, context, error, response: undefined, internal: {} } as unknown as Request<
    APIGatewayProxyEventV2,
    HttpResult
  >;
  await httpErrors(format, { onFailure: (reason) => failures.push(reason) }).onError?.(request);
  const response = request.response as HttpResult;
  const body = String(response.body);
  return { response, body, failures, json: () => JSON.parse(body) as unknown };
}

const log = { info: vi.fn(), warn: vi.fn(), error: vi.fn() };
beforeEach(() => {
  vi.spyOn(logger, 'info').mockImplementation(log.info);
  vi.spyOn(logger, 'warn').mockImplementation(log.warn);
  vi.spyOn(logger, 'error').mockImplementation(log.error);
});
afterEach(() => {
  vi.restoreAllMocks();
  for (const method of Object.values(log)) method.mockReset();
});

const misconfigured = () => new MisconfiguredError('Secret s is not filled in.', { secret: 's', fields: ['zoomClientId'] });

describe('httpErrors: the one error → HTTP mapping', () => {
  it.each([
    ['html', 'text/html; charset=utf-8', 'This service is not configured yet.'],
    ['json', 'application/json; charset=utf-8', '{"error":"The service is not configured yet."}'],
    ['webhook', 'application/json; charset=utf-8', '{"error":"The webhook is not configured yet."}'],
  ] as const)('answers a misconfiguration (%s) with a 503 that says so, one log line, and a failure', async (format, type, text) => {
    const { response, body, failures } = await answer(format, new Error('wrapped', { cause: misconfigured() }));

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['content-type']).toBe(type);
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(body).toContain(text);
    expect(log.error).toHaveBeenCalledTimes(1);
    expect(log.error).toHaveBeenCalledWith('Service misconfigured', expect.objectContaining({ secret: 's', fields: ['zoomClientId'] }));
    expect(failures).toEqual(['misconfigured']);
  });

  it.each([
    ['html', 'Request failed'],
    ['json', 'Request failed'],
    ['webhook', 'Zoom webhook failed'],
  ] as const)('answers anything else (%s) with a generic 500 that reveals nothing, logged in full', async (format, line) => {
    const failure = new Error('ECONNRESET talking to the table at 10.0.0.7');

    const { response, body, failures } = await answer(format, failure);

    expect(response.statusCode).toBe(500);
    expect(body).not.toContain('ECONNRESET');
    expect(log.error).toHaveBeenCalledWith(line, { error: failure });
    expect(failures).toEqual(['internal']);
  });

  it('answers a refusal with its status and its message, as a page or as JSON, and is no failure', async () => {
    const page = await answer('html', new RequestError(400, 'This connect link has expired.'));
    const api = await answer('json', new RequestError(404, 'No connection for this user.'));

    expect(page.response.statusCode).toBe(400);
    expect(page.body).toContain('This connect link has expired.');
    expect(api.response.statusCode).toBe(404);
    expect(api.json()).toEqual({ error: 'No connection for this user.' });
    expect(log.info).toHaveBeenCalledWith('Request refused', expect.objectContaining({ status: 400, error: 'RequestError' }));
    expect([...page.failures, ...api.failures]).toEqual([]);
  });

  it("answers the webhook's refusal with its status and message as JSON, logged as a refused webhook", async () => {
    const { response, failures, json } = await answer('webhook', new WebhookRejectedError('bad_signature'));

    expect(response.statusCode).toBe(401);
    expect(json()).toEqual({ error: new WebhookRejectedError('bad_signature').message });
    expect(log.warn).toHaveBeenCalledWith('Zoom webhook refused', { status: 401, problem: 'bad_signature' });
    expect(log.error).not.toHaveBeenCalled();
    expect(failures).toEqual([]);
  });
});
