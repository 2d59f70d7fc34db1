import type { Context } from 'aws-lambda';
import { authorizationSettingsOf } from '../../connect/authorization.js';
import type { CallbackDeps, CallbackLog } from '../../connect/callback-flow.js';
import { dynamoDb } from '../../adapters/aws-clients.js';
import { ConsumedStateRepository } from '../../adapters/consumed-state-repository.js';
import { count } from '../../adapters/metrics.js';
import { requireStateKey } from '../../core/config.js';
import { logger } from '../../core/logger.js';
import { CALLBACK_ANSWER_MARGIN_MS } from '../../core/settings.js';
import { correlate } from '../connect/outcome-metrics.js';
import { storedServices } from './stored-services.js';

const log: CallbackLog = {
  info: (message, fields) => logger.info(message, fields ?? {}),
  warn: (message, fields) => logger.warn(message, fields ?? {}),
  error: (message, fields) => logger.error(message, fields ?? {}),
  // From here on every log line and metric of this invocation carries the attempt's id, as authorize's did.
  correlate,
};

/**
 * The callback's composition root: the stored services (stored-services.ts) and the used-state records. Like a bad
 * environment, a missing state key fails the cold start; an unreadable secret ends the attempt with
 * reason=misconfigured instead (or a 503 page while the state key itself cannot be read: then no return URL can be
 * trusted).
 * @returns the deps of one callback, given its invocation's context (its deadline follows Lambda's remaining time)
 */
export function callbackServices(): (context: Context) => CallbackDeps {
  const { config, tableName, secrets, connections, recall, lock } = storedServices();
  requireStateKey(config, 'callback');
  const deps: Omit<CallbackDeps, 'deadlineMs'> = {
    consumedStates: new ConsumedStateRepository(dynamoDb, tableName),
    returnUrlAllowlist: config.returnUrlAllowlist,
    installLandingUrl: config.installLandingUrl,
    secrets,
    connections,
    recall,
    lock,
    authorization: authorizationSettingsOf(config),
    oauthAppId: config.recallOAuthAppId,
    now: () => Date.now(),
    log,
    onConflictResolved: () => count('ConflictResolved'),
    onOutcomeUnknown: () => count('RecallOutcomeUnknown'),
  };
  // API Gateway gives up after 30 s and Lambda at its own timeout; the user must land on an outcome well before
  // either: everything with Recall ends by `CALLBACK_DEADLINE_MS`, and at least `CALLBACK_ANSWER_MARGIN_MS` before
  // Lambda's timeout, which leaves time for the record write and the redirect.
  return (context) => {
    const remaining = context.getRemainingTimeInMillis?.() ?? config.callbackDeadlineMs + CALLBACK_ANSWER_MARGIN_MS;
    return { ...deps, deadlineMs: Date.now() + Math.min(config.callbackDeadlineMs, remaining - CALLBACK_ANSWER_MARGIN_MS) };
  };
}
