import { createHash } from 'node:crypto';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCAL_ACCOUNT_ID } from '../../../local/api-gateway.js';
import { LOCAL_SQS_PATH } from '../../../local/local-settings.js';
import {
  type DeadLetter,
  LocalQueue,
  type LocalQueueOptions,
  LocalSqs,
  md5OfMessageAttributes,
  type SqsHandler,
} from '../../../local/local-sqs.js';
import { LOCAL_AWS_CREDENTIALS } from '../../../local/local-table.js';
import { serveLocalRoutes } from '../../helpers/local-routes.js';

/**
 * The local SQS, driven by the real SDK client: if the wire protocol or a digest is wrong, the SDK refuses the
 * answer here exactly as the handlers' clients would in local mode.
 */

const QUEUE = 'zoom-webhooks';

interface Harness {
  url: string;
  queueUrl: string;
  queue: LocalQueue;
  invocations: SQSEvent[];
  lines: string[];
  sqs: SQSClient;
}

const open: { queue: LocalQueue; close: () => Promise<void>; clients: { destroy(): void }[] }[] = [];
afterEach(async () => {
  for (const { queue, close, clients } of open.splice(0)) {
    for (const client of clients) client.destroy();
    await queue.close(10);
    await close();
  }
});

/** A local SQS on its own HTTP server, with `consumer` behind the queue (it records every event it is given). */
async function startLocalSqs(
  consumer: SqsHandler = async () => undefined,
  queueOptions: Partial<LocalQueueOptions> = {},
): Promise<Harness> {
  const invocations: SQSEvent[] = [];
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const queue = new LocalQueue({
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
  });
  const sqsRoutes = new LocalSqs(queue);
  const { url, close } = await serveLocalRoutes((req, res, pathname) => sqsRoutes.handle(req, res, pathname));
  const sqs = new SQSClient({ endpoint: `${url}${LOCAL_SQS_PATH}`, region: 'us-east-1', credentials: LOCAL_AWS_CREDENTIALS });
  open.push({ queue, close, clients: [sqs] });
  return { url, queueUrl: `${url}${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/${QUEUE}`, queue, invocations, lines, sqs };
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');
const deadLetters = async (url: string) => (await (await fetch(`${url}/_local/dlq`)).json()) as DeadLetter[];

describe('local SQS: SendMessage over the AWS JSON protocol', () => {
  it('answers the message id and the body MD5 the SDK verifies, then delivers the message as an SQS event', async () => {
    // Prepare
    const local = await startLocalSqs();
    const body = JSON.stringify({ v: 1, note: 'héllo ✓' });

    // Act
    const sent = await local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: body }));
    await local.queue.drain();

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
    const local = await startLocalSqs();
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
    await local.queue.drain();

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
    const local = await startLocalSqs();
    local.queue.send({ body: 'later' });
    expect(local.invocations).toHaveLength(0);
    expect(local.queue.pending).toBe(1);
    await local.queue.drain();
    expect(local.invocations).toHaveLength(1);
    expect(local.queue.pending).toBe(0);
  });

  it('delivers messages that become visible together in one batch', async () => {
    const local = await startLocalSqs();
    local.queue.send({ body: 'one' });
    local.queue.send({ body: 'two' });
    await local.queue.drain();
    expect(local.invocations.map((event) => event.Records.map((record) => record.body))).toEqual([['one', 'two']]);
  });

  it('refuses a queue URL that is not the local queue with QueueDoesNotExist', async () => {
    const local = await startLocalSqs();
    const sending = local.sqs.send(
      new SendMessageCommand({ QueueUrl: `${local.url}${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/other`, MessageBody: 'x' }),
    );
    await expect(sending).rejects.toMatchObject({ name: 'QueueDoesNotExist', $metadata: { httpStatusCode: 400 } });
    expect(local.queue.pending).toBe(0);
  });

  it('refuses an empty body, a body with characters SQS forbids, and one over 256 KiB', async () => {
    const local = await startLocalSqs();
    for (const [body, name] of [
      ['', 'MissingParameter'],
      ['bell \u0007', 'InvalidMessageContents'],
      ['x'.repeat(256 * 1024 + 1), 'InvalidParameterValue'],
    ] as const) {
      const sending = local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: body }));
      await expect(sending, name).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
      await sending.catch((error: Error) => expect(error.name).toBe(name));
    }
    expect(local.queue.pending).toBe(0);
  });

  it('answers an operation it does not implement as AWS answers an unknown one', async () => {
    const local = await startLocalSqs();
    const receiving = local.sqs.send(new ReceiveMessageCommand({ QueueUrl: local.queueUrl }));
    await expect(receiving).rejects.toMatchObject({
      name: 'UnknownOperationException',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('refuses a request that is not the JSON protocol, and methods other than POST', async () => {
    const local = await startLocalSqs();
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
    expect(local.queue.pending).toBe(0);
  });
});

describe('local SQS: the event source mapping\'s retries and dead-letter queue', () => {
  it('retries only the records reported in batchItemFailures, counting receives, until they succeed', async () => {
    // Prepare: "flaky" fails its first two receives
    const local = await startLocalSqs(async (event) => ({
      batchItemFailures: event.Records.filter(
        (record) => record.body === 'flaky' && Number(record.attributes.ApproximateReceiveCount) < 3,
      ).map((record) => ({ itemIdentifier: record.messageId })),
    }));

    // Act
    local.queue.send({ body: 'steady' });
    local.queue.send({ body: 'flaky' });
    await local.queue.drain();

    // Assess
    const deliveries = local.invocations.flatMap((event) =>
      event.Records.map((record) => `${record.body}#${record.attributes.ApproximateReceiveCount}`),
    );
    expect(deliveries).toEqual(['steady#1', 'flaky#1', 'flaky#2', 'flaky#3']);
    expect(await deadLetters(local.url)).toEqual([]);
  });

  it('moves a record that keeps failing to the dead-letter queue after maxReceiveCount receives', async () => {
    // Prepare
    const local = await startLocalSqs(async (event) => ({
      batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
    }));

    // Act
    const { MessageId } = await local.sqs.send(new SendMessageCommand({ QueueUrl: local.queueUrl, MessageBody: 'doomed' }));
    await local.queue.drain();

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
    const local = await startLocalSqs(async (event) => {
      const receive = Number(event.Records[0]?.attributes.ApproximateReceiveCount);
      if (receive === 1) throw new TypeError('boom');
      if (receive === 2) return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
      return { batchItemFailures: [] };
    });

    // Act
    local.queue.send({ body: 'a' });
    local.queue.send({ body: 'b' });
    await local.queue.drain();

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
    const local = await startLocalSqs(() => new Promise(() => undefined), { lambdaTimeoutMs: 5, maxReceiveCount: 2 });
    local.queue.send({ body: 'slow' });
    await local.queue.drain();
    expect(local.invocations).toHaveLength(2);
    expect((await deadLetters(local.url))[0]).toMatchObject({ body: 'slow', lastFailure: 'timeout' });
  });

  it('redrives dead letters back to the queue', async () => {
    // Prepare: fails until redriven
    let healthy = false;
    const local = await startLocalSqs(
      async (event) => ({
        batchItemFailures: healthy ? [] : event.Records.map((record) => ({ itemIdentifier: record.messageId })),
      }),
      { maxReceiveCount: 1 },
    );
    local.queue.send({ body: 'second chance' });
    await local.queue.drain();
    expect(await deadLetters(local.url)).toHaveLength(1);

    // Act
    healthy = true;
    const response = await fetch(`${local.url}/_local/dlq/redrive`, { method: 'POST' });
    await local.queue.drain();

    // Assess
    expect(await response.json()).toEqual({ redriven: 1 });
    expect(await deadLetters(local.url)).toEqual([]);
    expect(local.invocations.at(-1)?.Records[0]).toMatchObject({
      body: 'second chance',
      attributes: { ApproximateReceiveCount: '1' },
    });
  });

  it('drain rejects, naming what is pending, when the queue does not empty in time', async () => {
    const local = await startLocalSqs(() => new Promise(() => undefined), { lambdaTimeoutMs: 60_000 });
    local.queue.send({ body: 'stuck' });
    await expect(local.queue.drain(20)).rejects.toThrow(/1 message\(s\) pending after 20 ms/);
  });
});
