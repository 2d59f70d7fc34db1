import type { LambdaRoute } from './api-gateway.js';
import type { SqsHandler } from './local-sqs.js';
import type { ScheduledHandler } from './local-schedule.js';

/**
 * The HTTP API's routes, as the stack declares them. A later route is one more line here.
 * Modules are imported lazily, after local mode has set `process.env`: the handlers read it at import.
 */
export const LAMBDA_ROUTES: readonly LambdaRoute[] = [
  {
    routeKey: 'GET /zoom/authorize',
    functionName: 'authorize',
    load: () => import('../functions/handlers/authorize/handler.js'),
  },
  {
    routeKey: 'GET /zoom/callback',
    functionName: 'callback',
    load: () => import('../functions/handlers/callback/handler.js'),
  },
  {
    // Zoom signs its requests; the function verifies them, so the route has no authorizer (as on AWS).
    routeKey: 'POST /zoom/webhook',
    functionName: 'webhook',
    load: () => import('../functions/handlers/webhook/handler.js'),
  },
  {
    routeKey: 'GET /connections/{userId}',
    functionName: 'connections',
    authorization: 'iam',
    load: () => import('../functions/handlers/connections/handler.js'),
  },
  {
    routeKey: 'DELETE /connections/{userId}',
    functionName: 'connections',
    authorization: 'iam',
    load: () => import('../functions/handlers/connections/handler.js'),
  },
];

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
