import { createHmac } from 'node:crypto';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { logger } from '../../../functions/core/logger.js';
import { bundleHandler } from '../../helpers/bundle.js';
import { SECRETS } from '../../helpers/env.js';
import { handlerEntry, handlerHarness } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { signedWebhookEvent, WEBHOOK_QUEUE_URL, webhookHttpEvent, zoomSign } from '../../helpers/zoom-webhook.js';

// Metrics on: some tests assert on them. The webhook function is given the base environment and its queue; it never
// verifies connect tokens.
const h = handlerHarness('webhook', { env: { SIGNING_KEY_SECRET_ID: undefined, WEBHOOK_QUEUE_URL }, metrics: true });
const { sqs } = h;
const output = { emf: () => h.output.emf(), text: () => h.output.text() };
const emitted = () => h.emitted();

const TOKEN = SECRETS.zoomWebhookSecretToken;
const NOW_MS = Date.parse('2026-11-30T18:00:00.000Z');
const NOW_S = String(NOW_MS / 1000);
const MEETING_STARTED = '{"event":"meeting.started","event_ts":1796061600000,"payload":{"account_id":"za-1"}}';

beforeEach(() => {
  // Only the clock is fake: the signature window is checked against a fixed "now".
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW_MS);
});

async function call(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2 & { json: unknown }> {
  const response = await h.handler(event);
  return { ...response, json: JSON.parse(String(response.body)) };
}

function queuedMessages(): Array<{ v: number; bodyBase64: string; headers: Record<string, string>; receivedAt: string }> {
  return sqs.commandCalls(SendMessageCommand).map((c) => JSON.parse(String(c.args[0].input.MessageBody)));
}

describe('POST /zoom/webhook: verified events', () => {
  it('queues a correctly signed event as the contract fixes it and answers 200 JSON, uncached', async () => {
    // Prepare
    const event = signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S);

    // Act
    const response = await call(event);

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({ status: 'accepted' });
    expect(response.headers?.['content-type']).toContain('application/json');
    expect(response.headers?.['cache-control']).toBe('no-store');
    const sends = sqs.commandCalls(SendMessageCommand);
    expect(sends).toHaveLength(1);
    expect(sends[0]?.args[0].input.QueueUrl).toBe(WEBHOOK_QUEUE_URL);
    expect(queuedMessages()).toEqual([
      {
        v: 1,
        bodyBase64: Buffer.from(MEETING_STARTED).toString('base64'),
        headers: {
          'x-zm-signature': zoomSign(TOKEN, NOW_S, MEETING_STARTED),
          'x-zm-request-timestamp': NOW_S,
          'content-type': 'application/json; charset=utf-8',
        },
        receivedAt: '2026-11-30T18:00:00.000Z',
      },
    ]);
  });

  it('verifies a base64-encoded body over the decoded raw bytes and queues exactly those bytes', async () => {
    // Spacing, key order and non-ASCII text that any re-serialization would change.
    const raw = Buffer.from('{ "payload": {"topic":"Réunion – ü"},\n  "event": "meeting.ended" }', 'utf8');
    const event = signedWebhookEvent(TOKEN, raw, NOW_S, { base64: true });

    const response = await call(event);

    expect(response.statusCode).toBe(200);
    const queued = Buffer.from(queuedMessages()[0]?.bodyBase64 ?? '', 'base64');
    expect(queued.equals(raw)).toBe(true);
  });

  it('refuses a body signed over its re-serialized JSON rather than its raw bytes', async () => {
    const raw = '{ "event": "meeting.ended",  "payload": {} }';
    const reserialized = JSON.stringify(JSON.parse(raw));
    const event = webhookHttpEvent({
      body: raw,
      headers: { 'x-zm-request-timestamp': NOW_S, 'x-zm-signature': zoomSign(TOKEN, NOW_S, reserialized) },
    });

    const response = await call(event);

    expect(response.statusCode).toBe(401);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('accepts a timestamp sent in milliseconds, signed as sent', async () => {
    const millis = String(NOW_MS - 2_000);

    const response = await call(signedWebhookEvent(TOKEN, MEETING_STARTED, millis));

    expect(response.statusCode).toBe(200);
    expect(queuedMessages()[0]?.headers['x-zm-request-timestamp']).toBe(millis);
  });

  it('accepts a timestamp just inside the five-minute window on either side', async () => {
    const early = await call(signedWebhookEvent(TOKEN, MEETING_STARTED, String(NOW_MS / 1000 - 299)));
    const late = await call(signedWebhookEvent(TOKEN, MEETING_STARTED, String(NOW_MS / 1000 + 299)));

    expect([early.statusCode, late.statusCode]).toEqual([200, 200]);
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(2);
  });

  it('answers endpoint.url_validation with the exact HMAC of plainToken, and queues it like any event', async () => {
    const plainToken = 'qgg8vlvZRS6UYooatFL8Aw';
    const body = JSON.stringify({ payload: { plainToken }, event_ts: 1796061600000, event: 'endpoint.url_validation' });

    const response = await call(signedWebhookEvent(TOKEN, body, NOW_S));

    expect(response.statusCode).toBe(200);
    expect(response.json).toEqual({
      plainToken,
      encryptedToken: createHmac('sha256', TOKEN).update(plainToken).digest('hex'),
    });
    expect(queuedMessages()).toHaveLength(1);
  });

  it('reads the Secret Token from the app secret once and keeps it for later requests', async () => {
    await call(signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S));
    await call(signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S));

    // The store may have been warmed by an earlier test in this file: at most one read, never one per request.
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).length).toBeLessThanOrEqual(1);
  });
});

