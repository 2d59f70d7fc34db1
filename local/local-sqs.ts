import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './api-gateway.js';
import { AWS_JSON_1_0, awsError, awsResult, describeError, methodNotAllowed, serveAwsJson } from './aws-json.js';
import { sendJson } from './http-util.js';
import { LOCAL_SQS_PATH } from './local-settings.js';

/**
 * Local stand-in for the webhook queue, reached by the unchanged SDK through `AWS_ENDPOINT_URL_SQS`: SQS
 * `SendMessage` (AWS JSON 1.0, `x-amz-target: AmazonSQS.SendMessage`), with the MD5 digests the SDK checks, and
 * delivery to a consumer function in-process as Lambda's SQS event source does it: batches, partial batch
 * responses (`batchItemFailures`), a bounded number of receives, then a dead-letter list.
 * Only what the service uses is implemented; anything else is answered as AWS answers an unknown operation.
 */

/** An SQS-triggered function, as Lambda calls it. */
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void | null | undefined>;

/** A message attribute as SendMessage takes it (JSON protocol: binary values base64). */
export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

/** A message that failed its last allowed receive, as the dead-letter queue keeps it. */
export interface DeadLetter {
  messageId: string;
  /** The message body as sent: it is what a redrive sends again. */
  body: string;
  md5OfBody: string;
  messageAttributes: Record<string, MessageAttributeValue>;
  receiveCount: number;
  sentAt: string;
  movedAt: string;
  /** Why the last receive failed: the function's error name, a timeout, or a reported item failure. */
  lastFailure: string;
}

interface QueuedMessage {
  messageId: string;
  body: string;
  md5OfBody: string;
  md5OfMessageAttributes: string | undefined;
  messageAttributes: Record<string, MessageAttributeValue>;
  sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp: number | undefined;
  lastFailure: string;
}

