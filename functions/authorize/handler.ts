import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { beginZoomAuthorization } from '../shared/authorization.js';
import { dynamoDb, getSecretsManager } from '../shared/clients.js';
import { loadConfig } from '../shared/config.js';
import { type ConnectToken, verifyConnectToken } from '../shared/connect-token.js';
import {
  InvalidConnectTokenError,
  MisconfiguredError,
  misconfigurationLogFields,
  misconfigurationOf,
  RequestError,
} from '../shared/errors.js';
import { type HttpResult, httpErrors, redirect } from '../shared/http.js';
import { logger } from '../shared/logger.js';
import { connectFailed, correlateMetrics, count, flushMetrics } from '../shared/metrics.js';
import { logContext } from '../shared/middleware.js';
import { OAuthStateRepository } from '../shared/oauth-state-repository.js';
import { withOutcome } from '../shared/return-url.js';
import { type AppSecrets, SecretStore } from '../shared/secrets.js';
import { AuthorizeQuerySchema } from './schema.js';

// The environment is the stack's, validated by its own tests: a bad one fails this cold start loudly (and every
// retry of it) rather than serving half-configured. Secrets are another matter: ops fill them in after the
// deploy, so they are read per request and a missing one is answered, not crashed on (see below).
const config = loadConfig();
if (config.secrets.source === 'secrets-manager' && !config.secrets.signingKeySecretId) {
  throw new MisconfiguredError('SIGNING_KEY_SECRET_ID is required: the authorize step verifies connect tokens.');
}
const secrets = new SecretStore(config, getSecretsManager);
const states = new OAuthStateRepository(dynamoDb, config.tableName);

/**
 * A token that none of the cached keys verifies may be signed with a key rotated in after they were read: the
 * keys are read again, at most this often per container, so a rotation needs no wait for the cache to expire.
 */
const SIGNING_KEY_REFRESH_MS = 30_000;

/** Verifies the product's connect token, starts a one-time attempt and sends the browser to Zoom's consent page. */
async function authorize(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResult> {
  logContext(context);
  // One id for the attempt: on every log line and metric here; the state carries it on to the callback.
  const correlationId = randomUUID();
  logger.appendKeys({ correlationId });
  correlateMetrics(correlationId);
  const query = AuthorizeQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new RequestError(400, 'This connect link is incomplete. Please start again from the app.');
  // Without a signing key nothing here can be trusted, the return URL included: the error middleware answers 503.
  const token = await verify(query.data.connect_token);
  let app: AppSecrets;
  try {
    app = await secrets.app();
  } catch (error) {
    const misconfigured = misconfigurationOf(error);
    if (!misconfigured) throw error;
    // The token is verified, so its return URL is trusted: the product shows its own page for the outcome.
    logger.error('Service misconfigured', misconfigurationLogFields(misconfigured));
    connectFailed('misconfigured', correlationId);
    return redirect(withOutcome(token.returnTo, { zoom_connect: 'error', reason: 'misconfigured' }));
  }
  const next = await beginZoomAuthorization(
    { userId: token.userId, returnTo: token.returnTo, correlationId, reauthCount: 0 },
    {
      zoomAuthorizeUrl: config.zoomAuthorizeUrl,
      zoomRedirectUri: config.zoomRedirectUri,
      zoomClientId: app.zoomClientId,
      stateTtlSeconds: config.oauthStateTtlSeconds,
    },
    states,
    Date.now(),
  );
  count('ConnectStarted');
  logger.info('Connect attempt started');
  return redirect(next.location, [next.cookie]);
}

/** Verifies with the cached keys (current, then previous); on a signature mismatch, once more with fresh ones. */
async function verify(jwt: string): Promise<ConnectToken> {
  const keys = await secrets.signingKeys();
  try {
    return await verifyConnectToken(jwt, keys, config.returnUrlAllowlist);
  } catch (error) {
    if (!(error instanceof InvalidConnectTokenError && error.problem === 'bad_signature')) throw error;
    const fresh = await secrets.signingKeys({ maxAgeMs: SIGNING_KEY_REFRESH_MS });
    if (fresh === keys) throw error;
    logger.debug('Connect token signature matched no cached key; verifying again with the keys just read');
    return verifyConnectToken(jwt, fresh, config.returnUrlAllowlist);
  }
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(flushMetrics())
  // A 503 (no signing key) or 500 page ends the attempt as surely as an error redirect: both count as failed.
  .use(httpErrors('html', { onFailure: (reason) => connectFailed(reason) }))
  .handler(authorize);
