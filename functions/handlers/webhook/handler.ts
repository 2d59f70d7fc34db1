import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { acceptZoomWebhook } from '../../adapters/zoom-webhook.js';
import { logger } from '../../core/logger.js';
import { type HttpResult, httpErrors, json } from '../http/http.js';
import { logContext } from '../http/middleware.js';
import { webhookServices } from '../composition/webhook.js';
import { webhookRequestOf } from './request.js';

const deps = webhookServices();

/** `POST /zoom/webhook`: Zoom's event and deauthorization endpoint; verifies and enqueues, nothing slower. */
async function zoomWebhook(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  const accepted = await acceptZoomWebhook(webhookRequestOf(event), deps);
  count('WebhookAccepted');
  logger.info('Zoom webhook accepted', { zoomEvent: accepted.event });
  return json(200, accepted.answer);
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(logContext())
  .use(flushMetrics())
  // Refusals say only what was wrong with the request; an unset Secret Token is a 503 that names itself; anything
  // else is a generic 500, which makes Zoom retry.
  .use(httpErrors('webhook'))
  .handler(zoomWebhook);
