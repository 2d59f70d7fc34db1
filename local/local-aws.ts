import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './api-gateway.js';
import type { EventDeliveries } from './events-endpoint.js';
import { PayloadTooLargeError, readBody, sendJson } from './http-util.js';
import { LOCAL_EVENTBRIDGE_PATH, LOCAL_SQS_PATH } from './local-settings.js';

/**
 * Local stand-ins for the two AWS services the lifecycle needs, reached by the unchanged SDK through
 * `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_EVENTBRIDGE`:
 * - SQS `SendMessage` (AWS JSON 1.0, `x-amz-target: AmazonSQS.SendMessage`), with the MD5 digests the SDK checks,
 *   and delivery to a consumer function in-process as Lambda's SQS event source does it: batches, partial batch
 *   responses (`batchItemFailures`), a bounded number of receives, then a dead-letter list;
 * - EventBridge `PutEvents` (AWS JSON 1.1, `x-amz-target: AWSEvents.PutEvents`) onto one bus, whose last events are
 *   kept and printed.
 * Only what the service uses is implemented; anything else is answered as AWS answers an unknown operation.
 * Request signatures are not checked (local mode signs with dummy credentials).
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

/** An event put on the local bus, as `GET /_local/events` shows it. */
export interface LocalBusEvent {
  id: string;
  time: string;
  source: string;
  detailType: string;
  /** The entry's `Detail`, parsed. */
  detail: unknown;
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

export interface LocalEventBusOptions {
  name: string;
  region: string;
  /** Events kept for `GET /_local/events`; older ones are dropped. */
  capacity?: number;
  log?: (line: string) => void;
}

/** One custom event bus that keeps its last events instead of routing them. */
export class LocalEventBus {
  readonly name: string;
  readonly arn: string;
  readonly #events: LocalBusEvent[] = [];
  readonly #capacity: number;
  readonly #log: ((line: string) => void) | undefined;
  readonly #listeners: ((event: LocalBusEvent) => void)[] = [];

  constructor(options: LocalEventBusOptions) {
    this.name = options.name;
    this.arn = `arn:aws:events:${options.region}:${LOCAL_ACCOUNT_ID}:event-bus/${options.name}`;
    this.#capacity = options.capacity ?? 100;
    this.#log = options.log;
  }

  /** The kept events, oldest first. */
  get events(): readonly LocalBusEvent[] {
    return this.#events;
  }

  /** Calls `listener` with every event the bus accepts, after PutEvents has taken it (as a rule's target is). */
  subscribe(listener: (event: LocalBusEvent) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Puts entries as PutEvents does: each entry succeeds or fails on its own.
   * @returns the PutEvents response
   */
  put(entries: readonly PutEventsEntry[]): PutEventsResponse {
    const results = entries.map((entry) => this.#putOne(entry));
    return { FailedEntryCount: results.filter((result) => 'ErrorCode' in result).length, Entries: results };
  }

  #putOne(entry: PutEventsEntry): PutEventsResultEntry {
    if (entry.EventBusName !== this.name && entry.EventBusName !== this.arn) {
      const bus = entry.EventBusName ?? 'default';
      return { ErrorCode: 'ResourceNotFoundException', ErrorMessage: `Event bus ${bus} does not exist.` };
    }
    if (!entry.Source || !entry.DetailType || entry.Detail === undefined) {
      return { ErrorCode: 'InvalidArgument', ErrorMessage: 'Parameter(s) Source, DetailType and Detail are required.' };
    }
    let detail: unknown;
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      detail = undefined;
    }
    if (detail === null || typeof detail !== 'object' || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is malformed.' };
    }
    const event: LocalBusEvent = {
      id: randomUUID(),
      time: toEventTime(entry.Time),
      source: entry.Source,
      detailType: entry.DetailType,
      detail,
    };
    this.#events.push(event);
    if (this.#events.length > this.#capacity) this.#events.splice(0, this.#events.length - this.#capacity);
    this.#log?.(describeEvent(event));
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#log?.(`Event listener failed: ${describeError(error)}`);
      }
    }
    return { EventId: event.id };
  }
}

