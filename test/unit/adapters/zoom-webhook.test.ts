import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { MisconfiguredError } from '../../../functions/core/errors.js';
import {
  acceptZoomWebhook,
  appDeauthorizationOf,
  decodeWebhookQueueMessage,
  MalformedWebhookMessageError,
  parseZoomEvent,
  urlValidationAnswer,
  verifyZoomSignature,
  type WebhookQueueMessage,
  WebhookRejectedError,
  type ZoomEvent,
  zoomSignature,
} from '../../../functions/adapters/zoom-webhook.js';
import { queueMessageBody, zoomSign } from '../../helpers/zoom-webhook.js';
import { thrownBy } from '../../helpers/rejection.js';

const TOKEN = 'zoom-secret-token-abc';
const NOW_MS = Date.parse('2026-11-30T18:00:00.000Z');
const NOW_S = NOW_MS / 1000;
const BODY = new TextEncoder().encode('{"event":"meeting.started","payload":{"object":{"id":"1"}}}');

const rejection = (action: () => unknown): WebhookRejectedError => thrownBy(action, WebhookRejectedError);

describe('zoomSignature', () => {
  it('matches Zoom sample: v0= + hex HMAC-SHA256 of v0:{timestamp}:{body}', () => {
    const expected = `v0=${createHmac('sha256', TOKEN).update(`v0:${NOW_S}:${new TextDecoder().decode(BODY)}`).digest('hex')}`;

    expect(zoomSignature(TOKEN, String(NOW_S), BODY)).toBe(expected);
  });
});

describe('verifyZoomSignature', () => {
  const signed = (timestamp: string, body = BODY) => ({ rawBody: body, timestamp, signature: zoomSign(TOKEN, timestamp, body) });

  it('accepts a correct signature at the current time', () => {
    expect(() => verifyZoomSignature(signed(String(NOW_S)), TOKEN, NOW_MS)).not.toThrow();
  });

  it.each([
    ['exactly five minutes old', NOW_S - 300],
    ['exactly five minutes ahead', NOW_S + 300],
  ])('accepts a timestamp %s', (_label, seconds) => {
    expect(() => verifyZoomSignature(signed(String(seconds)), TOKEN, NOW_MS)).not.toThrow();
  });

  it.each([
    ['more than five minutes old', String(NOW_S - 301)],
    ['more than five minutes ahead', String(NOW_S + 301)],
    ['in milliseconds, more than five minutes old', String(NOW_MS - 300_001)],
    ['in milliseconds, more than five minutes ahead', String(NOW_MS + 300_001)],
  ])('refuses a correctly signed timestamp %s', (_label, timestamp) => {
    expect(rejection(() => verifyZoomSignature(signed(timestamp), TOKEN, NOW_MS)).problem).toBe('stale_timestamp');
  });

  it('accepts a millisecond timestamp within the window, signed as sent', () => {
    expect(() => verifyZoomSignature(signed(String(NOW_MS - 299_000)), TOKEN, NOW_MS)).not.toThrow();
  });

  it.each([['-1'], ['1.5e9'], ['abc'], [' 1796061600'], ['17960616001796061600']])(
    'refuses a timestamp that is not plain epoch digits: %j',
    (timestamp) => {
      expect(rejection(() => verifyZoomSignature(signed(timestamp), TOKEN, NOW_MS)).problem).toBe('malformed_timestamp');
    },
  );

  it.each([
    ['another token', { signature: zoomSign('other-token', String(NOW_S), BODY) }],
    ['another body', { rawBody: new TextEncoder().encode('{"event":"meeting.ended"}') }],
    ['an upper-case hex digest', { signature: zoomSign(TOKEN, String(NOW_S), BODY).toUpperCase() }],
    ['no v0= prefix', { signature: zoomSign(TOKEN, String(NOW_S), BODY).slice(3) }],
    ['an extra character', { signature: `${zoomSign(TOKEN, String(NOW_S), BODY)}0` }],
  ])('refuses a signature made with %s', (_label, change) => {
    const request = { ...signed(String(NOW_S)), ...change };

    const error = rejection(() => verifyZoomSignature(request, TOKEN, NOW_MS));

    expect(error.problem).toBe('bad_signature');
    expect(error.statusCode).toBe(401);
  });

  it.each([
    ['the signature', { signature: undefined }],
    ['the timestamp', { timestamp: undefined }],
    ['an empty signature', { signature: '' }],
  ])('refuses a request without %s', (_label, change) => {
    expect(rejection(() => verifyZoomSignature({ ...signed(String(NOW_S)), ...change }, TOKEN, NOW_MS)).problem).toBe(
      'missing_signature',
    );
  });

  it('gives the same generic message for every signature problem (the log has the detail)', () => {
    const messages = new Set(
      [
        () => verifyZoomSignature({ rawBody: BODY }, TOKEN, NOW_MS),
        () => verifyZoomSignature(signed(String(NOW_S - 301)), TOKEN, NOW_MS),
        () => verifyZoomSignature({ ...signed(String(NOW_S)), signature: 'v0=00' }, TOKEN, NOW_MS),
      ].map((action) => rejection(action).message),
    );

    expect(messages.size).toBe(1);
  });
});

