import type { LambdaRoute } from './api-gateway.js';

/**
 * The HTTP API's routes, as the stack declares them. A later route (the webhook, say) is one more line here.
 * Modules are imported lazily, after local mode has set `process.env`: the handlers read it at import.
 */
export const LAMBDA_ROUTES: readonly LambdaRoute[] = [
  {
    routeKey: 'GET /zoom/authorize',
    functionName: 'authorize',
    load: () => import('../functions/authorize/handler.js'),
  },
  {
    routeKey: 'GET /zoom/callback',
    functionName: 'callback',
    load: () => import('../functions/callback/handler.js'),
  },
  {
    routeKey: 'GET /connections/{userId}',
    functionName: 'connections',
    authorization: 'iam',
    load: () => import('../functions/connections/handler.js'),
  },
  {
    routeKey: 'DELETE /connections/{userId}',
    functionName: 'connections',
    authorization: 'iam',
    load: () => import('../functions/connections/handler.js'),
  },
];
