import { describe, expect, it } from 'vitest';
import { EVENT_SOURCE } from '../../../functions/adapters/event-publisher.js';
import { DEFAULT_EVENTS_HEADER_NAME } from '../../../lib/config.js';
import { LocalEventsDeliverer, type LocalEventsDelivererOptions } from '../../../local/events-endpoint.js';
import type { LocalBusEvent } from '../../../local/local-eventbridge.js';
import { LOCAL_DEFAULTS, LocalConfigError, parseLocalEnv, resolveLocalSettings } from '../../../local/local-settings.js';

const SECRET = 'unit-test-events-secret';

const busEvent = (overrides: Partial<LocalBusEvent> = {}): LocalBusEvent => ({
  id: `bus-${Math.random().toString(16).slice(2)}`,
  time: '2026-12-06T18:00:00Z',
  source: EVENT_SOURCE,
  detailType: 'Zoom connection connected.v1',
  detail: { schemaVersion: 1, eventId: 'evt-1', type: 'connected', userId: 'u-1' },
  ...overrides,
});

/** A deliverer whose fetch answers from `answers` in turn (a status, or an error to throw), recording each call. */
function deliverer(answers: (number | Error)[], options: Partial<LocalEventsDelivererOptions> = {}) {
  const calls: { url: string; init: RequestInit }[] = [];
  const lines: string[] = [];
  const fetchFn = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    const answer = answers[Math.min(calls.length - 1, answers.length - 1)] as number | Error;
    if (answer instanceof Error) throw answer;
    return new Response(answer === 204 ? null : 'body the deliverer ignores', { status: answer });
  }) as typeof fetch;
  const instance = new LocalEventsDeliverer({
    url: 'http://127.0.0.1:9/hooks?token=product-own-token',
    headerName: 'x-test-secret',
    secret: SECRET,
    maxAttempts: 3,
    backoffBaseMs: 1,
    log: (line) => lines.push(line),
    fetch: fetchFn,
    ...options,
  });
  return { instance, calls, lines };
}

/** Delivers one event to an endpoint answering `answers` in turn, and waits until the deliverer is done with it. */
async function deliverOne(answers: (number | Error)[]) {
  const delivery = deliverer(answers);
  const event = busEvent();
  delivery.instance.deliver(event);
  await delivery.instance.drain();
  return { ...delivery, event };
}

