import { HTTP_ROUTES, type RouteHandler, routeKey } from '../functions/core/routes.js';
import type { LambdaRoute } from './api-gateway.js';
import type { SqsHandler } from './local-sqs.js';
import type { ScheduledHandler } from './local-schedule.js';

/**
 * Each HTTP function's module, imported lazily, after local mode has set `process.env`: the handlers read it at import.
 */
const HTTP_HANDLERS: Record<RouteHandler, LambdaRoute['load']> = {
  authorize: () => import('../functions/handlers/authorize/handler.js'),
  callback: () => import('../functions/handlers/callback/handler.js'),
  webhook: () => import('../functions/handlers/webhook/handler.js'),
  connections: () => import('../functions/handlers/connections/handler.js'),
};

/**
 * The HTTP API's routes, from the table the stack declares them from (functions/core/routes.ts). The product's routes
 * take IAM (the local stand-in opens them); the browser routes and Zoom's signed webhook have no authorizer, as on AWS.
 */
export const LAMBDA_ROUTES: readonly LambdaRoute[] = HTTP_ROUTES.map((route) => ({
  routeKey: routeKey(route),
  functionName: route.handler,
  ...(route.caller === 'product' ? { authorization: 'iam' as const } : {}),
  load: HTTP_HANDLERS[route.handler],
}));

/** The functions behind no route: the webhook queue's consumer and the scheduled jobs' targets. */
export const WEBHOOK_WORKER = {
  functionName: 'webhook-worker',
  load: (): Promise<{ handler: SqsHandler }> => import('../functions/handlers/webhook-worker/handler.js'),
};

export const OUTBOX_PUBLISHER = {
  functionName: 'outbox-publisher',
  load: (): Promise<{ handler: ScheduledHandler }> =>
    import('../functions/handlers/outbox-publisher/handler.js') as Promise<{ handler: ScheduledHandler }>,
};

export const HEALTH_SYNC = {
  functionName: 'health-sync',
  load: (): Promise<{ handler: ScheduledHandler }> => import('../functions/handlers/health-sync/handler.js'),
};

/** A loaded module whose `handler` is a scheduled function. */
type ScheduledModule = Promise<{ handler: ScheduledHandler }>;

export const RECONCILE = {
  functionName: 'reconcile',
  load: (): ScheduledModule => import('../functions/handlers/reconcile/handler.js'),
  /**
   * The same file under another URL, so a second module instance: it reads the environment at its own import, so
   * loaded with `RECONCILE_FIX=true` it repairs while the first only reports (Node caches a module per URL).
   */
  loadSecondInstance: (): ScheduledModule =>
    import(new URL('../functions/handlers/reconcile/handler.js?instance=fix', import.meta.url).href) as ScheduledModule,
};
