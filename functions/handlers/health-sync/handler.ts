import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logger } from '../../core/logger.js';
import { type HealthSyncSummary, syncCredentialHealth } from '../../lifecycle/health-sync.js';
import { logContext, logFailedRun } from '../http/middleware.js';
import { storedServices } from '../composition/stored-services.js';
import { runDeadline } from '../lifecycle/run-budget.js';

// An unfilled secret fails the run with one `Service misconfigured` line, and the next tick tries again.
const { config, connections, recall } = storedServices();

/** Stop starting new work this long before Lambda's timeout, so the summary is always logged and returned. */
const SAFETY_MARGIN_MS = 10_000;

/** The schedule's tick (EventBridge, every 15 minutes by default): one health sync run. */
async function healthSync(_event: ScheduledEvent, context: Context): Promise<HealthSyncSummary> {
  const summary = await syncCredentialHealth({
    recall,
    connections,
    oauthAppId: config.recallOAuthAppId,
    now: Date.now,
    deadlineMs: runDeadline(context, SAFETY_MARGIN_MS),
    log: logger,
  });
  // Zeros too: a run that changed nothing is a data point, and the dashboard shows the schedule is alive.
  count('HealthSyncMarkedUnhealthy', summary.markedUnhealthy);
  count('HealthSyncHealthyAgain', summary.healthyAgain);
  return summary;
}

export const handler = middy<ScheduledEvent, HealthSyncSummary>()
  .use(logContext())
  .use(flushMetrics())
  .use(logFailedRun('Health sync failed'))
  .handler(healthSync);
