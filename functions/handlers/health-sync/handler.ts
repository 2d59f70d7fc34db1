import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { dynamoDb, getSecretsManager } from '../../adapters/aws-clients.js';
import { loadConfig, requireTableName } from '../../core/config.js';
import { ConnectionRepository } from '../../adapters/connection-repository.js';
import { type HealthSyncSummary, syncCredentialHealth } from '../../lifecycle/health-sync.js';
import { logger } from '../../core/logger.js';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logContext, logFailedRun } from '../http/middleware.js';
import { createRecallClient } from '../../adapters/recall-service.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';

// A bad environment fails the cold start on purpose (the stack sets it, and its tests check it); an unfilled
// secret fails the run with one `Service misconfigured` line, and the next tick tries again.
const config = loadConfig();
const tableName = requireTableName(config);
const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
const connections = new ConnectionRepository(dynamoDb, tableName);
const recall = createRecallClient(config, secrets);

/** Stop starting new work this long before Lambda's timeout, so the summary is always logged and returned. */
const SAFETY_MARGIN_MS = 10_000;
/** Used when the context cannot tell the remaining time (local mode may call the handler directly). */
const DEFAULT_BUDGET_MS = 60_000;

/** The schedule's tick (EventBridge, every 15 minutes by default): one health sync run. */
async function healthSync(_event: ScheduledEvent, context: Context): Promise<HealthSyncSummary> {
  logContext(context);
  const remaining = context.getRemainingTimeInMillis?.() ?? DEFAULT_BUDGET_MS + SAFETY_MARGIN_MS;
  const summary = await syncCredentialHealth({
    recall,
    connections,
    oauthAppId: config.recallOAuthAppId,
    now: Date.now,
    deadlineMs: Date.now() + Math.max(0, remaining - SAFETY_MARGIN_MS),
    log: logger,
  });
  // Zeros too: a run that changed nothing is a data point, and the dashboard shows the schedule is alive.
  count('HealthSyncMarkedUnhealthy', summary.markedUnhealthy);
  count('HealthSyncHealthyAgain', summary.healthyAgain);
  return summary;
}

export const handler = middy<ScheduledEvent, HealthSyncSummary>()
  .use(flushMetrics())
  .use(logFailedRun('Health sync failed'))
  .handler(healthSync);
