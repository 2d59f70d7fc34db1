import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConnectionRepository } from '../../functions/adapters/connection-repository.js';
import { type ConnectionEventDetail, EventBridgePublisher } from '../../functions/adapters/event-publisher.js';
import {
  type OutboxPublisherDeps,
  type OutboxStreamRecord,
  publishStreamRecords,
  sweepOutbox,
} from '../../functions/lifecycle/outbox-publisher.js';
import type { RecallCredential } from '../../functions/adapters/recall-client.js';
import { readBody, sendJson } from '../../local/http-util.js';
import { LocalEventBridge, LocalEventBus, type PutEventsEntry } from '../../local/local-eventbridge.js';
import { LOCAL_EVENTBRIDGE_PATH } from '../../local/local-settings.js';
import { LOCAL_AWS_CREDENTIALS } from '../../local/local-table.js';
import { connectionKey } from '../../functions/core/table-schema.js';
import { useFileFixture } from '../helpers/file-fixture.js';
import { startServiceTable } from '../helpers/service-table.js';

/**
 * The outbox publisher over real protocols: dynalite for the table, and the local EventBridge stand-in over HTTP,
 * behind a switch that makes PutEvents fail as a whole call (500) or entry by entry (FailedEntryCount), as
 * EventBridge does. Stream records are built from the items as dynalite holds them before and after each write
 * (dynalite has no stream): the same images DynamoDB Streams would deliver.
 */

const BUS = 'outbox-test-bus';
const table = useFileFixture('The service table', () => startServiceTable('outbox-test'));
let repository: ConnectionRepository;
let http: Server;
let bus: LocalEventBus;
let fault: 'none' | 'call' | 'entry' = 'none';
let deps: OutboxPublisherDeps;

