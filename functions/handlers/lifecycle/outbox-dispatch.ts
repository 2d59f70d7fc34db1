import type { Context, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { count } from '../../adapters/metrics.js';
import { logger } from '../../core/logger.js';
import {
  type OutboxPublisherDeps,
  publishStreamRecords,
  type StreamBatchResult,
  type SweepSummary,
  sweepOutbox,
} from '../../lifecycle/outbox-publisher.js';
import { runDeadline } from './run-budget.js';

/** Items one sweep run takes at most. */
const SWEEP_MAX_ITEMS = 1_000;
/** Stop starting new items this long before Lambda's timeout, so the sweep's summary is always returned. */
const SAFETY_MARGIN_MS = 10_000;
/** Used when the context cannot tell the remaining time (local mode calls the handler directly). */
const DEFAULT_BUDGET_MS = 50_000;

const isStreamEvent = (event: DynamoDBStreamEvent | ScheduledEvent): event is DynamoDBStreamEvent => 'Records' in event;

/**
 * One invocation of the outbox publisher: a batch of the table's stream (with `ReportBatchItemFailures`), or the
 * schedule's sweep for entries the stream consumer left waiting (see lifecycle/outbox-publisher.ts).
 */
export async function dispatchOutbox(
  event: DynamoDBStreamEvent | ScheduledEvent,
  context: Context,
  deps: OutboxPublisherDeps,
  sweepMinAgeMs: number,
): Promise<StreamBatchResult | SweepSummary> {
  if (isStreamEvent(event)) {
    const result = await publishStreamRecords(event.Records, deps);
    if (result.batchItemFailures.length > 0) count('EventPublishFailed');
    return result;
  }
  const summary = await sweepOutbox(deps, {
    minAgeMs: sweepMinAgeMs,
    // A backlog (the stream consumer down for a while) drains over a few runs; the deadline stops a slow one early.
    maxItems: SWEEP_MAX_ITEMS,
    now: () => Date.now(),
    deadlineMs: runDeadline(context, SAFETY_MARGIN_MS, DEFAULT_BUDGET_MS),
  });
  // Only a sweep that finds entries is news (the stream consumer is behind or failing); a quiet one writes nothing,
  // which also keeps local mode, where the sweep runs every 250 ms, from printing a metrics line each time.
  if (summary.items > 0) {
    count('OutboxSwept', summary.items);
    logger.warn('Outbox sweep found entries the stream had not published', { ...summary });
  }
  if (summary.failed > 0) count('EventPublishFailed', summary.failed);
  return summary;
}
