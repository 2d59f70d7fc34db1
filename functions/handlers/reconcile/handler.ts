import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logger } from '../../core/logger.js';
import {
  RECONCILE_LISTS_PER_MINUTE,
  type ReconcileReport,
  reconcile,
  reconcileSummary,
  repairedCount,
} from '../../lifecycle/reconcile.js';
import { logContext, logFailedRun } from '../http/middleware.js';
import { storedServices } from '../composition/stored-services.js';
import { runDeadline } from '../lifecycle/run-budget.js';

// An unfilled secret fails the run with one `Service misconfigured` line, and the next tick tries again.
const { config, connections, recall, lock } = storedServices({ listsPerMinute: RECONCILE_LISTS_PER_MINUTE });

/** Stop starting new work this long before Lambda's timeout, so the report is always logged and returned. */
const SAFETY_MARGIN_MS = 15_000;

/** The schedule's tick (EventBridge, hourly by default): one reconcile run, repairing only with RECONCILE_FIX. */
async function reconcileRun(_event: ScheduledEvent, context: Context): Promise<ReconcileReport> {
  const report = await reconcile({
    recall,
    connections,
    lock,
    oauthAppId: config.recallOAuthAppId,
    fix: config.reconcile.fix,
    orphanGraceMs: config.reconcile.orphanGraceSeconds * 1000,
    now: Date.now,
    deadlineMs: runDeadline(context, SAFETY_MARGIN_MS),
    log: logger,
  });
  // Zeros too: a clean run is a data point, and the dashboard shows the schedule is alive.
  count('ReconcileOrphans', report.orphans.length);
  count('ReconcileDanglingRecords', report.danglingRecords.length);
  count('ReconcileRepaired', repairedCount(report));
  if (report.unresolved > 0) logger.warn('Reconcile finished with problems left', reconcileSummary(report));
  else logger.info('Reconcile finished', reconcileSummary(report));
  return report;
}

export const handler = middy<ScheduledEvent, ReconcileReport>()
  .use(logContext())
  .use(flushMetrics())
  .use(logFailedRun('Reconcile failed'))
  .handler(reconcileRun);
