import type { ServiceConfig } from '../core/config.js';
import { logger } from '../core/logger.js';
import { recallAttempt } from './metrics.js';
import { RecallClient } from './recall-client.js';
import type { SecretStore } from './secrets.js';

/**
 * The Recall client as every function uses it: the API key from the secret store, retries logged, every attempt
 * metered. A 401 means the key was rotated or revoked: the secret cache is cleared, so the next call reads the
 * key again instead of failing with the old one until the cache expires.
 */
export function createRecallClient(
  config: Pick<ServiceConfig, 'recallBaseUrl' | 'recall'>,
  secrets: SecretStore,
  options: { listsPerMinute?: number } = {},
): RecallClient {
  return new RecallClient({
    baseUrl: config.recallBaseUrl,
    timeoutMs: config.recall.timeoutMs,
    retry: {
      maxAttempts: config.recall.maxAttempts,
      baseDelayMs: config.recall.backoffBaseMs,
      maxDelayMs: config.recall.backoffMaxMs,
    },
    ...options,
    apiKey: () => secrets.recallApiKey(),
    onRetry: (retry) => logger.warn('Retrying a Recall call', retry),
    onAttempt: (attempt) => {
      recallAttempt(attempt);
      logger.debug('Recall call', { ...attempt });
      // The webhook forward sends no API key: its 401 is about the OAuth app's webhook secret, not our key.
      if (attempt.status === 401 && attempt.operation !== 'forward') {
        secrets.clear();
        logger.error('Recall refused the API key (401): check the Recall API key secret; it is read again on the next call', {
          operation: attempt.operation,
          status: attempt.status,
        });
      }
    },
  });
}
