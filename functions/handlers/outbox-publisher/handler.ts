import middy from '@middy/core';
import type { Context, DynamoDBStreamEvent, ScheduledEvent } from 'aws-lambda';
import { dynamoDb, getSecretsManager } from '../../adapters/aws-clients.js';
import { loadConfig, requireEventBusName, requireTableName } from '../../core/config.js';
import { ConnectionRepository } from '../../adapters/connection-repository.js';
import { followUpConnect } from '../../connect/credential-sharing.js';
import { EventBridgePublisher } from '../../adapters/event-publisher.js';
import { DynamoIdentityLock } from '../../adapters/identity-lock.js';
import { logger } from '../../core/logger.js';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logContext, logFailedRun } from '../http/middleware.js';
import {
  type OutboxPublisherDeps,
  publishStreamRecords,
  type StreamBatchResult,
  type SweepSummary,
  sweepOutbox,
} from '../../lifecycle/outbox-publisher.js';
import { createRecallClient } from '../../adapters/recall-service.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';

// A bad environment fails the cold start on purpose (the stack sets it, and its tests check it). The entries stay in
// the table meanwhile: nothing is lost while this function cannot run.
const config = loadConfig();
const tableName = requireTableName(config);
const busName = requireEventBusName(config);
const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
const connections = new ConnectionRepository(dynamoDb, tableName);
const lock = new DynamoIdentityLock(dynamoDb, tableName);
const recall = createRecallClient(config, secrets);

const deps: OutboxPublisherDeps = {
  publisher: new EventBridgePublisher(busName),
  connections,
  followUp: (entry) => followUpConnect(entry, { connections, recall, lock, now: Date.now, log: logger }),
  log: logger,
  onPublished: (events) => count('EventsPublished', events),
};

/** Items one sweep run takes at most. */
const SWEEP_MAX_ITEMS = 1_000;
/** Stop starting new items this long before Lambda's timeout, so the sweep's summary is always returned. */
const SAFETY_MARGIN_MS = 10_000;

const isStreamEvent = (event: DynamoDBStreamEvent | ScheduledEvent): event is DynamoDBStreamEvent => 'Records' in event;

/**
 * The outbox publisher, the only function allowed to put lifecycle events on the bus. Invoked by the table's
 * stream (batches of writes, with `ReportBatchItemFailures`), and by a schedule that sweeps up entries the stream
 * consumer left waiting (see `outbox-publisher.ts`).
 */
async function publishOutbox(
  event: DynamoDBStreamEvent | ScheduledEvent,
  context: Context,
): Promise<StreamBatchResult | SweepSummary> {
  logContext(context);
  if (isStreamEvent(event)) {
    const result = await publishStreamRecords(event.Records, deps);
    if (result.batchItemFailures.length > 0) count('EventPublishFailed');
    return result;
  }
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const summary = await sweepOutbox(deps, {
    minAgeMs: config.outboxSweepMinAgeSeconds * 1000,
    // A backlog (the stream consumer down for a while) drains over a few runs; the deadline stops a slow one early.
    maxItems: SWEEP_MAX_ITEMS,
    now: Date.now,
    deadlineMs: Date.now() + Math.max(0, remaining - SAFETY_MARGIN_MS),
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

export const handler = middy<DynamoDBStreamEvent | ScheduledEvent, StreamBatchResult | SweepSummary>()
  .use(flushMetrics())
  .use(logFailedRun('Outbox publisher failed'))
  .handler(publishOutbox);
