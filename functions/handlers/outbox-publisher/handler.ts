import middy from '@middy/core';
import type { Context, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { flushMetrics } from '../../adapters/metrics.js';
import type { StreamBatchResult, SweepSummary } from '../../lifecycle/outbox-publisher.js';
import { logContext, logFailedRun } from '../http/middleware.js';
import { outboxServices } from '../composition/outbox.js';
import { dispatchOutbox } from '../lifecycle/outbox-dispatch.js';

const { deps, sweepMinAgeMs } = outboxServices();

/**
 * The outbox publisher, the only function allowed to put lifecycle events on the bus. Invoked by the table's
 * stream (batches of writes), and by a schedule that sweeps up entries the stream consumer left waiting.
 */
function publishOutbox(event: DynamoDBStreamEvent | ScheduledEvent, context: Context): Promise<StreamBatchResult | SweepSummary> {
  return dispatchOutbox(event, context, deps, sweepMinAgeMs);
}

export const handler = middy<DynamoDBStreamEvent | ScheduledEvent, StreamBatchResult | SweepSummary>()
  .use(logContext())
  .use(flushMetrics())
  .use(logFailedRun('Outbox publisher failed'))
  .handler(publishOutbox);
