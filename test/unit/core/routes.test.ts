import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HTTP_ROUTES, routeKey, routeKeysOf } from '../../../functions/core/routes.js';
import { LAMBDA_ROUTES } from '../../../local/routes.js';

describe('the route table', () => {
  it('names a handler folder that exists for every route, and no route twice', () => {
    for (const route of HTTP_ROUTES) {
      expect(existsSync(new URL(`../../../functions/handlers/${route.handler}/handler.ts`, import.meta.url)), route.handler).toBe(true);
    }
    const keys = HTTP_ROUTES.map(routeKey);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it("gives each of the product's routes an access level, and no other route one", () => {
    for (const route of HTTP_ROUTES) expect('access' in route, routeKey(route)).toBe(route.caller === 'product');
  });

  it('lists the route keys of one function', () => {
    expect(routeKeysOf('connections')).toEqual(['GET /connections/{userId}', 'DELETE /connections/{userId}']);
    expect(routeKeysOf('callback')).toEqual(['GET /zoom/callback']);
  });

  it('is the table local mode serves: the same keys and functions, IAM exactly on the product routes', () => {
    expect(LAMBDA_ROUTES.map(({ routeKey: key, functionName, authorization }) => ({ key, functionName, authorization }))).toEqual(
      HTTP_ROUTES.map((route) => ({
        key: routeKey(route),
        functionName: route.handler,
        authorization: route.caller === 'product' ? 'iam' : undefined,
      })),
    );
  });
});
