import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { type CallbackLog, type CallbackRedirect, completeZoomConnect } from '../../connect/callback-flow.js';
import { dynamoDb, getSecretsManager } from '../../adapters/aws-clients.js';
import { loadConfig, requireStateKey, requireTableName } from '../../core/config.js';
import { ConnectionRepository } from '../../adapters/connection-repository.js';
import { ConsumedStateRepository } from '../../adapters/consumed-state-repository.js';
import { RequestError } from '../../core/errors.js';
import { DynamoIdentityLock } from '../../adapters/identity-lock.js';
import { type HttpResult, httpErrors, redirect } from '../http/http.js';
import { logger } from '../../core/logger.js';
import { connectFailed, correlateMetrics, count, flushMetrics } from '../../adapters/metrics.js';
import { logContext } from '../http/middleware.js';
import { createRecallClient } from '../../adapters/recall-service.js';
import { SecretStore } from '../../adapters/secrets.js';
import { sdkSecretReader } from '../../adapters/secrets-sdk.js';
import { CallbackQuerySchema } from './schema.js';

// A bad environment fails the cold start on purpose (the stack sets it, and its tests check it), and so does one
// without a state key; secrets are read per request, and a missing one ends the attempt with reason=misconfigured
// instead (or a 503 page while the state key itself cannot be read: then no return URL can be trusted).
const config = loadConfig();
const tableName = requireTableName(config);
requireStateKey(config, 'callback');
// The SDK reader: this function loads the SDK for DynamoDB anyway.
const secrets = new SecretStore(config, sdkSecretReader(getSecretsManager));
const consumedStates = new ConsumedStateRepository(dynamoDb, tableName);
const connections = new ConnectionRepository(dynamoDb, tableName);
const lock = new DynamoIdentityLock(dynamoDb, tableName);
const recall = createRecallClient(config, secrets);

/**
 * API Gateway gives up after 30 s and Lambda at its own timeout (25 s); the user must land on an outcome well before
 * either: everything with Recall ends by `CALLBACK_DEADLINE_MS` (20 s by default), and at least this long before
 * Lambda's timeout, which leaves time for the record write and the redirect.
 */
const SAFETY_MARGIN_MS = 3_000;

const log: CallbackLog = {
  info: (message, fields) => logger.info(message, fields ?? {}),
  warn: (message, fields) => logger.warn(message, fields ?? {}),
  error: (message, fields) => logger.error(message, fields ?? {}),
  // From here on every log line and metric of this invocation carries the attempt's id, as authorize's did.
  correlate: (correlationId) => {
    logger.appendKeys({ correlationId });
    correlateMetrics(correlationId);
  },
};

/** Zoom's redirect back: finish the attempt and send the user to the product with the outcome. */
async function callback(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResult> {
  logContext(context);
  const query = CallbackQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new RequestError(400, 'This Zoom sign-in link is not valid. Please start again from the app.');
  const now = Date.now();
  const remaining = context.getRemainingTimeInMillis?.() ?? config.callbackDeadlineMs + SAFETY_MARGIN_MS;
  const next = await completeZoomConnect(
    { ...query.data, cookies: event.cookies },
    {
      consumedStates,
      returnUrlAllowlist: config.returnUrlAllowlist,
      installLandingUrl: config.installLandingUrl,
      stateKeys: (options) => secrets.stateKeys(options),
      connections,
      recall,
      lock,
      authorization: {
        zoomAuthorizeUrl: config.zoomAuthorizeUrl,
        zoomRedirectUri: config.zoomRedirectUri,
        stateTtlSeconds: config.oauthStateTtlSeconds,
      },
      zoomClientId: () => secrets.zoomClientId(),
      oauthAppId: config.recallOAuthAppId,
      deadlineMs: now + Math.min(config.callbackDeadlineMs, remaining - SAFETY_MARGIN_MS),
      now: Date.now,
      log,
      onConflictResolved: () => count('ConflictResolved'),
      onOutcomeUnknown: () => count('RecallOutcomeUnknown'),
    },
  );
  countOutcome(next);
  return redirect(next.location, next.cookies);
}

function countOutcome(next: CallbackRedirect): void {
  switch (next.outcome) {
    case 'connected':
      return count('ConnectCompleted');
    case 'denied':
      return count('ConnectDenied');
    case 'reauthorize':
      return count('Reauthorization');
    case 'error':
      return connectFailed(next.reason ?? 'internal', next.correlationId);
    case 'install':
      // No attempt of this service's: nothing started, so nothing ended (the log line names it).
      return;
  }
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(flushMetrics())
  // A 5xx page (the table unreachable, the state key unreadable) is a failed attempt too; a 4xx page (a replayed
  // state, a browser without the attempt's cookie) is not.
  .use(httpErrors('html', { onFailure: (reason) => connectFailed(reason) }))
  .handler(callback);
