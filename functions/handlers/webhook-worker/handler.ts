import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { flushMetrics } from '../../adapters/metrics.js';
import { logContext } from '../http/middleware.js';
import { storedServices } from '../composition/stored-services.js';
import { relayWebhookBatch } from '../lifecycle/webhook-batch.js';

// An unfilled secret fails the records that need it, with one `Service misconfigured` line each, and SQS retries them.
const services = storedServices();

/** Time kept back from Lambda's timeout so the batch can still report which records failed. */
const SAFETY_MARGIN_MS = 3_000;

/** The webhook queue's consumer (SQS event source with `ReportBatchItemFailures`): relays each queued Zoom event. */
async function relayWebhooks(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const signal = AbortSignal.timeout(Math.max(1_000, remaining - SAFETY_MARGIN_MS));
  return relayWebhookBatch(event.Records, services, signal);
}

export const handler = middy<SQSEvent, SQSBatchResponse>().use(logContext()).use(flushMetrics()).handler(relayWebhooks);