describe('POST /zoom/webhook: refused requests are never queued', () => {
  const refusals: Array<[string, () => APIGatewayProxyEventV2, number]> = [
    [
      'a signature made with another token',
      () => signedWebhookEvent('someone-elses-token', MEETING_STARTED, NOW_S),
      401,
    ],
    [
      'a signature for another body',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S, {
        extraHeaders: { 'x-zm-signature': zoomSign(TOKEN, NOW_S, '{"event":"other"}') },
      }),
      401,
    ],
    [
      'a signature for another timestamp',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S, {
        extraHeaders: { 'x-zm-signature': zoomSign(TOKEN, String(NOW_MS / 1000 - 1), MEETING_STARTED) },
      }),
      401,
    ],
    [
      'a truncated signature',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S, {
        extraHeaders: { 'x-zm-signature': zoomSign(TOKEN, NOW_S, MEETING_STARTED).slice(0, 40) },
      }),
      401,
    ],
    [
      'no x-zm-signature header',
      () => webhookHttpEvent({ body: MEETING_STARTED, headers: { 'x-zm-request-timestamp': NOW_S } }),
      401,
    ],
    [
      'no x-zm-request-timestamp header',
      () => webhookHttpEvent({ body: MEETING_STARTED, headers: { 'x-zm-signature': zoomSign(TOKEN, NOW_S, MEETING_STARTED) } }),
      401,
    ],
    [
      'a correctly signed timestamp more than five minutes old',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, String(NOW_MS / 1000 - 301)),
      401,
    ],
    [
      'a correctly signed timestamp more than five minutes ahead',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, String(NOW_MS / 1000 + 301)),
      401,
    ],
    [
      'a correctly signed millisecond timestamp more than five minutes old',
      () => signedWebhookEvent(TOKEN, MEETING_STARTED, String(NOW_MS - 301_000)),
      401,
    ],
    ['a timestamp that is not a number', () => signedWebhookEvent(TOKEN, MEETING_STARTED, '2026-11-30T18:00:00Z'), 401],
    ['a correctly signed body that is not JSON', () => signedWebhookEvent(TOKEN, 'event=meeting.started', NOW_S), 400],
    ['a correctly signed empty body', () => signedWebhookEvent(TOKEN, '', NOW_S), 400],
    ['correctly signed JSON without an event name', () => signedWebhookEvent(TOKEN, '{"payload":{}}', NOW_S), 400],
    [
      'a correctly signed url_validation without plainToken',
      () => signedWebhookEvent(TOKEN, '{"event":"endpoint.url_validation","payload":{}}', NOW_S),
      400,
    ],
    [
      'a correctly signed body larger than any Zoom event',
      () => signedWebhookEvent(TOKEN, JSON.stringify({ event: 'x', payload: { pad: 'a'.repeat(200_000) } }), NOW_S),
      413,
    ],
  ];

  it.each(refusals)('refuses %s', async (_name, event, status) => {
    const response = await call(event());

    expect(response.statusCode).toBe(status);
    expect(response.headers?.['content-type']).toContain('application/json');
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(response.json).toEqual({ error: expect.any(String) });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('logs why a request was refused, never its signature or body', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const event = signedWebhookEvent('someone-elses-token', MEETING_STARTED, NOW_S);

    await call(event);

    expect(warn).toHaveBeenCalledWith('Zoom webhook refused', { status: 401, problem: 'bad_signature' });
    const logged = JSON.stringify(warn.mock.calls);
    expect(logged).not.toContain(event.headers['x-zm-signature']);
    expect(logged).not.toContain('meeting.started');
    warn.mockRestore();
  });
});

