import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { OutcomeReason } from '../core/errors.js';
import { logger } from '../core/logger.js';
import type { RecallAttempt } from './recall-client.js';

/**
 * The service's metrics, in CloudWatch embedded metric format: each invocation's metrics are one JSON line on
 * stdout that CloudWatch Logs turns into metrics, so the request path never calls PutMetricData. The names,
 * namespace and dimensions below are a contract: the stack's alarms and dashboard are built on them.
 *
 * Dimensions are `service` only (plus `reason` on the extra `ConnectFailed` set): never a user, state, code or
 * credential id, which would also be a cardinality explosion. A connect attempt's correlation id travels as EMF
 * metadata (a field of the JSON line, searchable in Logs Insights, not a dimension).
 */
export const METRICS_NAMESPACE = 'RecallZoomConnect';
/** The `service` dimension on every metric (Powertools' default dimension). */
export const METRICS_SERVICE = 'recall-zoom-connect';

export const METRIC_NAMES = [
  /** The authorize step sent a browser to Zoom's consent page. */
  'ConnectStarted',
  /** A callback ended `zoom_connect=connected`. */
  'ConnectCompleted',
  /** A callback ended `zoom_connect=denied` (the user declined at Zoom). */
  'ConnectDenied',
  /** A connect attempt ended `zoom_connect=error`; also emitted with a `reason` dimension, in its own set. */
  'ConnectFailed',
  /**
   * A conflict on create was resolved: the old credential deleted so the new one could be created, or a credential
   * another callback had just made adopted.
   */
  'ConflictResolved',
  /** A create ended without a usable answer (timeout, dropped connection, 5xx); the callback listed to find out. */
  'RecallOutcomeUnknown',
  /** A callback sent the user back to Zoom for a fresh code. */
  'Reauthorization',
  /** Every HTTP attempt to Recall. */
  'RecallCall',
  /** A Recall call that ended unavailable (network, timeout, deadline, 409/429/5xx after its retries). */
  'RecallFailure',
  /** A Recall attempt that was retried. */
  'RecallRetry',
  /** Duration of each Recall attempt, in milliseconds. */
  'RecallLatency',
  /** The webhook refused a request with 401 (signature missing, wrong or stale). */
  'WebhookRejected',
  /** The webhook verified and queued an event. */
  'WebhookAccepted',
  /** The worker applied an `app_deauthorized` event. */
  'DeauthorizationProcessed',
  /** Records the health sync moved from `connected` to `unhealthy`. */
  'HealthSyncMarkedUnhealthy',
  /** Records the health sync moved from `unhealthy` back to `connected`. */
  'HealthSyncHealthyAgain',
  /**
   * Outbox publishes that failed (a stream record or a swept item whose events the bus did not take, or whose
   * follow-up failed): retried, nothing lost, but late.
   */
  'EventPublishFailed',
  /** Lifecycle events the outbox publisher put on the bus. */
  'EventsPublished',
  /** Items the outbox sweep found still waiting past its minimum age: the stream consumer is behind or failing. */
  'OutboxSwept',
  /** Live Recall credentials of the OAuth app that reconcile found no record relying on (past the grace period). */
  'ReconcileOrphans',
  /** Relying records that reconcile found on a credential Recall no longer has. */
  'ReconcileDanglingRecords',
  /** Orphans deleted and records repointed or marked unhealthy by reconcile (with its fix setting on). */
  'ReconcileRepaired',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/**
 * Powertools reports its own notes (such as "no application metrics to publish", which is normal here: a GET of a
 * connection emits none) through this; they go to our logger, the routine one at debug level.
 */
const diagnostics = {
  debug: (...content: unknown[]) => logger.debug(String(content[0])),
  info: (...content: unknown[]) => logger.info(String(content[0])),
  warn: (...content: unknown[]) => {
    const message = String(content[0]);
    if (message.startsWith('No application metrics to publish')) logger.debug(message);
    else logger.warn(message);
  },
  error: (...content: unknown[]) => logger.error(String(content[0])),
};

/** One instance per execution environment; `flushMetrics()` writes and clears it after every invocation. */
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, logger: diagnostics });

/** The middy middleware that publishes the invocation's metrics after the handler, on success and on error. */
export const flushMetrics = () => logMetrics(metrics, { throwOnEmptyMetrics: false });

/** Adds `value` to a count metric of this invocation. */
export function count(name: Exclude<MetricName, 'RecallLatency'>, value = 1): void {
  metrics.addMetric(name, MetricUnit.Count, value);
}

/** Ties this invocation's metrics to a connect attempt (metadata, not a dimension). */
export function correlateMetrics(correlationId: string): void {
  metrics.addMetadata('correlationId', correlationId);
}

/**
 * A connect attempt failed: `ConnectFailed` in the invocation's set (the total that alarms use), and once more in
 * a set of its own with the `reason` dimension (the breakdown the dashboard shows). EMF shares one set of
 * dimensions across a line, hence the separate line.
 */
export function connectFailed(reason: OutcomeReason, correlationId?: string): void {
  count('ConnectFailed');
  const byReason = metrics.singleMetric();
  byReason.addDimension('reason', reason);
  if (correlationId) byReason.addMetadata('correlationId', correlationId);
  // A single-metric instance writes its line as soon as the metric is added.
  byReason.addMetric('ConnectFailed', MetricUnit.Count, 1);
}

/** The Recall client's `onAttempt` hook: calls, latency, retries and failures. */
export function recallAttempt(attempt: RecallAttempt): void {
  count('RecallCall');
  metrics.addMetric('RecallLatency', MetricUnit.Milliseconds, attempt.durationMs);
  if (attempt.outcome === 'retry') count('RecallRetry');
  if (attempt.outcome === 'unavailable') count('RecallFailure');
}
