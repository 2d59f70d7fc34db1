import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { completeZoomConnect } from '../../connect/callback-flow.js';
import { flushMetrics } from '../../adapters/metrics.js';
import { RequestError } from '../../core/errors.js';
import { type HttpResult, redirect } from '../http/http.js';
import { logContext } from '../http/middleware.js';
import { callbackServices } from '../composition/callback.js';
import { connectErrors, countCallbackOutcome } from '../connect/outcome-metrics.js';
import { CallbackQuerySchema } from './schema.js';

const depsFor = callbackServices();

/** `GET /zoom/callback`: Zoom's redirect back; finishes the attempt and sends the user to the product with the outcome. */
async function callback(event: APIGatewayProxyEventV2, context: Context): Promise<HttpResult> {
  const query = CallbackQuerySchema.safeParse(event.queryStringParameters ?? {});
  if (!query.success) throw new RequestError(400, 'This Zoom sign-in link is not valid. Please start again from the app.');
  const next = await completeZoomConnect({ ...query.data, cookies: event.cookies }, depsFor(context));
  countCallbackOutcome(next);
  return redirect(next.location, next.cookies);
}

export const handler = middy<APIGatewayProxyEventV2, HttpResult>()
  .use(logContext())
  .use(flushMetrics())
  .use(connectErrors())
  .handler(callback);
