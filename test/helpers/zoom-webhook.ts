import { createHmac } from 'node:crypto';
import type { APIGatewayProxyEventV2, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * Zoom's side of the webhook, written independently of the code under test: signatures computed the way Zoom's
 * own sample does, API Gateway events carrying a body, SQS events for the worker, and a fetch wrapper that keeps
 * the raw bytes of every request body.
 */

export const WEBHOOK_QUEUE_URL = 'https://sqs.us-west-2.amazonaws.com/123456789012/recall-zoom-connect-webhooks';

const bytesOf = (body: string | Uint8Array): Buffer =>
  typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);

/** `v0=` + hex(HMAC-SHA256(token, `v0:{timestamp}:{body}`)), over the body bytes. */
export function zoomSign(token: string, timestamp: string, body: string | Uint8Array): string {
  const message = Buffer.concat([Buffer.from(`v0:${timestamp}:`, 'utf8'), bytesOf(body)]);
  return `v0=${createHmac('sha256', token).update(message).digest('hex')}`;
}

export interface WebhookEventInput {
  body?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Send the body base64-encoded, as API Gateway does for bodies it does not treat as text. */
  base64?: boolean;
}

/** `POST /zoom/webhook` as API Gateway HTTP API (payload 2.0) delivers it: lower-case header names. */
export function webhookHttpEvent({ body, headers = {}, base64 = false }: WebhookEventInput): APIGatewayProxyEventV2 {
  const lowerCased = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    version: '2.0',
    routeKey: 'POST /zoom/webhook',
    rawPath: '/zoom/webhook',
    rawQueryString: '',
    headers: { host: 'api.example.com', 'user-agent': 'Zoom Marketplace/1.0a', ...lowerCased },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/zoom/webhook',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.10',
        userAgent: 'Zoom Marketplace/1.0a',
      },
      requestId: 'req-webhook-1',
      routeKey: 'POST /zoom/webhook',
      stage: '$default',
      time: '30/Nov/2026:18:00:00 +0000',
      timeEpoch: 1_796_061_600_000,
    },
    ...(body === undefined ? {} : { body: base64 ? bytesOf(body).toString('base64') : bytesOf(body).toString('utf8') }),
    isBase64Encoded: base64,
  };
}

/** A signed webhook event: the two `x-zm-*` headers and `content-type`, plus any `extraHeaders`. */
export function signedWebhookEvent(
  token: string,
  body: string | Uint8Array,
  timestamp: string,
  options: { base64?: boolean; extraHeaders?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  return webhookHttpEvent({
    body,
    base64: options.base64 ?? false,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'x-zm-request-timestamp': timestamp,
      'x-zm-signature': zoomSign(token, timestamp, body),
      ...options.extraHeaders,
    },
  });
}

/** The queue message the contract fixes, built by hand. */
export function queueMessageBody(
  body: string | Uint8Array,
  {
    timestamp = '1796061600',
    signature = 'v0=' + 'ab'.repeat(32),
    contentType = 'application/json; charset=utf-8',
    receivedAt = '2026-11-30T18:00:00.000Z',
  }: { timestamp?: string; signature?: string; contentType?: string | null; receivedAt?: string } = {},
): string {
  return JSON.stringify({
    v: 1,
    bodyBase64: bytesOf(body).toString('base64'),
    headers: {
      'x-zm-signature': signature,
      'x-zm-request-timestamp': timestamp,
      ...(contentType === null ? {} : { 'content-type': contentType }),
    },
    receivedAt,
  });
}

export function sqsEvent(records: ReadonlyArray<{ messageId: string; body: string }>): SQSEvent {
  return {
    Records: records.map(
      ({ messageId, body }): SQSRecord => ({
        messageId,
        receiptHandle: `receipt-${messageId}`,
        body,
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '1796061600000',
          SenderId: 'AROAEXAMPLE',
          ApproximateFirstReceiveTimestamp: '1796061600100',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-west-2:123456789012:recall-zoom-connect-webhooks',
        awsRegion: 'us-west-2',
      }),
    ),
  };
}

export interface RawRequest {
  url: string;
  method: string;
  headers: Headers;
  /** The body bytes exactly as handed to fetch. */
  body: Uint8Array | undefined;
}

/** Wraps a fetch, keeping each request's raw body bytes (the JSON-parsing fakes cannot show them). */
export function recordRawRequests(inner: typeof fetch): { fetch: typeof fetch; requests: RawRequest[] } {
  const requests: RawRequest[] = [];
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body = init?.body;
    requests.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body:
        body instanceof Uint8Array
          ? new Uint8Array(body)
          : typeof body === 'string'
            ? new TextEncoder().encode(body)
            : undefined,
    });
    return inner(input, init);
  };
  return { fetch: wrapped as typeof fetch, requests };
}
