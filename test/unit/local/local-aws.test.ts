import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT_ID } from '../../../local/api-gateway.js';
import {
  type DeadLetter,
  LocalAws,
  LocalEventBus,
  type LocalBusEvent,
  LocalQueue,
  type LocalQueueOptions,
  md5OfMessageAttributes,
  type SqsHandler,
} from '../../../local/local-aws.js';
import { LOCAL_EVENTBRIDGE_PATH, LOCAL_SQS_PATH } from '../../../local/local-settings.js';
import { LOCAL_AWS_CREDENTIALS } from '../../../local/local-table.js';

/**
 * The local SQS and EventBridge, driven by the real SDK clients: if the wire protocol or a digest is wrong, the SDK
 * refuses the answer here exactly as the handlers' clients would in local mode.
 */

const QUEUE = 'zoom-webhooks';
const BUS = 'recall-zoom-connect-local';

interface Harness {
  url: string;
  queueUrl: string;
  aws: LocalAws;
  invocations: SQSEvent[];
  lines: string[];
  sqs: SQSClient;
  events: EventBridgeClient;
}

const open: { server: Server; aws: LocalAws; clients: { destroy(): void }[] }[] = [];
afterEach(async () => {
  for (const { server, aws, clients } of open.splice(0)) {
    for (const client of clients) client.destroy();
    await aws.close(10);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** A local AWS on its own HTTP server, with `consumer` behind the queue (it records every event it is given). */
async function startLocalAws(
  consumer: SqsHandler = async () => undefined,
  queueOptions: Partial<LocalQueueOptions> = {},
  busCapacity?: number,
): Promise<Harness> {
  const invocations: SQSEvent[] = [];
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const aws = new LocalAws({
    queue: new LocalQueue({
      name: QUEUE,
      region: 'us-east-1',
      consumerName: 'webhook-worker',
      consumer: (event, context) => {
        invocations.push(structuredClone(event));
        return consumer(event, context);
      },
      retryDelayMs: 1,
      log,
      ...queueOptions,
    }),
    bus: new LocalEventBus({ name: BUS, region: 'us-east-1', log, ...(busCapacity ? { capacity: busCapacity } : {}) }),
  });
  const server = createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    aws.handle(req, res, pathname).then((handled) => {
      if (!handled) res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const sqs = new SQSClient({ endpoint: `${url}${LOCAL_SQS_PATH}`, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  const events = new EventBridgeClient({
    endpoint: `${url}${LOCAL_EVENTBRIDGE_PATH}`,
    region: 'us-east-1',
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  open.push({ server, aws, clients: [sqs, events] });
  return { url, queueUrl: `${url}${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/${QUEUE}`, aws, invocations, lines, sqs, events };
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const deadLetters = async (url: string) => (await (await fetch(`${url}/_local/dlq`)).json()) as DeadLetter[];
const busEvents = async (url: string) => (await (await fetch(`${url}/_local/events`)).json()) as LocalBusEvent[];

describe('local SQS: SendMessage over the AWS JSON protocol', () => {
  it('answers the message id and the body MD5 the SDK verifies, then delivers the message as an SQS event', async () => {
    // Prepare
    const local = await startLocalAws();
    const body = JSON.stringify({ v: 1, note: 'héllo ✓' });

    // Act
    const sent = await local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: body }));
    await local.aws.drain();

    // Assess
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(local.invocations).toHaveLength(1);
    const [record] = local.invocations[0]?.Records ?? [];
    expect(record).toMatchObject({
      messageId: sent.MessageId,
      body,
      md5OfBody: md5(body),
      messageAttributes: {},
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:us-east-1:${LOCAL_ACCOUNT_ID}:${QUEUE}`,
      awsRegion: 'us-east-1',
      attributes: { ApproximateReceiveCount: '1', SenderId: expect.any(String) },
    });
    expect(record?.receiptHandle).toEqual(expect.any(String));
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(0);
  });

  it('computes MD5OfMessageAttributes as SQS does and passes the attributes on in Lambda\'s shape', async () => {
    // Prepare
    const local = await startLocalAws();
    // SQS's encoding, by hand: length-prefixed name and type, transport byte 1 (string), length-prefixed value.
    const encoded = Buffer.concat([
      Buffer.from([0, 0, 0, 4]),
      Buffer.from('kind'),
      Buffer.from([0, 0, 0, 6]),
      Buffer.from('String'),
      Buffer.from([1]),
      Buffer.from([0, 0, 0, 5]),
      Buffer.from('zoom!'),
    ]);

    // Act
    const sent = await local.sqs.send(
      new SendMessageCommand({
        QueueUrl: local.queueUrl,
        MessageBody: 'x',
        MessageAttributes: { kind: { DataType: 'String', StringValue: 'zoom!' } },
      }),
    );
    await local.aws.drain();

    // Assess
    expect(sent.MD5OfMessageAttributes).toBe(createHash('md5').update(encoded).digest('hex'));
    expect(local.invocations[0]?.Records[0]?.messageAttributes).toEqual({
      kind: { dataType: 'String', stringValue: 'zoom!', stringListValues: [], binaryListValues: [] },
    });
  });

  it('orders attributes by name and encodes binary values with transport byte 2', () => {
    const forward = md5OfMessageAttributes({ b: { DataType: 'Binary', BinaryValue: 'AAE=' }, a: { DataType: 'Number', StringValue: '1' } });
    const encoded = Buffer.concat([
      Buffer.from([0, 0, 0, 1, 0x61, 0, 0, 0, 6]),
      Buffer.from('Number'),
      Buffer.from([1, 0, 0, 0, 1, 0x31]),
      Buffer.from([0, 0, 0, 1, 0x62, 0, 0, 0, 6]),
      Buffer.from('Binary'),
      Buffer.from([2, 0, 0, 0, 2, 0, 1]),
    ]);
    expect(forward).toBe(createHash('md5').update(encoded).digest('hex'));
  });

  it('delivers after the SendMessage has been answered, never inside it', async () => {
    const local = await startLocalAws();
    local.aws.queue.send({ body: 'later' });
    expect(local.invocations).toHaveLength(0);
    expect(local.aws.queue.pending).toBe(1);
    await local.aws.drain();
    expect(local.invocations).toHaveLength(1);
    expect(local.aws.queue.pending).toBe(0);
  });

  it('delivers messages that become visible together in one batch', async () => {
    const local = await startLocalAws();
    local.aws.queue.send({ body: 'one' });
    local.aws.queue.send({ body: 'two' });
    await local.aws.drain();
    expect(local.invocations.map((event) => event.Records.map((record) => record.body))).toEqual([['one', 'two']]);
  });

  it('refuses a queue URL that is not the local queue with QueueDoesNotExist', async () => {
    const local = await startLocalAws();
    const sending = local.sqs.send(
      new SendMessageCommand({ QueueUrl: `${local.url}${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/other`, MessageBody: 'x' }),
    );
    await expect(sending).rejects.toMatchObject({ name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } });
    expect(local.aws.queue.pending).toBe(0);
  });

  it('refuses an empty body, a body with characters SQS forbids, and one over 256 KiB', async () => {
    const local = await startLocalAws();
    for (const [body, name] of [
      ['', 'MissingParameter'],
      ['bell \u0007', 'InvalidMessageContents'],
      ['x'.repeat(256 * 1024 + 1), 'InvalidParameterValue'],
    ] as const) {
      const sending = local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: body }));
      await expect(sending, name).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
      await sending.catch((error: Error) => expect(error.name).toBe(name));
    }
    expect(local.aws.queue.pending).toBe(0);
  });

  it('answers an operation it does not implement as AWS answers an unknown one', async () => {
    const local = await startLocalAws();
    const receiving = local.sqs.send(new ReceiveMessageCommand({ QueueUrl: local.queueUrl }));
    await expect(receiving).rejects.toMatchObject({
      name: 'UnknownOperationException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses a request that is not the JSON protocol, and methods other than POST', async () => {
    const local = await startLocalAws();
    const query = await fetch(`${local.url}${LOCAL_SQS_PATH}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=SendMessage&MessageBody=x',
    });
    expect(query.status).toBe(400);
    expect(await query.json()).toMatchObject({ __type: 'UnsupportedProtocol' });
    const notJson = await fetch(`${local.url}${LOCAL_SQS_PATH}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: '{',
    });
    expect(notJson.status).toBe(400);
    expect((await fetch(`${local.url}${LOCAL_SQS_PATH}/`)).status).toBe(405);
    expect(local.aws.queue.pending).toBe(0);
  });
});

describe('local SQS: the event source mapping\'s retries and dead-letter queue', () => {
  it('retries only the records reported in batchItemFailures, counting receives, until they succeed', async () => {
    // Prepare: "flaky" fails its first two receives
    const local = await startLocalAws(async (event) => ({
      batchItemFailures: event.Records.filter(
        (record) => record.body === 'flaky' && Number(record.attributes.ApproximateReceiveCount) < 3,
      ).map((record) => ({ itemIdentifier: record.messageId })),
    }));

    // Act
    local.aws.queue.send({ body: 'steady' });
    local.aws.queue.send({ body: 'flaky' });
    await local.aws.drain();

    // Assess
    const deliveries = local.invocations.flatMap((event) =>
      event.Records.map((record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`),
    );
    expect(deliveries).toEqual(['steady#1', 'flaky#1', 'flaky#2', 'flaky#3']);
    expect(await deadLetters(local.url)).toEqual([]);
  });

  it('moves a record that keeps failing to the dead-letter queue after maxReceiveCount receives', async () => {
    // Prepare
    const local = await startLocalAws(async (event) => ({
      batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
    }));

    // Act
    const { MessageId } = await local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: 'doomed' }));
    await local.aws.drain();

    // Assess
    expect(local.invocations).toHaveLength(5);
    const dlq = await deadLetters(local.url);
    expect(dlq).toEqual([
      expect.objectContaining({
        messageId: MessageId,
        body: 'doomed',
        md5OfBody: md5('doomed'),
        receiveCount: 5,
        lastFailure: 'reported in batchItemFailures',
      }),
    ]);
    expect(local.lines).toContain(`Message ${MessageId} moved to the ${QUEUE} dead-letter queue after 5 receives`);
  });

  it('fails the whole batch when the function throws, and when a batchItemFailures id is not in the batch', async () => {
    // Prepare: throws on the first receive, answers a bogus id on the second, succeeds on the third
    const local = await startLocalAws(async (event) => {
      const receive = Number(event.Records[0]?.attributes.ApproximateReceiveCount);
      if (receive === 1) throw new TypeError('boom');
      if (receive === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
      return { batchItemFailures: [] };
    });

    // Act
    local.aws.queue.send({ body: 'a' });
    local.aws.queue.send({ body: 'b' });
    await local.aws.drain();

    // Assess
    expect(local.invocations.map((event) => event.Records.map((record) => record.body))).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
    expect(local.lines).toContain('Function webhook-worker failed: TypeError: boom');
    expect(local.lines).toContain('Function webhook-worker returned an invalid batch response: the whole batch failed');
  });

  it('fails a batch whose function outlives its timeout', async () => {
    const local = await startLocalAws(() => new Promise(() => undefined), { lambdaTimeoutMs: 5, maxReceiveCount: 2 });
    local.aws.queue.send({ body: 'slow' });
    await local.aws.drain();
    expect(local.invocations).toHaveLength(2);
    expect((await deadLetters(local.url))[0]).toMatchObject({ body: 'slow', lastFailure: 'timeout' });
  });

  it('redrives dead letters back to the queue', async () => {
    // Prepare: fails until redriven
    let healthy = false;
    const local = await startLocalAws(
      async (event) => ({
        batchItemFailures: healthy ? [] : event.Records.map((record) => ({ itemIdentifier: record.messageId })),
      }),
      { maxReceiveCount: 1 },
    );
    local.aws.queue.send({ body: 'second chance' });
    await local.aws.drain();
    expect(await deadLetters(local.url)).toHaveLength(1);

    // Act
    healthy = true;
    const response = await fetch(`${local.url}/_local/dlq/redrive`, { method: 'POST' });
    await local.aws.drain();

    // Assess
    expect(await response.json()).toEqual({ redriven: 1 });
    expect(await deadLetters(local.url)).toEqual([]);
    expect(local.invocations.at(-1)?.Records[0]).toMatchObject({
      body: 'second chance',
      attributes: { ApproximateReceiveCount: '1' },
    });
  });

  it('drain rejects, naming what is pending, when the queue does not empty in time', async () => {
    const local = await startLocalAws(() => new Promise(() => undefined), { lambdaTimeoutMs: 60_000 });
    local.aws.queue.send({ body: 'stuck' });
    await expect(local.aws.drain(20)).rejects.toThrow(/1 message\(s\) pending after 20 ms/);
  });
});

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
    const local = await startLocalAws();
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
    const local = await startLocalAws();
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
    const local = await startLocalAws();
    const entries = Array.from({ length: 11 }, (_, i) => entry({ i }));
    await expect(local.events.send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(await busEvents(local.url)).toEqual([]);
  });

  it('keeps only the last events, oldest first', async () => {
    const local = await startLocalAws(undefined, {}, 3);
    for (let i = 1; i <= 5; i++) await local.events.send(new PutEventsCommand({ Entries: [entry({ i })] }));
    expect((await busEvents(local.url)).map((event) => event.detail)).toEqual([{ i: 3 }, { i: 4 }, { i: 5 }]);
  });

  it('answers an unknown target with UnknownOperationException', async () => {
    const local = await startLocalAws();
    const response = await fetch(`${local.url}${LOCAL_EVENTBRIDGE_PATH}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AWSEvents.ListRules' },
      body: '{}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ __type: 'com.amazon.coral.service#UnknownOperationException' });
  });
});
