import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { OutcomeReason } from '../core/errors.js';
import { logger } from '../core/logger.js';
import { type MetricName, METRICS_NAMESPACE, SERVICE_NAME } from '../core/metric-names.js';
import type { RecallAttempt } from './recall-client.js';

/**
 * The service's metrics, in CloudWatch embedded metric format: each invocation's metrics are one JSON line on
 * stdout that CloudWatch Logs turns into metrics, so the request path never calls PutMetricData. The names and
 * namespace (functions/core/metric-names.ts) and the dimensions are a contract: the stack's alarms and dashboard
 * are built on them.
 *
 * Dimensions are `service` only (plus `reason` on the extra `ConnectFailed` set): never a user, state, code or
 * credential id, which would also be a cardinality explosion. A connect attempt's correlation id travels as EMF
 * metadata (a field of the JSON line, searchable in Logs Insights, not a dimension).
 */

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
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME, logger: diagnostics });

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
