import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { beginZoomAuthorization } from '../shared/authorization.js';
import { dynamoDb, getSecretsManager } from '../shared/clients.js';
import { loadConfig } from '../shared/config.js';
import { verifyConnectToken } from '../shared/connect-token.js';
import { MisconfiguredError, RequestError } from '../shared/errors.js';
import { type HttpResult, httpErrors, redirect } from '../shared/http.js';
import { logger } from '../shared/logger.js';
import { logContext } from '../shared/middleware.js';
import { OAuthStateRepository } from '../shared/oauth-state-repository.js';
import { SecretStore } from '../shared/secrets.js';
import { AuthorizeQuerySchema } from './schema.js';

const config = loadConfig();
if (config.secrets.source === 'secrets-manager' && !config.secrets.signingKeySecretId) {
  throw new MisconfiguredError('SIGNING_KEY_SECRET_ID is required: the authorize step verifies connect tokens.');
}
const secrets = new SecretStore(config, getSecretsManager);
const states = new OAuthStateRepository(dynamoDb, config.tableName);

/** Verifies the product's connect token, starts a one-time attempt and sends the browser to Zoom's consent page. */
async function authorize(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResult> {
  logContext(context);
  const query = AuthorizeQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new RequestError(400, 'This connect link is incomplete. Please start again from the app.');
  const { signingKeys, zoomClientId } = await secrets.get();
  const token = await verifyConnectToken(query.data.connect_token, signingKeys, config.returnUrlAllowlist);
  const correlationId = randomUUID();
  logger.appendKeys({ correlationId });
  const next = await beginZoomAuthorization(
    { userId: token.userId, returnTo: token.returnTo, correlationId, reauthCount: 0 },
    {
      zoomAuthorizeUrl: config.zoomAuthorizeUrl,
      zoomRedirectUri: config.zoomRedirectUri,
      zoomClientId,
      stateTtlSeconds: config.oauthStateTtlSeconds,
    },
    states,
    Date.now(),
  );
  logger.info('Connect attempt started');
  return redirect(next.location, [next.cookie]);
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>().use(httpErrors('html')).handler(authorize);