describe('LocalEventsDeliverer', () => {
  it('POSTs the detail as JSON with the secret in the header, and stops at the first 2xx', async () => {
    // Prepare
    const { instance, calls } = deliverer([204]);
    const event = busEvent();

    // Act
    instance.deliver(event);
    await instance.drain();

    // Assess
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe('http://127.0.0.1:9/hooks?token=product-own-token');
    expect(calls[0]?.init).toMatchObject({
      method: 'POST',
      body: JSON.stringify(event.detail),
      redirect: 'manual',
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-test-secret': SECRET },
    });
    expect(instance.statusOf(event.id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });

  it.each([401, 407, 409, 429, 500, 503])('retries %i, as an API destination does', async (status) => {
    const { instance, calls, event } = await deliverOne([status, 200]);
    expect(calls).toHaveLength(2);
    expect(calls[0]?.init.body).toBe(calls[1]?.init.body);
    expect(instance.statusOf(event.id)).toMatchObject({ status: 'delivered', attempts: 2 });
  });

  it.each([400, 403, 404, 410, 301, 302])('fails %i at once, without retrying', async (status) => {
    const { instance, calls, event } = await deliverOne([status, 200]);
    expect(calls).toHaveLength(1);
    expect(instance.failed.map((failed) => [failed.id, failed.delivery.lastError])).toEqual([[event.id, `HTTP ${status}`]]);
  });

  it('retries network errors and timeouts, then gives up after maxAttempts and lists the event as failed', async () => {
    // Prepare: refused, refused, then an endpoint that never answers within the attempt's timeout.
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const hanging = (async (_url: string | URL | Request, init?: RequestInit) =>
      new Promise<Response>((_resolve, reject) =>
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      )) as typeof fetch;
    let calls = 0;
    const { instance, lines } = deliverer([], {
      maxAttempts: 3,
      timeoutMs: 20,
      fetch: ((url: string | URL | Request, init?: RequestInit) => {
        calls++;
        return calls < 3 ? Promise.reject(refused) : hanging(url, init);
      }) as typeof fetch,
    });
    const event = busEvent();

    // Act
    instance.deliver(event);
    await instance.drain();

    // Assess
    expect(calls).toBe(3);
    expect(instance.failed).toHaveLength(1);
    expect(instance.failed[0]?.delivery).toMatchObject({ status: 'failed', attempts: 3, lastError: 'timeout after 0.02 s' });
    expect(lines.join('\n')).toContain('network error (ECONNREFUSED)');
    // The log names the event and the endpoint without its query, and never the secret.
    expect(lines.join('\n')).toContain('eventId=evt-1');
    expect(lines.join('\n')).not.toContain('product-own-token');
    expect(lines.join('\n')).not.toContain(SECRET);
  });

  it('waits longer before each retry (exponential backoff, capped)', async () => {
    const stamps: number[] = [];
    const { instance } = deliverer([], {
      maxAttempts: 4,
      backoffBaseMs: 20,
      backoffMaxMs: 40,
      fetch: (async () => {
        stamps.push(performance.now());
        return new Response(null, { status: 503 });
      }) as typeof fetch,
    });
    instance.deliver(busEvent());
    await instance.drain();
    const gaps = stamps.slice(1).map((stamp, i) => stamp - (stamps[i] as number));
    // At least the scheduled waits (20, 40, then capped at 40); a busy machine only makes them longer.
    expect(gaps).toHaveLength(3);
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(39);
  });

  it('ignores events of another source, as the stack rule matches only the service', async () => {
    const { instance, calls } = deliverer([204]);
    instance.deliver(busEvent({ source: 'someone-else' }));
    await instance.drain();
    expect(calls).toHaveLength(0);
  });

  it('redelivers failed events with the same body, and keeps at most `capacity` failures', async () => {
    const { instance, calls } = deliverer([400], { capacity: 2 });
    const events = [busEvent(), busEvent(), busEvent()];
    for (const event of events) instance.deliver(event);
    await instance.drain();
    expect(instance.failed.map((failed) => failed.id)).toEqual([events[1]?.id, events[2]?.id]);
    expect(instance.redeliver()).toBe(2);
    await instance.drain();
    expect(calls.slice(3).map((call) => call.init.body)).toEqual([
      JSON.stringify(events[1]?.detail),
      JSON.stringify(events[2]?.detail),
    ]);
  });

  it('stops waiting on close, leaving the delivery pending', async () => {
    const { instance, calls } = deliverer([503], { backoffBaseMs: 60_000 });
    const event = busEvent();
    instance.deliver(event);
    await expect.poll(() => calls.length).toBe(1);
    await instance.close();
    expect(instance.statusOf(event.id)?.status).toBe('pending');
    instance.deliver(busEvent());
    expect(calls).toHaveLength(1);
  });
});

describe('local settings: EVENTS_ENDPOINT_*', () => {
  const resolve = (env: Record<string, string>) => resolveLocalSettings(parseLocalEnv(env), 4314);

  it('has no events endpoint unless EVENTS_ENDPOINT_URL is set, then documented defaults', () => {
    expect(resolve({}).eventsEndpoint).toBeUndefined();
    expect(resolve({ EVENTS_ENDPOINT_URL: 'http://localhost:8080/hooks' }).eventsEndpoint).toEqual({
      url: 'http://localhost:8080/hooks',
      headerName: DEFAULT_EVENTS_HEADER_NAME,
      secret: LOCAL_DEFAULTS.eventsEndpointSecret,
      maxAttempts: 5,
      backoffBaseMs: 1_000,
    });
    expect(LOCAL_DEFAULTS.eventsEndpointHeaderName).toBe(DEFAULT_EVENTS_HEADER_NAME);
  });

  it('takes the header, secret, attempts and backoff from the environment', () => {
    expect(
      resolve({
        EVENTS_ENDPOINT_URL: 'https://dev.acme.test/hooks',
        EVENTS_ENDPOINT_HEADER_NAME: 'X-Acme-Secret',
        EVENTS_ENDPOINT_SECRET: 'my local secret',
        EVENTS_ENDPOINT_MAX_ATTEMPTS: '2',
        EVENTS_ENDPOINT_BACKOFF_MS: '250',
      }).eventsEndpoint,
    ).toEqual({
      url: 'https://dev.acme.test/hooks',
      headerName: 'X-Acme-Secret',
      secret: 'my local secret',
      maxAttempts: 2,
      backoffBaseMs: 250,
    });
  });

  it.each([
    [{ EVENTS_ENDPOINT_URL: 'ftp://dev.acme.test/hooks' }, 'EVENTS_ENDPOINT_URL'],
    [{ EVENTS_ENDPOINT_URL: 'http://x.test/', EVENTS_ENDPOINT_HEADER_NAME: 'x secret' }, 'EVENTS_ENDPOINT_HEADER_NAME'],
    [{ EVENTS_ENDPOINT_URL: 'http://x.test/', EVENTS_ENDPOINT_SECRET: 'line\nbreak' }, 'EVENTS_ENDPOINT_SECRET'],
    [{ EVENTS_ENDPOINT_URL: 'http://x.test/', EVENTS_ENDPOINT_MAX_ATTEMPTS: '0' }, 'EVENTS_ENDPOINT_MAX_ATTEMPTS'],
    [{ EVENTS_ENDPOINT_URL: 'http://x.test/', EVENTS_ENDPOINT_BACKOFF_MS: 'soon' }, 'EVENTS_ENDPOINT_BACKOFF_MS'],
    [{ EVENTS_ENDPOINT_SECRET: 'alone' }, 'EVENTS_ENDPOINT_SECRET set without EVENTS_ENDPOINT_URL'],
  ])('rejects %j, naming the variable but never its value', (env, message) => {
    const attempt = () => resolve(env);
    expect(attempt).toThrow(LocalConfigError);
    expect(attempt).toThrow(expect.objectContaining({ message: expect.stringContaining(message) }));
    expect(attempt).toThrow(expect.objectContaining({ message: expect.not.stringContaining('line\nbreak') }));
  });
});
