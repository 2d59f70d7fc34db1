import { createHmac, timingSafeEqual } from 'node:crypto';
import * as z from 'zod/mini';
import { WebhookRejectedError } from './zoom-webhook-refusals.js';

export { type WebhookProblem, WebhookRejectedError } from './zoom-webhook-refusals.js';

/**
 * Zoom's webhook protocol: signature verification, the `endpoint.url_validation` challenge, the event shapes
 * this service acts on, and the message the webhook hands to the worker's queue. No Lambda types and no AWS
 * calls: the webhook function and the worker both build on it, and local mode can sign events with it.
 *
 * Zoom signs `v0:{x-zm-request-timestamp}:{raw body}` with the app's Secret Token (HMAC-SHA256, hex) and sends
 * `x-zm-signature: v0=<hex>`. The raw body matters: re-serialized JSON would not verify, here or at Recall, which
 * checks the same signature on the forwarded copy.
 */

export const ZOOM_SIGNATURE_HEADER = 'x-zm-signature';
export const ZOOM_TIMESTAMP_HEADER = 'x-zm-request-timestamp';
export const URL_VALIDATION_EVENT = 'endpoint.url_validation';
export const APP_DEAUTHORIZED_EVENT = 'app_deauthorized';

/** A signed request older or newer than this is refused, so a captured one cannot be replayed later. */
export const MAX_TIMESTAMP_SKEW_SECONDS = 300;

/**
 * SQS takes at most 256 KiB per message and the body travels base64 (a third larger) in a JSON envelope. Zoom's
 * events are a few KiB; anything near this is not one of them.
 */
export const MAX_WEBHOOK_BODY_BYTES = 128 * 1024;

/** A queue message the worker cannot act on; retrying will not help, so it ends in the dead-letter queue. */
export class MalformedWebhookMessageError extends Error {
  override readonly name = 'MalformedWebhookMessageError';
}

/**
 * The signature Zoom sends for `rawBody` at `timestamp`.
 * @param timestamp - the `x-zm-request-timestamp` header exactly as received
 * @param rawBody - the body bytes as Zoom sent them
 */
export function zoomSignature(secretToken: string, timestamp: string, rawBody: Uint8Array): string {
  const hmac = createHmac('sha256', secretToken);
  hmac.update(`v0:${timestamp}:`, 'utf8');
  hmac.update(rawBody);
  return `v0=${hmac.digest('hex')}`;
}

export interface SignedRequest {
  rawBody: Uint8Array;
  signature?: string | undefined;
  timestamp?: string | undefined;
}

/**
 * Checks the timestamp window, then the signature, in constant time.
 * @param nowMs - the current time, epoch ms
 * @throws WebhookRejectedError (401) with the reason in `problem`
 */
export function verifyZoomSignature(request: SignedRequest, secretToken: string, nowMs: number): void {
  const { signature, timestamp } = request;
  if (!signature || !timestamp) throw new WebhookRejectedError('missing_signature');
  const sentAtSeconds = timestampSeconds(timestamp);
  if (sentAtSeconds === undefined) throw new WebhookRejectedError('malformed_timestamp');
  if (Math.abs(nowMs / 1000 - sentAtSeconds) > MAX_TIMESTAMP_SKEW_SECONDS) {
    throw new WebhookRejectedError('stale_timestamp');
  }
  const expected = Buffer.from(zoomSignature(secretToken, timestamp, request.rawBody), 'utf8');
  const received = Buffer.from(signature, 'utf8');
  // The expected length is public (`v0=` + 64 hex digits); only the content is compared in constant time.
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    throw new WebhookRejectedError('bad_signature');
  }
}

/** Zoom sends epoch seconds; a value in milliseconds is tolerated. `undefined` when it is not a number. */
function timestampSeconds(header: string): number | undefined {
  if (!/^\d{1,16}$/.test(header)) return undefined;
  const value = Number(header);
  // Epoch seconds stay below 1e11 until the year 5138; anything larger is milliseconds.
  return value >= 1e11 ? value / 1000 : value;
}

export interface UrlValidationAnswer {
  plainToken: string;
  encryptedToken: string;
}

/** The challenge answer Zoom expects: `encryptedToken` = hex(HMAC-SHA256(secret token, plainToken)). */
export function urlValidationAnswer(secretToken: string, plainToken: string): UrlValidationAnswer {
  return { plainToken, encryptedToken: createHmac('sha256', secretToken).update(plainToken, 'utf8').digest('hex') };
}

