/**
 * The HTTP API's routes, in one place: the stack declares them (lib/constructs/connect-api.ts) and local mode serves
 * them (local/routes.ts) from this table. Each route names the function behind it by its folder under
 * `functions/handlers/`.
 *
 * Plain constants only: the stack loads this module at synth, so it imports nothing.
 */

/** The functions that answer HTTP, by their folder under `functions/handlers/`. */
export type RouteHandler = 'authorize' | 'callback' | 'webhook' | 'connections';

/**
 * Who calls a route, which decides how it is authorized:
 * - `browser`: a user's browser (a connect link, then Zoom's redirect), which has no AWS credentials; the handler
 *   authenticates the request itself (a signed connect token, a one-time state sealed in a cookie). No authorizer.
 * - `zoom`: Zoom's webhook delivery, which signs every request; the handler verifies the signature. No authorizer.
 * - `product`: the product's backend, server to server: IAM (SigV4), or the product's JWTs when configured.
 */
export type RouteCaller = 'browser' | 'zoom' | 'product';

export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** As API Gateway writes it: `{param}` for a path parameter. */
  readonly path: string;
  readonly handler: RouteHandler;
  readonly caller: RouteCaller;
  /** A `product` route's access, for the scope a JWT must carry: reading or changing a connection. */
  readonly access?: 'read' | 'write';
}

export const AUTHORIZE_PATH = '/zoom/authorize';
/** The path of the redirect URI registered at Zoom. */
export const CALLBACK_PATH = '/zoom/callback';
export const WEBHOOK_PATH = '/zoom/webhook';
/** Where the product's backend reads and ends connections. */
export const CONNECTIONS_PATH = '/connections';
export const CONNECTION_PATH = `${CONNECTIONS_PATH}/{userId}`;

/** The path of one user's connection, `/connections/<userId>` (encoded). */
export const connectionPath = (userId: string): string => `${CONNECTIONS_PATH}/${encodeURIComponent(userId)}`;

/** Every route, in the order the stack creates them. One route per method, so each can require its own scope. */
export const HTTP_ROUTES = [
  { method: 'GET', path: AUTHORIZE_PATH, handler: 'authorize', caller: 'browser' },
  { method: 'GET', path: CALLBACK_PATH, handler: 'callback', caller: 'browser' },
  { method: 'GET', path: CONNECTION_PATH, handler: 'connections', caller: 'product', access: 'read' },
  { method: 'DELETE', path: CONNECTION_PATH, handler: 'connections', caller: 'product', access: 'write' },
  { method: 'POST', path: WEBHOOK_PATH, handler: 'webhook', caller: 'zoom' },
] as const satisfies readonly HttpRoute[];

/** `METHOD /path`, API Gateway's route key. */
export const routeKey = (route: Pick<HttpRoute, 'method' | 'path'>): string => `${route.method} ${route.path}`;

/** A function's routes for a reader, e.g. `connections` → `GET|DELETE /connections/{userId}` (its routes share one path). */
export function routeLabel(handler: RouteHandler): string {
  const routes = HTTP_ROUTES.filter((route) => route.handler === handler);
  return `${routes.map((route) => route.method).join('|')} ${routes[0]?.path ?? ''}`;
}

/** The route keys of each function, e.g. `connections` → `GET /connections/{userId}`, `DELETE /connections/{userId}`. */
export function routeKeysOf(handler: RouteHandler): string[] {
  return HTTP_ROUTES.filter((route) => route.handler === handler).map(routeKey);
}