describe('urlValidationAnswer', () => {
  it('is the plainToken and its hex HMAC-SHA256 under the Secret Token', () => {
    expect(urlValidationAnswer(TOKEN, 'qgg8vlvZRS6UYooatFL8Aw')).toEqual({
      plainToken: 'qgg8vlvZRS6UYooatFL8Aw',
      encryptedToken: createHmac('sha256', TOKEN).update('qgg8vlvZRS6UYooatFL8Aw').digest('hex'),
    });
  });
});

describe('parseZoomEvent', () => {
  it('reads an event, keeping fields it does not know', () => {
    const event = parseZoomEvent(new TextEncoder().encode('{"event":"x.y","event_ts":1,"payload":{"a":1},"extra":true}'));

    expect(event).toEqual({ event: 'x.y', event_ts: 1, payload: { a: 1 }, extra: true });
  });

  it.each([
    ['not JSON', 'event=x', 'not_json'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'not_json'],
    ['a JSON array', '[{"event":"x"}]', 'not_an_event'],
    ['an empty event name', '{"event":""}', 'not_an_event'],
    ['an event name that is not a string', '{"event":7}', 'not_an_event'],
  ])('refuses %s', (_label, body, problem) => {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;

    const error = rejection(() => parseZoomEvent(bytes));

    expect(error.problem).toBe(problem);
    expect(error.statusCode).toBe(400);
  });
});

describe('decodeWebhookQueueMessage', () => {
  it('returns the exact body bytes, the headers and the parsed event', () => {
    const raw = Buffer.from('{ "event" : "meeting.started" }\n', 'utf8');

    const decoded = decodeWebhookQueueMessage(queueMessageBody(raw, { timestamp: '1796061600', signature: 'v0=abc' }));

    expect(Buffer.from(decoded.body).equals(raw)).toBe(true);
    expect(decoded.headers).toEqual({
      'x-zm-signature': 'v0=abc',
      'x-zm-request-timestamp': '1796061600',
      'content-type': 'application/json; charset=utf-8',
    });
    expect(decoded.event.event).toBe('meeting.started');
    expect(decoded.receivedAt).toBe('2026-11-30T18:00:00.000Z');
  });

  const valid = JSON.parse(queueMessageBody('{"event":"x"}')) as WebhookQueueMessage;
  it.each([
    ['text that is not JSON', 'nope'],
    ['version 2', JSON.stringify({ ...valid, v: 2 })],
    ['no body', JSON.stringify({ ...valid, bodyBase64: '' })],
    ['a body that is not base64', JSON.stringify({ ...valid, bodyBase64: 'not base64!' })],
    ['a body that is no Zoom event', JSON.stringify({ ...valid, bodyBase64: Buffer.from('{}').toString('base64') })],
    ['no timestamp header', JSON.stringify({ ...valid, headers: { 'x-zm-signature': 'v0=a' } })],
    ['a receivedAt that is no date', JSON.stringify({ ...valid, receivedAt: 'yesterday' })],
  ])('refuses %s', (_label, text) => {
    expect(() => decodeWebhookQueueMessage(text)).toThrow(MalformedWebhookMessageError);
  });
});

describe('appDeauthorizationOf', () => {
  const RECEIVED_AT = '2026-11-30T18:00:00.000Z';
  const deauth = (payload: Record<string, unknown>, extra: Partial<ZoomEvent> = {}): ZoomEvent => ({
    event: 'app_deauthorized',
    payload: { account_id: 'za-1', user_id: 'zu-1', ...payload },
    ...extra,
  });

  it.each([
    ['"true"', 'true', true],
    ['"TRUE"', 'TRUE', true],
    ['true', true, true],
    ['"false"', 'false', false],
    ['false', false, false],
    ['null', null, false],
    ['"yes"', 'yes', false],
  ])('reads user_data_retention %s', (_label, value, expected) => {
    expect(appDeauthorizationOf(deauth({ user_data_retention: value }), RECEIVED_AT).userDataRetention).toBe(expected);
  });

  it('treats a missing user_data_retention as no retention', () => {
    expect(appDeauthorizationOf(deauth({}), RECEIVED_AT).userDataRetention).toBe(false);
  });

  it('takes the Zoom ids and the deauthorization time from the payload', () => {
    expect(appDeauthorizationOf(deauth({ deauthorization_time: '2026-11-30T17:59:58.632Z' }), RECEIVED_AT)).toEqual({
      zoomAccountId: 'za-1',
      zoomUserId: 'zu-1',
      userDataRetention: false,
      deauthorizedAt: '2026-11-30T17:59:58.632Z',
    });
  });

  it.each([
    ['event_ts in milliseconds', {}, { event_ts: Date.parse('2026-11-30T17:59:50.000Z') }, '2026-11-30T17:59:50.000Z'],
    ['event_ts in seconds', {}, { event_ts: Date.parse('2026-11-30T17:59:50.000Z') / 1000 }, '2026-11-30T17:59:50.000Z'],
    ['no time at all: the time it was received', {}, {}, RECEIVED_AT],
    ['an unreadable deauthorization_time', { deauthorization_time: 'soon' }, {}, RECEIVED_AT],
    ['a time later than its receipt: the receipt', { deauthorization_time: '2027-01-01T00:00:00.000Z' }, {}, RECEIVED_AT],
  ])('dates the deauthorization from %s', (_label, payload, extra, expected) => {
    expect(appDeauthorizationOf(deauth(payload, extra), RECEIVED_AT).deauthorizedAt).toBe(expected);
  });

  it('accepts an event that names only the account, or only the user', () => {
    expect(appDeauthorizationOf(deauth({ user_id: null }), RECEIVED_AT)).not.toHaveProperty('zoomUserId');
    expect(appDeauthorizationOf(deauth({ account_id: '' }), RECEIVED_AT)).not.toHaveProperty('zoomAccountId');
  });

  it.each([
    ['no Zoom ids', { account_id: null, user_id: '  ' }],
    ['ids that are not strings', { account_id: 42, user_id: 7 }],
  ])('refuses an event with %s', (_label, payload) => {
    expect(() => appDeauthorizationOf(deauth(payload), RECEIVED_AT)).toThrow(MalformedWebhookMessageError);
  });

  it('refuses an event without a payload', () => {
    expect(() => appDeauthorizationOf({ event: 'app_deauthorized' }, RECEIVED_AT)).toThrow(MalformedWebhookMessageError);
  });
});