/** Every Zoom event: a name and a payload. Unknown fields are kept (the worker forwards the raw bytes anyway). */
export const ZoomEventSchema = z.looseObject({
  event: z.string().check(z.minLength(1), z.maxLength(128)),
  event_ts: z.optional(z.number()),
  payload: z.optional(z.unknown()),
});
export type ZoomEvent = z.infer<typeof ZoomEventSchema>;

const UrlValidationPayloadSchema = z.object({
  plainToken: z.string().check(z.minLength(1), z.maxLength(512)),
});

const zoomId = () => z.optional(z.nullable(z.string().check(z.maxLength(256))));

/** `app_deauthorized` (Zoom's deauthorization notification). Only `account_id` or `user_id` is essential. */
export const AppDeauthorizedPayloadSchema = z.looseObject({
  account_id: zoomId(),
  user_id: zoomId(),
  /** Zoom has sent it as the string `"false"`/`"true"`; a boolean is accepted too. */
  user_data_retention: z.optional(z.nullable(z.union([z.string(), z.boolean()]))),
  deauthorization_time: z.optional(z.nullable(z.string())),
  client_id: z.optional(z.nullable(z.string())),
});

/** Reads the raw body as a Zoom event. @throws WebhookRejectedError (400) */
export function parseZoomEvent(rawBody: Uint8Array): ZoomEvent {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(rawBody));
  } catch (error) {
    throw new WebhookRejectedError('not_json', { cause: error });
  }
  const parsed = ZoomEventSchema.safeParse(json);
  if (!parsed.success) throw new WebhookRejectedError('not_an_event');
  return parsed.data;
}

/** The headers forwarded to Recall with the body, as Zoom sent them. */
export const ZoomForwardHeadersSchema = z.object({
  [ZOOM_SIGNATURE_HEADER]: z.string().check(z.minLength(1), z.maxLength(256)),
  [ZOOM_TIMESTAMP_HEADER]: z.string().check(z.minLength(1), z.maxLength(32)),
  'content-type': z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type ZoomForwardHeaders = z.infer<typeof ZoomForwardHeadersSchema>;

export const WEBHOOK_QUEUE_MESSAGE_VERSION = 1;

/**
 * What the webhook sends to the queue and the worker reads: the raw body (base64, so its bytes survive JSON),
 * the headers Recall needs to verify it again, and when it arrived. A breaking change bumps `v`.
 */
export const WebhookQueueMessageSchema = z.object({
  v: z.literal(WEBHOOK_QUEUE_MESSAGE_VERSION),
  bodyBase64: z.base64().check(z.minLength(1)),
  headers: ZoomForwardHeadersSchema,
  receivedAt: z.iso.datetime(),
});
export type WebhookQueueMessage = z.infer<typeof WebhookQueueMessageSchema>;

/** A queued webhook, decoded for the worker. */
export interface QueuedZoomWebhook {
  /** The body exactly as Zoom sent it. */
  body: Uint8Array;
  headers: ZoomForwardHeaders;
  receivedAt: string;
  event: ZoomEvent;
}

/**
 * @param text - an SQS message body
 * @throws MalformedWebhookMessageError when it is not a version-1 message carrying a Zoom event
 */
export function decodeWebhookQueueMessage(text: string): QueuedZoomWebhook {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedWebhookMessageError('The queue message is not JSON.');
  }
  const parsed = WebhookQueueMessageSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)');
    throw new MalformedWebhookMessageError(`The queue message is not a webhook message (${fields.join(', ')}).`);
  }
  const body = new Uint8Array(Buffer.from(parsed.data.bodyBase64, 'base64'));
  let event: ZoomEvent;
  try {
    event = parseZoomEvent(body);
  } catch (error) {
    throw new MalformedWebhookMessageError('The queued body is not a Zoom event.', { cause: error });
  }
  return { body, headers: parsed.data.headers, receivedAt: parsed.data.receivedAt, event };
}

/** What a deauthorization means for this service, read from `app_deauthorized`. */
export interface AppDeauthorization {
  zoomAccountId?: string;
  zoomUserId?: string;
  /** Only an explicit `true` lets the service keep the Zoom ids; anything else means delete them. */
  userDataRetention: boolean;
  /**
   * When the user deauthorized (ISO), never later than when the webhook received it. Connections made after it
   * are a fresh authorization and stand, however late a retried event arrives.
   */
  deauthorizedAt: string;
}