export interface LocalQueueOptions {
  name: string;
  region: string;
  /** The function behind the event source mapping. */
  consumer: SqsHandler;
  consumerName: string;
  /** Receives before a message moves to the dead-letter list, like a redrive policy's `maxReceiveCount`. */
  maxReceiveCount?: number;
  /** How long a failed message stays invisible before it is delivered again (the visibility timeout). */
  retryDelayMs?: number;
  /** Records per invocation, at most. */
  batchSize?: number;
  /** The consumer's timeout; past it the whole batch fails. */
  lambdaTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface SendMessageInput {
  body: string;
  delaySeconds?: number;
  messageAttributes?: Record<string, MessageAttributeValue>;
}

/**
 * One standard queue with a Lambda event source mapping (`ReportBatchItemFailures`) and a redrive policy. The
 * consumer runs one batch at a time, after the SendMessage that queued its messages has been answered.
 */
export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly deadLetters: DeadLetter[] = [];
  /** Running totals since start: messages sent, records delivered (each receive counts), messages dead-lettered. */
  readonly stats = { sent: 0, receives: 0, deadLettered: 0 };
  readonly #options: Required<Omit<LocalQueueOptions, 'log'>> & Pick<LocalQueueOptions, 'log'>;
  readonly #ready: QueuedMessage[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  #inFlight: Promise<void> | undefined;
  #inFlightCount = 0;
  #pumpScheduled = false;
  #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: LocalQueueOptions) {
    this.#options = { maxReceiveCount: 5, retryDelayMs: 1_000, batchSize: 10, lambdaTimeoutMs: 25_000, ...options };
    this.name = options.name;
    this.arn = `arn:aws:sqs:${options.region}:${LOCAL_ACCOUNT_ID}:${options.name}`;
  }

  /** Messages waiting (delayed, ready, or invisible after a failure) or being processed. */
  get pending(): number {
    return this.#timers.size + this.#ready.length + this.#inFlightCount;
  }

  get #idle(): boolean {
    return this.pending === 0 && !this.#pumpScheduled && !this.#inFlight;
  }

  /**
   * Queues a message; delivery starts on a later tick, never inside the caller's request.
   * @returns what SendMessage answers: the message id and the MD5 digests the SDK verifies
   */
  send(input: SendMessageInput): { MessageId: string; MD5OfMessageBody: string; MD5OfMessageAttributes?: string } {
    const messageAttributes = input.messageAttributes ?? {};
    const message: QueuedMessage = {
      messageId: randomUUID(),
      body: input.body,
      md5OfBody: md5Hex(Buffer.from(input.body, 'utf8')),
      md5OfMessageAttributes:
        Object.keys(messageAttributes).length > 0 ? md5OfMessageAttributes(messageAttributes) : undefined,
      messageAttributes,
      sentTimestamp: Date.now(),
      receiveCount: 0,
      firstReceiveTimestamp: undefined,
      lastFailure: '',
    };
    this.stats.sent++;
    this.#makeVisibleAfter(message, (input.delaySeconds ?? 0) * 1000);
    return {
      MessageId: message.messageId,
      MD5OfMessageBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes ? { MD5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
    };
  }

  /** Sends every dead letter back to the queue as a fresh message (an SQS DLQ redrive). */
  redrive(): number {
    const letters = this.deadLetters.splice(0);
    for (const letter of letters) this.send({ body: letter.body, messageAttributes: letter.messageAttributes });
    return letters.length;
  }

  /**
   * Resolves once nothing is waiting or being processed: every message was consumed or dead-lettered.
   * @throws Error after `timeoutMs`, naming how many messages are still pending
   */
  drain(timeoutMs = 10_000): Promise<void> {
    if (this.#idle) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((waiter) => waiter !== done);
        reject(new Error(`The ${this.name} queue still had ${this.pending} message(s) pending after ${timeoutMs} ms.`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#idleWaiters.push(done);
    });
  }

  /**
   * Stops deliveries (queued messages are dropped, as an in-memory queue's are) and waits for the running batch,
   * for a few seconds at most: a function that hangs must not hold up the server's shutdown.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#ready.length = 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#inFlight, new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    this.#notifyIfIdle();
  }

  #makeVisibleAfter(message: QueuedMessage, delayMs: number): void {
    if (this.#closed) return;
    if (delayMs === 0) {
      this.#ready.push(message);
      return this.#schedulePump();
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#ready.push(message);
      this.#schedulePump();
    }, delayMs);
    this.#timers.add(timer);
  }

  /** On the next turn, so that messages becoming visible together are delivered in one batch, as Lambda polls. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#closed || this.#inFlight || this.#ready.length === 0) return this.#notifyIfIdle();
    const batch = this.#ready.splice(0, this.#options.batchSize);
    this.#inFlightCount = batch.length;
    this.#inFlight = this.#deliver(batch).finally(() => {
      this.#inFlight = undefined;
      this.#inFlightCount = 0;
      this.#schedulePump();
    });
  }

  #notifyIfIdle(): void {
    if (!this.#idle) return;
    const waiters = this.#idleWaiters.splice(0);
    for (const waiter of waiters) waiter();
  }

  async #deliver(batch: QueuedMessage[]): Promise<void> {
    const now = Date.now();
    const records = batch.map((message) => {
      message.receiveCount++;
      this.stats.receives++;
      message.firstReceiveTimestamp ??= now;
      return this.#record(message);
    });
    const failed = await this.#invoke(records);
    for (const message of batch) {
      const failure = failed.get(message.messageId);
      if (failure === undefined) continue;
      message.lastFailure = failure;
      if (message.receiveCount >= this.#options.maxReceiveCount) this.#deadLetter(message);
      else this.#makeVisibleAfter(message, this.#options.retryDelayMs);
    }
  }

  /** @returns the failed records' message ids, each with the reason */
  async #invoke(records: SQSRecord[]): Promise<Map<string, string>> {
    const { consumer, consumerName, lambdaTimeoutMs, region, log } = this.#options;
    const everything = (reason: string) => new Map(records.map((record) => [record.messageId, reason]));
    const context = lambdaContext({ functionName: consumerName, region, timeoutMs: lambdaTimeoutMs });
    let timer: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        consumer({ Records: records }, context).then((result) => ({ kind: 'result' as const, result })),
        new Promise<{ kind: 'timeout' }>((resolve) => {
          timer = setTimeout(() => resolve({ kind: 'timeout' }), lambdaTimeoutMs);
        }),
      ]);
      if (outcome.kind === 'timeout') {
        log?.(`Function ${consumerName} timed out after ${lambdaTimeoutMs / 1000} seconds`);
        return everything('timeout');
      }
      const failures = batchItemFailures(outcome.result, records);
      if (failures === 'invalid') {
        log?.(`Function ${consumerName} returned an invalid batch response: the whole batch failed`);
        return everything('invalid batch response');
      }
      return new Map(failures.map((messageId) => [messageId, 'reported in batchItemFailures']));
    } catch (error) {
      log?.(`Function ${consumerName} failed: ${describeError(error)}`);
      return everything(error instanceof Error ? error.name : 'error');
    } finally {
      clearTimeout(timer);
    }
  }

  #record(message: QueuedMessage): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle: randomBytes(48).toString('base64'),
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentTimestamp),
        SenderId: 'AIDALOCALSENDER',
        ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
      },
      messageAttributes: lambdaMessageAttributes(message.messageAttributes),
      md5OfBody: message.md5OfBody,
      ...(message.md5OfMessageAttributes ? { md5OfMessageAttributes: message.md5OfMessageAttributes } : {}),
      eventSource: 'aws:sqs',
      eventSourceARN: this.arn,
      awsRegion: this.#options.region,
    };
  }

  #deadLetter(message: QueuedMessage): void {
    this.stats.deadLettered++;
    this.deadLetters.push({
      messageId: message.messageId,
      body: message.body,
      md5OfBody: message.md5OfBody,
      messageAttributes: message.messageAttributes,
      receiveCount: message.receiveCount,
      sentAt: new Date(message.sentTimestamp).toISOString(),
      movedAt: new Date().toISOString(),
      lastFailure: message.lastFailure,
    });
    this.#options.log?.(
      `Message ${message.messageId} moved to the ${this.name} dead-letter queue after ${message.receiveCount} receives`,
    );
  }
}