/** One compact line: what happened to whom. Connection event details carry no secrets; only these fields print. */
function describeEvent(event: LocalBusEvent): string {
  const detail = event.detail as { userId?: unknown; status?: unknown };
  const field = (name: string, value: unknown) => (typeof value === 'string' ? ` ${name}=${value}` : '');
  return `Event: ${event.detailType}${field('userId', detail.userId)}${field('status', detail.status)}`;
}

/** EventBridge's `time`: an entry's own Time (epoch seconds on the wire) or now, to the second. */
function toEventTime(time: number | string | undefined): string {
  const ms = typeof time === 'number' ? time * 1000 : typeof time === 'string' ? Date.parse(time) : Date.now();
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface PutEventsEntry {
  Source?: string;
  DetailType?: string;
  Detail?: string;
  EventBusName?: string;
  Time?: number | string;
}
type PutEventsResultEntry = { EventId: string } | { ErrorCode: string; ErrorMessage: string };
export interface PutEventsResponse {
  FailedEntryCount: number;
  Entries: PutEventsResultEntry[];
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

const PutEventsSchema = z.looseObject({
  Entries: z.array(
    z.looseObject({
      Source: z.optional(z.string()),
      DetailType: z.optional(z.string()),
      Detail: z.optional(z.string()),
      EventBusName: z.optional(z.string()),
      Time: z.optional(z.union([z.number(), z.string()])),
    }),
  ),
});

/** SQS's limit on a message, attributes included. */
const MAX_MESSAGE_BYTES = 256 * 1024;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;
/** The characters SQS accepts in a message body (https://www.w3.org/TR/REC-xml/#charsets). */
const VALID_MESSAGE_BODY = /^[\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

export interface LocalAwsOptions {
  queue: LocalQueue;
  bus: LocalEventBus;
  /** Deliveries to the product's endpoint (`EVENTS_ENDPOINT_URL`), shown beside each event. */
  deliveries?: EventDeliveries | undefined;
}

/**
 * Serves the local AWS endpoints and the inspection routes on the local server:
 * `POST /_local/sqs` (SQS JSON protocol), `POST /_local/eventbridge` (EventBridge JSON protocol),
 * `GET /_local/events` (with each event's delivery to EVENTS_ENDPOINT_URL when set; `?delivery=failed` for the
 * ones given up on), `GET /_local/dlq` and `POST /_local/dlq/redrive`.
 */
export class LocalAws {
  readonly queue: LocalQueue;
  readonly bus: LocalEventBus;
  readonly #deliveries: EventDeliveries | undefined;

  constructor(options: LocalAwsOptions) {
    this.queue = options.queue;
    this.bus = options.bus;
    this.#deliveries = options.deliveries;
  }

  /** Resolves when every queued webhook has been processed or dead-lettered (tests await this). */
  drain(timeoutMs?: number): Promise<void> {
    return this.queue.drain(timeoutMs);
  }

  /** @param graceMs - how long to wait for a batch in progress */
  close(graceMs?: number): Promise<void> {
    return this.queue.close(graceMs);
  }

  /** @returns false when the path is not one of these */
  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<boolean> {
    const method = req.method ?? 'GET';
    if (pathname === LOCAL_SQS_PATH || pathname.startsWith(`${LOCAL_SQS_PATH}/`)) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      await this.#awsJson(req, res, 'sqs');
      return true;
    }
    if (pathname === LOCAL_EVENTBRIDGE_PATH || pathname === `${LOCAL_EVENTBRIDGE_PATH}/`) {
      if (method !== 'POST') return methodNotAllowed(res, 'POST');
      await this.#awsJson(req, res, 'events');
      return true;
    }
    if (pathname === '/_local/events') {
      if (method !== 'GET') return methodNotAllowed(res, 'GET');
      sendJson(res, 200, this.#eventList(req), { 'cache-control': 'no-store' });
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

  /**
   * The bus's events, each with its `delivery` when an events endpoint is set; `?delivery=failed` lists the
   * deliveries given up on instead (kept even after the bus dropped their events).
   */
  #eventList(req: IncomingMessage): readonly unknown[] {
    const deliveries = this.#deliveries;
    if (!deliveries) return this.bus.events;
    const wanted = new URL(req.url ?? '/', 'http://localhost').searchParams.get('delivery');
    if (wanted === 'failed') return deliveries.failed;
    const events = this.bus.events.map((event) => {
      const delivery = deliveries.statusOf(event.id);
      return delivery ? { ...event, delivery } : event;
    });
    return wanted ? events.filter((event) => 'delivery' in event && event.delivery.status === wanted) : events;
  }

  async #awsJson(req: IncomingMessage, res: ServerResponse, service: 'sqs' | 'events'): Promise<void> {
    const protocol = service === 'sqs' ? AWS_JSON_1_0 : AWS_JSON_1_1;
    const target = req.headers['x-amz-target'];
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_REQUEST_BYTES);
    } catch (error) {
      if (error instanceof PayloadTooLargeError) {
        return awsError(res, protocol, 413, 'RequestEntityTooLarge', 'Request is too large.');
      }
      throw error;
    }
    const mediaType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== protocol) {
      const message = `Local mode speaks only the AWS JSON protocol (${protocol}).`;
      return awsError(res, protocol, 400, 'UnsupportedProtocol', message);
    }
    let input: unknown;
    try {
      input = JSON.parse(raw.toString('utf8'));
    } catch {
      return awsError(res, protocol, 400, 'SerializationException', 'The request body is not JSON.');
    }
    if (service === 'sqs' && target === 'AmazonSQS.SendMessage') return this.#sendMessage(res, input);
    if (service === 'events' && target === 'AWSEvents.PutEvents') return this.#putEvents(res, input);
    // What AWS answers for an operation it does not know; here, also for ones local mode does not implement.
    awsError(res, protocol, 400, 'com.amazon.coral.service#UnknownOperationException', undefined);
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
    sendJson(res, 200, sent, { 'content-type': AWS_JSON_1_0, 'x-amzn-requestid': randomUUID() });
  }

  #putEvents(res: ServerResponse, input: unknown): void {
    const parsed = PutEventsSchema.safeParse(input);
    if (!parsed.success) return awsError(res, AWS_JSON_1_1, 400, 'ValidationException', 'Entries is required.');
    const { Entries: entries } = parsed.data;
    if (entries.length < 1 || entries.length > 10) {
      return awsError(
        res,
        AWS_JSON_1_1,
        400,
        'ValidationException',
        "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length " +
          'less than or equal to 10',
      );
    }
    sendJson(res, 200, this.bus.put(entries), { 'content-type': AWS_JSON_1_1, 'x-amzn-requestid': randomUUID() });
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

const AWS_JSON_1_0 = 'application/x-amz-json-1.0';
const AWS_JSON_1_1 = 'application/x-amz-json-1.1';

function awsError(
  res: ServerResponse,
  protocol: string,
  status: number,
  type: string,
  message: string | undefined,
): void {
  sendJson(res, status, message === undefined ? { __type: type } : { __type: type, message }, {
    'content-type': protocol,
    'x-amzn-requestid': randomUUID(),
  });
}

/** SQS's JSON errors, with the header that lets query-compatible clients see the legacy error code. */
function sqsError(res: ServerResponse, type: string, queryCode: string, message: string): void {
  sendJson(
    res,
    400,
    { __type: `com.amazonaws.sqs#${type}`, message },
    { 'content-type': AWS_JSON_1_0, 'x-amzn-query-error': `${queryCode};Sender`, 'x-amzn-requestid': randomUUID() },
  );
}

function methodNotAllowed(res: ServerResponse, allow: string): true {
  sendJson(res, 405, { message: 'Method Not Allowed' }, { allow });
  return true;
}

/** Error name and message only: handler errors never carry secrets, but message bodies stay out of the log. */
function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}
