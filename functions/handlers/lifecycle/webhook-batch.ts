import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { count } from '../../adapters/metrics.js';
import { decodeWebhookQueueMessage, MalformedWebhookMessageError } from '../../adapters/zoom-webhook.js';
import { logger, logMisconfiguration } from '../../core/logger.js';
import type { DeauthorizationResult } from '../../lifecycle/deauthorization.js';
import { type RelayDeps, relayZoomWebhook, WebhookForwardError } from '../../lifecycle/webhook-relay.js';
import type { StoredServices } from '../composition/stored-services.js';

const log = {
  info: (message: string, fields?: Record<string, unknown>) => logger.info(message, fields ?? {}),
  error: (message: string, fields?: Record<string, unknown>) => logger.error(message, fields ?? {}),
};

/**
 * One batch of the webhook queue. Records are handled one by one, in order; a record that fails is reported by its
 * message id, so SQS retries only it and, after the queue's maxReceiveCount, moves it to the dead-letter queue.
 * Everything a record does is safe to repeat.
 * @param signal - ends the batch's Recall and DynamoDB work before Lambda's timeout, so the failures can be reported
 */
export async function relayWebhookBatch(
  records: readonly SQSRecord[],
  services: Pick<StoredServices, 'config' | 'connections' | 'recall'>,
  signal: AbortSignal,
): Promise<SQSBatchResponse> {
  const { config, connections, recall } = services;
  const deps: RelayDeps = {
    deauthorization: { connections, recall, oauthAppId: config.recallOAuthAppId, now: () => Date.now(), log },
    recall,
    oauthAppId: config.recallOAuthAppId,
    signal,
    onDeauthorization: (applied) => {
      count('DeauthorizationProcessed');
      logger.info('Zoom deauthorization applied', summary(applied));
    },
  };
  const batchItemFailures: SQSBatchItemFailure[] = [];
  for (const record of records) {
    logger.appendKeys({ messageId: record.messageId });
    try {
      const result = await relayZoomWebhook(decodeWebhookQueueMessage(record.body), deps);
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
  if (logMisconfiguration(error)) return;
  if (error instanceof MalformedWebhookMessageError) {
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
