import { getSecretsManager, getSqs } from '../../adapters/aws-clients.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';
import { WebhookQueue } from '../../adapters/webhook-queue.js';
import type { AcceptWebhookDeps } from '../../adapters/zoom-webhook.js';
import { loadConfig } from '../../core/config.js';
import { MisconfiguredError } from '../../core/errors.js';

/**
 * The webhook's composition root. The webhook only verifies and enqueues: Zoom wants an answer within 3 s, and
 * everything slow (DynamoDB, Recall) happens in the worker behind the queue. This root must not import DynamoDB or
 * the Recall client (stored-services.ts builds those), so they stay out of its bundle and its cold start.
 *
 * A bad environment fails the cold start on purpose (the stack sets it, and its tests check it); an unfilled
 * Secret Token is a 503 per request instead, which Zoom retries.
 */
export function webhookServices(): AcceptWebhookDeps {
  const config = loadConfig();
  if (!config.webhookQueueUrl) {
    throw new MisconfiguredError('WEBHOOK_QUEUE_URL is required: the webhook hands every verified event to that queue.');
  }
  const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
  const queue = new WebhookQueue(config.webhookQueueUrl, getSqs);
  return {
    secretToken: () => secrets.webhookSecretToken(),
    enqueue: (message) => queue.send(message),
    now: () => Date.now(),
  };
}
