import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { authorizeConnect } from '../../connect/authorize-flow.js';
import { flushMetrics } from '../../adapters/metrics.js';
import { RequestError } from '../../core/errors.js';
import { type HttpResult, redirect } from '../http/http.js';
import { logContext } from '../http/middleware.js';
import { authorizeServices } from '../composition/authorize.js';
import { connectErrors, correlate, countAuthorizeOutcome } from '../connect/outcome-metrics.js';
import { AuthorizeQuerySchema } from './schema.js';

const deps = authorizeServices();

/** `GET /zoom/authorize`: verifies the product's connect token and sends the browser to Zoom's consent page. */
async function authorize(event: APIGatewayProxyEventV2): Promise<HttpResult> {
  // One id for the attempt: on every log line and metric here; the state carries it on to the callback.
  const correlationId = randomUUID();
  correlate(correlationId);
  const query = AuthorizeQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new RequestError(400, 'This connect link is incomplete. Please start again from the app.');
  const next = await authorizeConnect(query.data.connect_token, event.cookies, correlationId, deps);
  countAuthorizeOutcome(next, correlationId);
  return redirect(next.location, next.cookies);
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(logContext())
  .use(flushMetrics())
  .use(connectErrors())
  .handler(authorize);