/**
 * What Lambda makes of a `ReportBatchItemFailures` response: nothing (or an empty list) is complete success; an
 * identifier that is empty, not a string or not in the batch makes the whole batch fail.
 */
function batchItemFailures(result: unknown, records: readonly SQSRecord[]): string[] | 'invalid' {
  if (result === undefined || result === null) return [];
  if (typeof result !== 'object') return 'invalid';
  const failures = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return [];
  if (!Array.isArray(failures)) return 'invalid';
  const ids = new Set(records.map((record) => record.messageId));
  const failed: string[] = [];
  for (const failure of failures as unknown[]) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return 'invalid';
    failed.push(id);
  }
  return failed;
}

function lambdaMessageAttributes(attributes: Record<string, MessageAttributeValue>): SQSMessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, value]) => [
      name,
      {
        dataType: value.DataType,
        ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
        ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue } : {}),
        stringListValues: [],
        binaryListValues: [],
      },
    ]),
  );
}

const md5Hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/**
 * SQS's `MD5OfMessageAttributes`: for each attribute in name order, the length-prefixed (4 bytes, big-endian) name
 * and data type, a transport byte (1 string, 2 binary), and the length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: Record<string, MessageAttributeValue>): string {
  const parts: Buffer[] = [];
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const value = attributes[name] as MessageAttributeValue;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(value.DataType, 'utf8'));
    if (value.BinaryValue !== undefined) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(Buffer.from(value.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(Buffer.from(value.StringValue ?? '', 'utf8'));
    }
  }
  return md5Hex(Buffer.concat(parts));
}

const MessageAttributeSchema = z.object({
  DataType: z.string().check(z.minLength(1)),
  StringValue: z.optional(z.string()),
  BinaryValue: z.optional(z.string()),
});

const SendMessageSchema = z.looseObject({
  QueueUrl: z.string(),
  MessageBody: z.string(),
  DelaySeconds: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(900))),
  MessageAttributes: z.optional(z.record(z.string(), MessageAttributeSchema)),
});

/** SQS's limit on a message, attributes included. */
const MAX_MESSAGE_BYTES = 256 * 1024;
/** The characters SQS accepts in a message body (https://www.w3.org/TR/REC-xml/#charsets). */
const VALID_MESSAGE_BODY = /^[\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

/**
 * Serves the queue's routes on the local server: `POST /_local/sqs` (SQS JSON protocol), `GET /_local/dlq` and
 * `POST /_local/dlq/redrive`.
 */
export class LocalSqs {
  readonly queue: LocalQueue;

  constructor(queue: LocalQueue) {
    this.queue = queue;
  }

  /** @returns false when the path is not one of these */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    if (pathname === LOCAL_SQS_PATH || pathname.startsWith(`${LOCAL_SQS_PATH}/`)) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      await serveAwsJson(req, res, AWS_JSON_1_0, { 'AmazonSQS.SendMessage': (out, input) => this.#sendMessage(out, input) });
      return true;
    }
    if (pathname === '/_local/dlq') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      sendJson(res, 200, this.queue.deadLetters, { 'cache-control': 'no-store' });
      return true;
    }
    if (pathname === '/_local/dlq/redrive') {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      sendJson(res, 200, { redriven: this.queue.redrive() });
      return true;
    }
    return false;
  }

  #sendMessage(res: ServerResponse, input: unknown): void {
    const parsed = SendMessageSchema.safeParse(input);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join('.') ?? 'request';
      return sqsError(res, 'MissingParameter', 'MissingParameter', `Invalid or missing ${field}.`);
    }
    const { QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delaySeconds } = parsed.data;
    const attributes = parsed.data.MessageAttributes;
    if (!this.#isOurQueue(queueUrl)) {
      const message = 'The specified queue does not exist.';
      return sqsError(res, 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', message);
    }
    if (body.length === 0) {
      const message = 'The request must contain the parameter MessageBody.';
      return sqsError(res, 'MissingParameter', 'MissingParameter', message);
    }
    if (!VALID_MESSAGE_BODY.test(body)) {
      const message = 'Invalid characters found in the message body.';
      return sqsError(res, 'InvalidMessageContents', 'InvalidMessageContents', message);
    }
    const size =
      Buffer.byteLength(body) +
      Object.entries(attributes ?? {}).reduce(
        (total, [name, value]) =>
          total +
          Buffer.byteLength(name) +
          Buffer.byteLength(value.DataType) +
          Buffer.byteLength(value.StringValue ?? '') +
          Buffer.from(value.BinaryValue ?? '', 'base64').length,
        0,
      );
    if (size > MAX_MESSAGE_BYTES) {
      return sqsError(
        res,
        'InvalidParameterValue',
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${MAX_MESSAGE_BYTES} bytes.`,
      );
    }
    const sent = this.queue.send({
      body,
      ...(delaySeconds !== undefined ? { delaySeconds } : {}),
      ...(attributes ? { messageAttributes: attributes } : {}),
    });
    awsResult(res, AWS_JSON_1_0, sent);
  }

  /** The queue URL's path names the account and queue; the host is whatever the caller reached us by. */
  #isOurQueue(queueUrl: string): boolean {
    try {
      return new URL(queueUrl).pathname === `${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/${this.queue.name}`;
    } catch {
      return false;
    }
  }
}

/** SQS's JSON errors, with the header that lets query-compatible clients see the legacy error code. */
function sqsError(res: ServerResponse, type: string, queryCode: string, message: string): void {
  awsError(res, AWS_JSON_1_0, 400, `com.amazonaws.sqs#${type}`, message, { 'x-amzn-query-error': `${queryCode};Sender` });
}
