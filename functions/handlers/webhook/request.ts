import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { ZoomWebhookRequest } from '../../adapters/zoom-webhook.js';

/**
 * The request as Zoom sent it: the raw body bytes (API Gateway base64-encodes bodies it does not treat as text,
 * and the signature covers the bytes, not a re-serialization) and the headers by lower-case name. Validation is
 * the signature check's job, which must see the body untouched.
 */
export function webhookRequestOf(event: APIGatewayProxyEventV2): ZoomWebhookRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  return { headers, body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
}