/**
 * @param receivedAt - when the webhook received the event (ISO), the bound and fallback for its time
 * @throws MalformedWebhookMessageError when the event names no Zoom account or user
 */
export function appDeauthorizationOf(event: ZoomEvent, receivedAt: string): AppDeauthorization {
  const parsed = AppDeauthorizedPayloadSchema.safeParse(event.payload);
  if (!parsed.success) throw new MalformedWebhookMessageError('app_deauthorized has no usable payload.');
  const { account_id, user_id, user_data_retention, deauthorization_time } = parsed.data;
  const zoomAccountId = account_id?.trim() || undefined;
  const zoomUserId = user_id?.trim() || undefined;
  if (!zoomAccountId && !zoomUserId) {
    throw new MalformedWebhookMessageError('app_deauthorized names neither a Zoom account nor a Zoom user.');
  }
  const received = Date.parse(receivedAt);
  const stated = [deauthorization_time ? Date.parse(deauthorization_time) : NaN, epochMs(event.event_ts)].find(
    (value) => Number.isFinite(value),
  );
  return {
    ...(zoomAccountId ? { zoomAccountId } : {}),
    ...(zoomUserId ? { zoomUserId } : {}),
    userDataRetention: user_data_retention === true || String(user_data_retention).trim().toLowerCase() === 'true',
    deauthorizedAt: new Date(stated === undefined ? received : Math.min(stated, received)).toISOString(),
  };
}

const epochMs = (value: number | undefined): number =>
  value === undefined || !Number.isFinite(value) || value <= 0 ? NaN : value < 1e11 ? value * 1000 : value;

/** A webhook request, as the function's edge read it. */
export interface ZoomWebhookRequest {
  /** Header names in lower case (API Gateway's payload 2.0 lowercases them). */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body bytes (decoded from base64 when API Gateway encoded it). */
  body: Uint8Array;
}

export interface AcceptWebhookDeps {
  /** The Zoom app's Secret Token; rejects with `MisconfiguredError`, naming the secret, while it is not filled in. */
  secretToken: () => Promise<string>;
  enqueue: (message: WebhookQueueMessage) => Promise<void>;
  now: () => number;
}

export interface WebhookAcceptance {
  event: string;
  /** The JSON to answer Zoom with. */
  answer: UrlValidationAnswer | { status: 'accepted' };
}

/**
 * The webhook endpoint's whole job: verify, answer the URL validation challenge, and hand every verified event to
 * the queue. Nothing unverified is ever queued, and a failure to queue throws so Zoom retries.
 * @throws WebhookRejectedError for requests refused with a 4xx; MisconfiguredError when no Secret Token is set
 */
export async function acceptZoomWebhook(request: ZoomWebhookRequest, deps: AcceptWebhookDeps): Promise<WebhookAcceptance> {
  if (request.body.byteLength > MAX_WEBHOOK_BODY_BYTES) throw new WebhookRejectedError('too_large');
  const signature = request.headers[ZOOM_SIGNATURE_HEADER];
  const timestamp = request.headers[ZOOM_TIMESTAMP_HEADER];
  if (!signature || !timestamp) throw new WebhookRejectedError('missing_signature');
  const secretToken = await deps.secretToken();
  const now = deps.now();
  verifyZoomSignature({ rawBody: request.body, signature, timestamp }, secretToken, now);
  const event = parseZoomEvent(request.body);
  let answer: WebhookAcceptance['answer'] = { status: 'accepted' };
  if (event.event === URL_VALIDATION_EVENT) {
    const payload = UrlValidationPayloadSchema.safeParse(event.payload);
    if (!payload.success) throw new WebhookRejectedError('bad_url_validation');
    answer = urlValidationAnswer(secretToken, payload.data.plainToken);
  }
  const contentType = request.headers['content-type'];
  // Checked here so the worker can always read what the webhook queued.
  const headers = ZoomForwardHeadersSchema.safeParse({
    [ZOOM_SIGNATURE_HEADER]: signature,
    [ZOOM_TIMESTAMP_HEADER]: timestamp,
    ...(contentType ? { 'content-type': contentType } : {}),
  });
  if (!headers.success) throw new WebhookRejectedError('bad_headers');
  await deps.enqueue({
    v: WEBHOOK_QUEUE_MESSAGE_VERSION,
    bodyBase64: Buffer.from(request.body).toString('base64'),
    headers: headers.data,
    receivedAt: new Date(now).toISOString(),
  });
  return { event: event.event, answer };
}
