import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { Connection } from '../../adapters/connection-repository.js';
import { flushMetrics } from '../../adapters/metrics.js';
import { RequestError } from '../../core/errors.js';
import { logger } from '../../core/logger.js';
import { disconnectUser } from '../../lifecycle/disconnect.js';
import { type HttpResult, httpErrors, json } from '../http/http.js';
import { logContext } from '../http/middleware.js';
import { storedServices } from '../composition/stored-services.js';
import { ConnectionPathSchema } from './schema.js';

const { secrets, connections, recall } = storedServices();

/** A user without a connection record, for either method. */
const noConnection = (): HttpResult => json(404, { error: 'No connection for this user.' });

/** The product backend reads (`GET`) or ends (`DELETE`) a user's connection. IAM-authorized on AWS. */
async function connectionsApi(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  const path = ConnectionPathSchema.safeParse(event.pathParameters ?? {});
  if (!path.success) throw new RequestError(400, 'userId must be 1 to 256 characters.');
  const { userId } = path.data;
  switch (event.requestContext.http.method) {
    case 'GET': {
      const connection = await connections.get(userId);
      return connection ? json(200, view(connection)) : noConnection();
    }
    case 'DELETE': {
      // Before any write: with no usable Recall key the record would end but its credential stay behind. The
      // error middleware answers 503 and the product can simply try again.
      await secrets.recallApiKey();
      const ended = await disconnectUser(userId, { connections, recall, now: Date.now });
      if (!ended) return noConnection();
      logger.info('Connection ended', { recallCredentialId: ended.recallCredentialId, status: ended.status });
      return json(200, view(ended));
    }
    default:
      throw new RequestError(405, 'Use GET or DELETE.');
  }
}

/** The public shape of a connection; the index key stays internal. */
function view({ zoomIdentity: _internal, ...connection }: Connection) {
  return connection;
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(logContext())
  .use(flushMetrics())
  .use(httpErrors('json'))
  .handler(connectionsApi);