describe('POST /zoom/webhook: metrics', () => {
  it('counts WebhookAccepted for a verified event, and never writes the signature', async () => {
    const event = signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S);

    await call(event);

    const metrics = emitted();
    expect(metricSum(metrics, 'WebhookAccepted')).toBe(1);
    expect(metricSum(metrics, 'WebhookRejected')).toBe(0);
    expect(output.text()).not.toContain(String(event.headers['x-zm-signature']));
  });

  it('counts WebhookRejected for a 401', async () => {
    await call(signedWebhookEvent('someone-elses-token', MEETING_STARTED, NOW_S));

    expect(metricSum(emitted(), 'WebhookRejected')).toBe(1);
    expect(metricSum(emitted(), 'WebhookAccepted')).toBe(0);
  });

  it('does not count a signed body that is not an event as rejected (a 400, not a signature failure)', async () => {
    const response = await call(signedWebhookEvent(TOKEN, 'not json', NOW_S));

    expect(response.statusCode).toBe(400);
    expect(output.emf()).toEqual([]);
  });
});

describe('POST /zoom/webhook: failures make Zoom retry', () => {
  it('answers 500 (and nothing else) when the queue does not take the event', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('queue unavailable: https://sqs.example/secret-detail'));

    const response = await call(signedWebhookEvent(TOKEN, MEETING_STARTED, NOW_S));

    expect(response.statusCode).toBe(500);
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(response.json).toEqual({ error: 'internal error' });
  });

  it('answers 500 when the url_validation cannot be queued, rather than a challenge answer', async () => {
    sqs.on(SendMessageCommand).rejects(new Error('throttled'));
    const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'abc' } });

    const response = await call(signedWebhookEvent(TOKEN, body, NOW_S));

    expect(response.statusCode).toBe(500);
    expect(JSON.stringify(response.json)).not.toContain('encryptedToken');
  });
});

describe('webhook bundle', () => {
  it('leaves DynamoDB and the Recall client out of the deployed bundle (verify and enqueue only)', async () => {
    // Act: the stack's bundling settings (lib/constructs/service-function.ts)
    const { included } = await bundleHandler(handlerEntry('webhook'));

    // Assess
    expect(included.some((path) => path.includes(handlerEntry('webhook')))).toBe(true);
    expect(included.some((path) => path.includes('@aws-sdk/client-sqs'))).toBe(true);
    expect(included.filter((path) => path.includes('@aws-sdk/client-dynamodb'))).toEqual([]);
    expect(
      included.filter((path) => /functions\/(adapters\/recall-client|adapters\/connection-repository|lifecycle\/deauthorization)/.test(path)),
    ).toEqual([]);
  });
});
