import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { dynamoDb, getSecretsManager } from '../shared/clients.js';
import { loadConfig } from '../shared/config.js';
import { ConnectionRepository } from '../shared/connection-repository.js';
import { createEventPublisher } from '../shared/events.js';
import { type HealthSyncSummary, syncCredentialHealth } from '../shared/health-sync.js';
import { logger } from '../shared/logger.js';
import { logContext } from '../shared/middleware.js';
import { RecallClient } from '../shared/recall-client.js';
import { SecretStore } from '../shared/secrets.js';

const config = loadConfig();
const secrets = new SecretStore(config, getSecretsManager);
const connections = new ConnectionRepository(dynamoDb, config.tableName);
const recall = new RecallClient({
  baseUrl: config.recallBaseUrl,
  apiKey: async () => (await secrets.get()).recallApiKey,
  onRetry: (retry) => logger.warn('Retrying a Recall call', retry),
});
const events = createEventPublisher(config, logger);

/** Stop starting new work this long before Lambda's timeout, so the summary is always logged and returned. */
const SAFETY_MARGIN_MS = 10_000;
/** Used when the context cannot tell the remaining time (local mode may call the handler directly). */
const DEFAULT_BUDGET_MS = 60_000;

/** The schedule's tick (EventBridge, every 15 minutes by default): one health sync run. */
async function healthSync(_event: ScheduledEvent, context: Context): Promise<HealthSyncSummary> {
  logContext(context);
  const remaining = context.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS + SAFETY_MARGIN_MS;
  return syncCredentialHealth({
    recall,
    connections,
    events,
    oauthAppId: config.recallOAuthAppId,
    now: Date.now,
    deadlineMs: Date.now() + Math.max(0, remaining - SAFETY_MARGIN_MS),
    log: logger,
  });
}

export const handler = middy<ScheduledEvent, HealthSyncSummary>()
  .use({
    // The run itself failed (Recall's list or the table could not be read): logged here, then rethrown so the
    // invocation counts as an error for alarms, and the next tick tries again.
    onError: async ({ error }) => {
      logger.error('Health sync failed', { error });
    },
  })
  .handler(healthSync);
