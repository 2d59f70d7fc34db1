/**
 * The service's metric contract, in one place: the CloudWatch namespace, the `service` dimension and every metric
 * name. The functions write these (functions/adapters/metrics.ts, in embedded metric format) and the stack's alarms
 * and dashboard read them (lib/constructs/monitoring.ts), so both ends import them from here.
 *
 * Plain constants only: the stack loads this module at synth and every handler bundles it, so it imports nothing.
 */

/** CloudWatch namespace of the service's metrics. */
export const METRICS_NAMESPACE = 'RecallZoomConnect';

/** The service name every function logs and traces under; also the `service` dimension of every metric. */
export const SERVICE_NAME = 'recall-zoom-connect';

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
