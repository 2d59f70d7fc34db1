import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalEventBridge, LocalEventBus, type LocalBusEvent } from '../../../local/local-eventbridge.js';
import { LOCAL_EVENTBRIDGE_PATH } from '../../../local/local-settings.js';
import { LOCAL_AWS_CREDENTIALS } from '../../../local/local-table.js';
import { serveLocalRoutes } from '../../helpers/local-routes.js';

/**
 * The local EventBridge, driven by the real SDK client: if the wire protocol is wrong, the SDK refuses the answer
 * here exactly as the handlers' clients would in local mode.
 */

const BUS = 'recall-zoom-connect-local';

interface Harness {
  url: string;
  bus: LocalEventBus;
  lines: string[];
  events: EventBridgeClient;
}

const open: { close: () => Promise<void>; clients: { destroy(): void }[] }[] = [];
afterEach(async () => {
  for (const { close, clients } of open.splice(0)) {
    for (const client of clients) client.destroy();
    await close();
  }
});

/** A local EventBridge on its own HTTP server; the bus keeps `capacity` events when given. */
async function startLocalEventBridge(capacity?: number): Promise<Harness> {
  const lines: string[] = [];
  const bus = new LocalEventBus({ name: BUS, region: 'us-east-1', log: (line) => lines.push(line), ...(capacity ? { capacity } : {}) });
  const eventBridge = new LocalEventBridge({ bus });
  const { url, close } = await serveLocalRoutes((req, res, pathname) => eventBridge.handle(req, res, pathname));
  const events = new EventBridgeClient({
    endpoint: `${url}${LOCAL_EVENTBRIDGE_PATH}`,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  open.push({ close, clients: [events] });
  return { url, bus, lines, events };
}

const busEvents = async (url: string) => (await (await fetch(`${url}/_local/events`)).json()) as LocalBusEvent[];

describe('local EventBridge: PutEvents over the AWS JSON protocol', () => {
  const entry = (detail: object, overrides: Record<string, unknown> = {}) => ({
    EventBusName: BUS,
    Source: 'recall-zoom-connect',
    DetailType: 'Zoom connection revoked.v1',
    Detail: JSON.stringify(detail),
    ...overrides,
  });

  it('accepts entries, keeps them with the detail parsed, and prints one compact line each', async () => {
    // Prepare
    const local = await startLocalEventBridge();
    const detail = { schemaVersion: 1, type: 'revoked', userId: 'u-1', status: 'revoked', zoomUserId: 'zoom-private' };

    // Act
    const result = await local.events.send(new PutEventsCommand({ Entries: [entry(detail)] }));

    // Assess
    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries).toEqual([{ EventId: expect.any(String) }]);
    expect(await busEvents(local.url)).toEqual([
      {
        id: result.Entries?.[0]?.EventId,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        source: 'recall-zoom-connect',
        detailType: 'Zoom connection revoked.v1',
        detail,
      },
    ]);
    expect(local.lines).toEqual(['Event: Zoom connection revoked.v1 userId=u-1 status=revoked']);
  });

  it('fails, entry by entry, an unknown bus, a detail that is not a JSON object, and a missing source', async () => {
    const local = await startLocalEventBridge();
    const result = await local.events.send(
      new PutEventsCommand({
        Entries: [
          entry({ ok: true }),
          entry({ ok: true }, { EventBusName: 'default' }),
          entry({}, { Detail: '[1]' }),
          entry({}, { Source: undefined }),
        ],
      }),
    );
    expect(result.FailedEntryCount).toBe(3);
    expect(result.Entries?.map((item) => item.ErrorCode ?? 'ok')).toEqual([
      'ok',
      'ResourceNotFoundException',
      'MalformedDetail',
      'InvalidArgument',
    ]);
    expect(await busEvents(local.url)).toHaveLength(1);
  });

  it('refuses more than 10 entries in one call', async () => {
    const local = await startLocalEventBridge();
    const entries = Array.from({ length: 11 }, (_, i) => entry({ i }));
    await expect(local.events.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await busEvents(local.url)).toEqual([]);
  });

  it('keeps only the last events, oldest first', async () => {
    const local = await startLocalEventBridge(3);
    for (let i = 1; i <= 5; i++) await local.events.send(new PutEventsCommand({ Entries: [entry({ i })] }));
    expect((await busEvents(local.url)).map((event) => event.detail)).toEqual([{ i: 3 }, { i: 4 }, { i: 5 }]);
  });

  it('refuses a delivery filter it cannot answer (400), instead of listing every event as if it matched', async () => {
    // Prepare: a bus with an event, and no events endpoint (so no deliveries)
    const local = await startLocalEventBridge();
    await local.events.send(new PutEventsCommand({ Entries: [entry({ i: 1 })] }));

    for (const query of ['?delivery=failed', '?delivery=bogus']) {
      // Act
      const response = await fetch(`${local.url}/_local/events${query}`);

      // Assess
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { message: string }).message, query).toMatch(/EVENTS_ENDPOINT_URL|pending, delivered or failed/);
    }
    expect(await busEvents(local.url)).toHaveLength(1);
  });

  it('answers an unknown target with UnknownOperationException', async () => {
    const local = await startLocalEventBridge();
    const response = await fetch(`${local.url}${LOCAL_EVENTBRIDGE_PATH}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'com.amazon.coral.service#UnknownOperationException' });
  });
});
