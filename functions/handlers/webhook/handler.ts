import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { getSecretsManager, getSqs } from '../../adapters/aws-clients.js';
import { loadConfig } from '../../core/config.js';
import { MisconfiguredError, misconfigurationLogFields, misconfigurationOf } from '../../core/errors.js';
import { type HttpResult, json } from '../http/http.js';
import { logger } from '../../core/logger.js';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logContext } from '../http/middleware.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';
import { WebhookQueue } from '../../adapters/webhook-queue.js';
import { acceptZoomWebhook, WebhookRejectedError } from '../../adapters/zoom-webhook.js';
import { webhookRequestOf } from './request.js';

/*
 * Zoom's event and deauthorization endpoint. It only verifies and enqueues: Zoom wants an answer within 3 s,
 * and everything slow (DynamoDB, Recall) happens in the worker behind the queue. This module must not import
 * DynamoDB or the Recall client, so they stay out of its bundle and its cold start.
 *
 * A bad environment fails the cold start on purpose (the stack sets it, and its tests check it); an unfilled
 * Secret Token is a 503 per request instead, which Zoom retries.
 */
const config = loadConfig();
if (!config.webhookQueueUrl) {
  throw new MisconfiguredError('WEBHOOK_QUEUE_URL is required: the webhook hands every verified event to that queue.');
}
const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
const queue = new WebhookQueue(config.webhookQueueUrl, getSqs);

async function zoomWebhook(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResult> {
  logContext(context);
  const accepted = await acceptZoomWebhook(webhookRequestOf(event), {
    secretToken: () => secrets.webhookSecretToken(),
    enqueue: (message) => queue.send(message),
    now: Date.now,
  });
  count('WebhookAccepted');
  logger.info('Zoom webhook accepted', { zoomEvent: accepted.event });
  return json(200, accepted.answer);
}

/**
 * The one place this function's errors become HTTP, all JSON with `cache-control: no-store`. Refusals say only
 * what was wrong with the request; an unset Secret Token is a 503 that names itself, so ops can tell it from an
 * outage; anything else is a generic 500, which makes Zoom retry.
 */
const webhookErrors: MiddlewareObj<APIGatewayProxyEventV2, HttpResult> = {
  onError: async (request) => {
    const { error } = request;
    if (error instanceof WebhookRejectedError) {
      if (error.statusCode === 401) count('WebhookRejected');
      logger.warn('Zoom webhook refused', { status: error.statusCode, problem: error.problem });
      request.response = json(error.statusCode, { error: error.message });
      return;
    }
    const misconfigured = misconfigurationOf(error);
    if (misconfigured) {
      logger.error('Service misconfigured', misconfigurationLogFields(misconfigured));
      request.response = json(503, { error: 'The webhook is not configured yet.' });
      return;
    }
    logger.error('Zoom webhook failed', { error });
    request.response = json(500, { error: 'internal error' });
  },
};

export const handler = middy<APIGatewayProxyEventV2, HttpResult>().use(flushMetrics()).use(webhookErrors).handler(zoomWebhook);
