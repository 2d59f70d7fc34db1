import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionEventDetailSchema, detailTypeOf, EVENT_SOURCE } from '../../functions/adapters/event-publisher.js';
import type { DeliveredBusEvent } from '../../local/local-eventbridge.js';
import { LOCAL_DEFAULTS, LOCAL_EVENTBRIDGE_PATH } from '../../local/local-settings.js';
import { LOCAL_AWS_CREDENTIALS } from '../../local/local-table.js';
import { connectThroughDemo, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { settleOutbox } from './helpers/lifecycle.js';
import { useLocalService } from './helpers/local-service.js';

/*
 * Local mode's events endpoint against a real HTTP receiver, standing in for a product's backend: events reach the
 * local bus through the unchanged EventBridge SDK (as the functions publish them), and the deliverer POSTs each
 * detail to the receiver with the shared secret, retrying what the receiver refuses.
 */

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** What the receiver answered. */
  status: number;
}

/** A product endpoint: records every request, and answers what `answer` says for the n-th try of an event id. */
class Receiver {
  readonly requests: Received[] = [];
  answer: (eventId: string, tryNumber: number) => number = () => 204;
  readonly #tries = new Map<string, number>();
  readonly #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const eventId = String((JSON.parse(body) as { eventId?: unknown }).eventId);
        const tryNumber = (this.#tries.get(eventId) ?? 0) + 1;
        this.#tries.set(eventId, tryNumber);
        const status = this.answer(eventId, tryNumber);
        this.requests.push({ headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? '' : 'not now');
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hooks/zoom-connect?tenant=acme`;
  }

  requestsFor(eventId: string): Received[] {
    return this.requests.filter((request) => (JSON.parse(request.body) as { eventId?: string }).eventId === eventId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
  }
}

const receiver = new Receiver();
beforeAll(() => receiver.start());
afterAll(() => receiver.close());
const { server } = useLocalService({
  env: () => ({
    EVENTS_ENDPOINT_URL: receiver.url,
    // Short waits keep the test quick; the count of attempts, not their timing, is what it checks.
    EVENTS_ENDPOINT_BACKOFF_MS: '10',
    EVENTS_ENDPOINT_MAX_ATTEMPTS: '4',
  }),
  timeoutMs: 60_000,
});
let eventBridge: EventBridgeClient;
beforeAll(() => {
  eventBridge = new EventBridgeClient({ endpoint: `${server.url}${LOCAL_EVENTBRIDGE_PATH}`, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
});
afterAll(() => eventBridge?.destroy());
beforeEach(() => {
  receiver.answer = () => 204;
});

/** Publishes one lifecycle event the way the functions do (PutEvents on the service's bus), with a fresh eventId. */
async function publish(userId: string): Promise<{ eventId: string; detail: Record<string, unknown> }> {
  const eventId = randomUUID();
  const detail = {
    schemaVersion: 1,
    eventId,
    type: 'connected',
    userId,
    status: 'connected',
    recallCredentialId: randomUUID(),
    zoomAccountId: 'acct-1',
    zoomUserId: 'zu-1',
    occurredAt: new Date().toISOString(),
  };
  const { FailedEntryCount } = await eventBridge.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: server.settings.eventBusName,
          Source: EVENT_SOURCE,
          DetailType: detailTypeOf('connected'),
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  expect(FailedEntryCount).toBe(0);
  return { eventId, detail };
}

const listEvents = async (query = ''): Promise<DeliveredBusEvent[]> => {
  const response = await fetch(`${server.url}/_local/events${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as DeliveredBusEvent[];
};

describe('local events endpoint', () => {
  it('delivers an event the receiver refuses twice on the third try, with the same body and eventId each time', async () => {
    // Prepare
    receiver.answer = (_eventId, tryNumber) => (tryNumber <= 2 ? 503 : 200);

    // Act
    const { eventId, detail } = await publish(uniqueUser('retry'));
    await server.eventsDeliverer!.drain();

    // Assess: three POSTs of the detail, byte for byte the same, each carrying the shared secret.
    const requests = receiver.requestsFor(eventId);
    expect(requests.map((request) => request.status)).toEqual([503, 503, 200]);
    expect(new Set(requests.map((request) => request.body)).size).toBe(1);
    expect(JSON.parse(requests[0]!.body)).toEqual(detail);
    for (const { headers } of requests) {
      expect(headers[LOCAL_DEFAULTS.eventsEndpointHeaderName]).toBe(LOCAL_DEFAULTS.eventsEndpointSecret);
      expect(headers['content-type']).toMatch(/^application\/json/);
    }
    // The event is listed as delivered after 3 attempts, and nothing is listed as failed.
    const listed = (await listEvents()).find((event) => (event.detail as { eventId?: string }).eventId === eventId);
    expect(listed?.delivery).toMatchObject({ status: 'delivered', attempts: 3 });
    expect(listed?.delivery.lastError).toBeUndefined();
    expect((await listEvents('?delivery=failed')).map((event) => event.id)).not.toContain(listed?.id);
  });

  it('gives up after the bounded attempts, lists the failure without the secret, and redelivers it once fixed', async () => {
    // Prepare: an endpoint that is down.
    receiver.answer = () => 502;

    // Act
    const { eventId } = await publish(uniqueUser('down'));
    await server.eventsDeliverer!.drain();

    // Assess: 4 attempts (EVENTS_ENDPOINT_MAX_ATTEMPTS), then listed as failed.
    expect(receiver.requestsFor(eventId)).toHaveLength(4);
    const failedResponse = await fetch(`${server.url}/_local/events?delivery=failed`);
    const failedText = await failedResponse.text();
    expect(failedText).not.toContain(LOCAL_DEFAULTS.eventsEndpointSecret);
    const failed = (JSON.parse(failedText) as DeliveredBusEvent[]).filter(
      (event) => (event.detail as { eventId?: string }).eventId === eventId,
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]?.delivery).toMatchObject({ status: 'failed', attempts: 4, lastError: 'HTTP 502' });

    // Act: the product fixes its endpoint, the developer asks for the failed events again.
    receiver.answer = () => 200;
    const redeliver = await fetch(`${server.url}/_local/events/redeliver`, { method: 'POST' });
    expect(await redeliver.json()).toEqual({ redelivered: 1 });
    await server.eventsDeliverer!.drain();

    // Assess: delivered with the same eventId, and no longer listed as failed.
    const requests = receiver.requestsFor(eventId);
    expect(requests.map((request) => request.status)).toEqual([502, 502, 502, 502, 200]);
    expect(await listEvents('?delivery=failed')).toEqual([]);
  });

  it('does not retry a refusal the endpoint means (400), as an API destination does not', async () => {
    receiver.answer = () => 400;
    const { eventId } = await publish(uniqueUser('refused'));
    await server.eventsDeliverer!.drain();
    expect(receiver.requestsFor(eventId)).toHaveLength(1);
    const failed = (await listEvents('?delivery=failed')).find((event) => (event.detail as { eventId?: string }).eventId === eventId);
    expect(failed?.delivery).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 400' });
    // Clean up for the next test: the refused event stays refused.
    receiver.answer = () => 200;
    await fetch(`${server.url}/_local/events/redeliver`, { method: 'POST' });
    await server.eventsDeliverer!.drain();
    expect(await listEvents('?delivery=failed')).toEqual([]);
  });

  it('delivers the event of a real connect through the demo page: the detail the bus carries, unchanged', async () => {
    // Act
    const userId = uniqueUser('connect');
    await connectThroughDemo(server, userId, uniqueIdentity('connect'));
    // The connect's event leaves through the outbox: the local publisher puts it on the bus (now, not in 250 ms).
    await settleOutbox(server, [userId]);
    await server.eventsDeliverer!.drain();

    // Assess
    const delivered = receiver.requests
      .map((request) => ConnectionEventDetailSchema.safeParse(JSON.parse(request.body)))
      .filter((parsed) => parsed.success && parsed.data.userId === userId)
      .map((parsed) => parsed.data);
    expect(delivered.map((detail) => detail?.type)).toEqual(['connected']);
    const onBus = (await listEvents()).find((event) => (event.detail as { userId?: string }).userId === userId);
    expect(onBus?.delivery.status).toBe('delivered');
    const request = receiver.requests.find((received) => received.body === JSON.stringify(onBus?.detail));
    expect(request, 'the receiver got the bus detail byte for byte').toBeDefined();
  });
});