beforeAll(async () => {
  repository = new ConnectionRepository(table.client, table.name);
  bus = new LocalEventBus({ name: BUS, region: 'us-east-1', capacity: 10_000 });
  const aws = new LocalEventBridge({ bus });
  http = createServer((req, res) => {
    void (async () => {
      if (fault === 'call') {
        await readBody(req, 1 << 20);
        return sendJson(res, 500, { __type: 'InternalException', message: 'injected' }, { 'content-type': 'application/x-amz-json-1.1' });
      }
      if (fault === 'entry') {
        // The first entry of each call is refused, the others go on the bus: a partial failure.
        const { Entries } = JSON.parse((await readBody(req, 1 << 20)).toString('utf8')) as { Entries: PutEventsEntry[] };
        const rest = bus.put(Entries.slice(1));
        return sendJson(
          res,
          200,
          { FailedEntryCount: rest.FailedEntryCount + 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'injected' }, ...rest.Entries] },
          { 'content-type': 'application/x-amz-json-1.1' },
        );
      }
      await aws.handle(req, res, LOCAL_EVENTBRIDGE_PATH);
    })();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(http.address() as AddressInfo).port}${LOCAL_EVENTBRIDGE_PATH}`;
  // One attempt per call: the publisher's retry is the outbox itself (the stream, the sweep), not the SDK's.
  const eventBridge = new EventBridgeClient({ endpoint, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS, maxAttempts: 1 });
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  deps = { publisher: new EventBridgePublisher(BUS, () => eventBridge), connections: repository, log: silent };
}, 30_000);

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
});

let run = 0;
beforeEach(() => {
  fault = 'none';
  run++;
});

const NOW = () => new Date().toISOString();
const credential = (id: string): RecallCredential => ({ id, oauth_app: 'app-1', status: 'healthy', user_id: 'zu-1', account_id: 'za-1' });
const itemOf = (userId: string) => table.item(connectionKey(userId));
const delivered = (userIds: readonly string[]): ConnectionEventDetail[] =>
  bus.events.map((event) => event.detail as ConnectionEventDetail).filter((detail) => userIds.includes(detail.userId));
/** Each id once, and every redelivery of an id identical to its first delivery. */
function distinct(events: readonly ConnectionEventDetail[]): ConnectionEventDetail[] {
  const first = new Map<string, ConnectionEventDetail>();
  for (const event of events) {
    const seen = first.get(event.eventId);
    if (seen) expect(event, `redelivery of ${event.eventId}`).toEqual(seen);
    else first.set(event.eventId, event);
  }
  return [...first.values()];
}
const pendingFor = async (userIds: readonly string[]) =>
  (await repository.listPendingOutbox('9999', 1_000)).filter((item) => userIds.some((userId) => item.pk?.S === connectionKey(userId)));

/** Three transitions of two users: each user connects, then the first turns unhealthy. */
async function threeTransitions(): Promise<string[]> {
  const users = [`a-${run}`, `b-${run}`];
  const [a, b] = users as [string, string];
  await repository.recordConnected(a, credential(`cred-${run}`), 'app-1', NOW(), 1);
  await repository.recordConnected(b, credential(`cred-${run}`), 'app-1', NOW(), 1);
  await repository.setStatus(a, 'unhealthy', `cred-${run}`, NOW(), ['connected']);
  return users;
}

describe('the outbox publisher when PutEvents fails, then recovers', () => {
  it('delivers every event once the fault clears when whole PutEvents calls fail', async () => {
    const users = await threeTransitions();

    fault = 'call';
    expect(await sweepOutbox(deps, { minAgeMs: 0, now: Date.now })).toMatchObject({ published: 0, failed: 2 });
    expect(delivered(users)).toEqual([]);
    expect(await pendingFor(users)).toHaveLength(2);

    fault = 'none';
    await sweepOutbox(deps, { minAgeMs: 0, now: Date.now });

    const events = distinct(delivered(users));
    expect(events.map((event) => `${event.type} ${event.userId}`).sort()).toEqual(
      [`connected ${users[0]}`, `connected ${users[1]}`, `unhealthy ${users[0]}`].sort(),
    );
    expect(await pendingFor(users)).toEqual([]);
    // Nothing left to publish: a later sweep adds nothing.
    await sweepOutbox(deps, { minAgeMs: 0, now: Date.now });
    expect(delivered(users)).toHaveLength(3);
  });

  it('delivers every event once the fault clears when PutEvents refuses entries one by one (same ids on redelivery)', async () => {
    const users = await threeTransitions();

    fault = 'entry';
    const faulty = await sweepOutbox(deps, { minAgeMs: 0, now: Date.now });
    expect(faulty.failed).toBe(2);
    expect(await pendingFor(users)).toHaveLength(2);

    fault = 'none';
    await sweepOutbox(deps, { minAgeMs: 0, now: Date.now });

    expect(distinct(delivered(users)).map((event) => `${event.type} ${event.userId}`).sort()).toEqual(
      [`connected ${users[0]}`, `connected ${users[1]}`, `unhealthy ${users[0]}`].sort(),
    );
    expect(await pendingFor(users)).toEqual([]);
  });
});

describe('the outbox publisher on the stream', () => {
  /** Writes, keeping each write's stream record (old and new image, as DynamoDB Streams delivers them). */
  async function recordedWrites(userIds: readonly string[]): Promise<OutboxStreamRecord[]> {
    const records: OutboxStreamRecord[] = [];
    let sequence = 1_000 * run;
    for (const userId of userIds) {
      const before = await itemOf(userId);
      await repository.recordConnected(userId, credential(`cred-${run}`), 'app-1', NOW(), 1);
      records.push(streamRecord(String(sequence++), await itemOf(userId), before));
      const connected = await itemOf(userId);
      await repository.setStatus(userId, 'unhealthy', `cred-${run}`, NOW(), ['connected']);
      records.push(streamRecord(String(sequence++), await itemOf(userId), connected));
    }
    return records;
  }
  const streamRecord = (sequence: string, newImage?: Record<string, AttributeValue>, oldImage?: Record<string, AttributeValue>) => ({
    eventName: oldImage ? 'MODIFY' : 'INSERT',
    dynamodb: { SequenceNumber: sequence, NewImage: newImage, ...(oldImage ? { OldImage: oldImage } : {}) },
  });

  it('redelivers without loss when the publisher is killed mid-batch (after putting events, before removing them)', async () => {
    const users = [`k1-${run}`, `k2-${run}`];
    const batch = await recordedWrites(users);
    // Killed on the third record (the second user's connect): its events reached the bus, then the process died
    // before removing the entry.
    let killedOnce = false;
    const killed: OutboxPublisherDeps = {
      ...deps,
      connections: {
        listPendingOutbox: repository.listPendingOutbox.bind(repository),
        acknowledgeOutbox: async (key, attributes, ifSeq) => {
          if (!killedOnce && key.pk?.S === connectionKey(users[1] as string)) {
            killedOnce = true;
            throw new Error('SIGKILL');
          }
          return repository.acknowledgeOutbox(key, attributes, ifSeq);
        },
      },
    };

    const first = await publishStreamRecords(batch, killed);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: batch[2]?.dynamodb?.SequenceNumber }]);

    // Lambda retries from the failed record on (a real SIGKILL fails the invocation: the whole batch comes again).
    await publishStreamRecords(batch.slice(2), deps);
    await publishStreamRecords(batch, deps);

    const events = distinct(delivered(users));
    expect(events.map((event) => `${event.type} ${event.userId}`).sort()).toEqual(
      users.flatMap((userId) => [`connected ${userId}`, `unhealthy ${userId}`]).sort(),
    );
    expect(await pendingFor(users)).toEqual([]);
  });

  it('publishes a stream record for an entry already published (by the sweep, or a redelivery) with the same id', async () => {
    const users = [`d-${run}`];
    const [connect] = await recordedWrites(users);
    await sweepOutbox(deps, { minAgeMs: 0, now: Date.now });
    const swept = delivered(users);

    await publishStreamRecords([connect as OutboxStreamRecord], deps);
    await publishStreamRecords([connect as OutboxStreamRecord], deps);

    const all = delivered(users);
    expect(all.length).toBeGreaterThan(swept.length);
    expect(distinct(all)).toHaveLength(2);
    expect(await pendingFor(users)).toEqual([]);
  });
});