describe('acceptZoomWebhook', () => {
  const request = (body: Uint8Array, headers: Record<string, string | undefined>) => ({ body, headers });
  const signedHeaders = (body: Uint8Array, timestamp = String(NOW_S)) => ({
    'x-zm-signature': zoomSign(TOKEN, timestamp, body),
    'x-zm-request-timestamp': timestamp,
    'content-type': 'application/json',
  });
  const deps = (overrides: Partial<Parameters<typeof acceptZoomWebhook>[1]> = {}) => ({
    secretToken: vi.fn(async () => TOKEN),
    enqueue: vi.fn(async (_message: WebhookQueueMessage) => undefined),
    now: () => NOW_MS,
    ...overrides,
  });

  it('refuses an unsigned request without reading the Secret Token', async () => {
    const d = deps();

    await expect(acceptZoomWebhook(request(BODY, {}), d)).rejects.toMatchObject({ problem: 'missing_signature' });
    expect(d.secretToken).not.toHaveBeenCalled();
    expect(d.enqueue).not.toHaveBeenCalled();
  });

  it("lets the store's MisconfiguredError through, queueing nothing, while the Secret Token is not set", async () => {
    const unset = new MisconfiguredError('ZOOM_WEBHOOK_SECRET_TOKEN is not set.', { fields: ['ZOOM_WEBHOOK_SECRET_TOKEN'] });
    const d = deps({ secretToken: vi.fn(async () => Promise.reject(unset)) });

    await expect(acceptZoomWebhook(request(BODY, signedHeaders(BODY)), d)).rejects.toBe(unset);
    expect(d.enqueue).not.toHaveBeenCalled();
  });

  it('lets a queue failure through, so the caller answers 5xx', async () => {
    const d = deps({ enqueue: vi.fn(async () => Promise.reject(new Error('SQS down'))) });

    await expect(acceptZoomWebhook(request(BODY, signedHeaders(BODY)), d)).rejects.toThrow('SQS down');
  });

  it('queues exactly what the worker can decode again', async () => {
    const enqueue = vi.fn(async (_message: WebhookQueueMessage) => undefined);

    const accepted = await acceptZoomWebhook(request(BODY, signedHeaders(BODY)), deps({ enqueue }));

    expect(accepted).toEqual({ event: 'meeting.started', answer: { status: 'accepted' } });
    const message = enqueue.mock.calls[0]?.[0];
    const decoded = decodeWebhookQueueMessage(JSON.stringify(message));
    expect(Buffer.from(decoded.body).equals(Buffer.from(BODY))).toBe(true);
    expect(decoded.headers).toEqual(signedHeaders(BODY));
  });

  it('refuses a content-type it could not queue, before queueing', async () => {
    const d = deps();

    await expect(
      acceptZoomWebhook(request(BODY, { ...signedHeaders(BODY), 'content-type': `application/json;${'x'.repeat(300)}` }), d),
    ).rejects.toMatchObject({ problem: 'bad_headers', statusCode: 400 });
    expect(d.enqueue).not.toHaveBeenCalled();
  });

  it('refuses an oversized body before anything else', async () => {
    const d = deps();
    const big = new Uint8Array(128 * 1024 + 1);

    await expect(acceptZoomWebhook(request(big, signedHeaders(big)), d)).rejects.toMatchObject({ problem: 'too_large', statusCode: 413 });
    expect(d.secretToken).not.toHaveBeenCalled();
  });
});
