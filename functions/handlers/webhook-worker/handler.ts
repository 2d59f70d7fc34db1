import middy from '@middy/core';
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { dynamoDb, getSecretsManager } from '../../adapters/aws-clients.js';
import { loadConfig, requireTableName } from '../../core/config.js';
import { ConnectionRepository } from '../../adapters/connection-repository.js';
import type { DeauthorizationResult } from '../../lifecycle/deauthorization.js';
import { misconfigurationLogFields, misconfigurationOf } from '../../core/errors.js';
import { logger } from '../../core/logger.js';
import { count, flushMetrics } from '../../adapters/metrics.js';
import { logContext } from '../http/middleware.js';
import { createRecallClient } from '../../adapters/recall-service.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';
import { relayZoomWebhook, WebhookForwardError } from '../../lifecycle/webhook-relay.js';
import { decodeWebhookQueueMessage, MalformedWebhookMessageError } from '../../adapters/zoom-webhook.js';

// A bad environment fails the cold start on purpose (the stack sets it, and its tests check it); an unfilled
// secret fails the records that need it, with one `Service misconfigured` line each, and SQS retries them.
const config = loadConfig();
const tableName = requireTableName(config);
const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
const connections = new ConnectionRepository(dynamoDb, tableName);
const recall = createRecallClient(config, secrets);
const log = {
  info: (message: string, fields?: Record<string, unknown>) => logger.info(message, fields ?? {}),
  error: (message: string, fields?: Record<string, unknown>) => logger.error(message, fields ?? {}),
};

/** Time kept back from Lambda's timeout so the batch can still report which records failed. */
const SAFETY_MARGIN_MS = 3_000;

/**
 * The webhook queue's consumer (SQS event source with `ReportBatchItemFailures`). Records are handled one by
 * one, in order; a record that fails is reported by its message id, so SQS retries only it and, after the
 * queue's maxReceiveCount, moves it to the dead-letter queue. Everything it does is safe to repeat.
 */
async function relayWebhooks(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  logContext(context);
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const signal = AbortSignal.timeout(Math.max(1_000, remaining - SAFETY_MARGIN_MS));
  const batchItemFailures: SQSBatchItemFailure[] = [];
  for (const record of event.Records) {
    logger.appendKeys({ messageId: record.messageId });
    try {
      const result = await relayZoomWebhook(decodeWebhookQueueMessage(record.body), {
        deauthorization: { connections, recall, oauthAppId: config.recallOAuthAppId, now: Date.now, log },
        recall,
        oauthAppId: config.recallOAuthAppId,
        signal,
        onDeauthorization: (applied) => {
          count('DeauthorizationProcessed');
          logger.info('Zoom deauthorization applied', summary(applied));
        },
      });
      logger.info('Zoom webhook relayed', { zoomEvent: result.event });
    } catch (error) {
      reportFailure(error);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } finally {
      logger.removeKeys(['messageId']);
    }
  }
  return { batchItemFailures };
}

function summary(result: DeauthorizationResult) {
  return {
    revoked: result.revokedUserIds.length,
    scrubbed: result.scrubbed,
    deletedCredentials: result.deletedCredentialIds.length,
    keptCredentials: result.keptCredentialIds.length,
  };
}

/** The one place a record's failure is classified for the log; every failure is retried by SQS either way. */
function reportFailure(error: unknown): void {
  const misconfigured = misconfigurationOf(error);
  if (misconfigured) {
    logger.error('Service misconfigured', misconfigurationLogFields(misconfigured));
  } else if (error instanceof MalformedWebhookMessageError) {
    logger.error('Unusable webhook message; it will end in the dead-letter queue', { error });
  } else if (error instanceof WebhookForwardError && error.rejected) {
    logger.error(
      "Recall rejected a forwarded Zoom webhook: check that the Recall OAuth app's webhook secret is the Zoom app's Secret Token",
      { status: error.status, error },
    );
  } else if (error instanceof WebhookForwardError) {
    logger.warn('Recall did not take a forwarded Zoom webhook; SQS will retry it', { status: error.status, error });
  } else {
    logger.error('Processing a Zoom webhook failed; SQS will retry it', { error });
  }
}

export const handler = middy<SQSEvent, SQSBatchResponse>().use(flushMetrics()).handler(relayWebhooks);
