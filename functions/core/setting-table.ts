/**
 * Every setting in one table: the functions' own (`settings.ts`), then those the stack reads at synth and local mode
 * reads at start. lib/config.ts builds its deploy-config schema and messages from it, local mode its knobs, and
 * docs/operating.md's "Bounds and defaults" table is rendered from it (`npm run docs:tables`).
 *
 * Plain constants only: the stack loads this module at synth. No function imports it, so the stack's settings and
 * their explanations stay out of the functions' bundles.
 */

import type { RouteHandler } from './routes.js';
import { FUNCTION_SETTINGS, LOG_LEVELS, LOG_RETENTION_DAYS, type Setting, type WholeNumberSetting } from './settings.js';

/** A route's own token bucket: requests per second, and the bucket's size. */
const routeThrottle = (route: RouteHandler, rateLimit: number, burstLimit: number) => {
  const routes = route === 'connections' ? 'routes (GET and DELETE each)' : 'route';
  return {
    rateLimit: {
      kind: 'whole',
      key: `routeThrottling.${route}.rateLimit`,
      scope: 'deploy',
      default: rateLimit,
      min: 1,
      unit: 'requests per second',
      meaning: `steady-state limit of the ${route} ${routes}; API Gateway answers 429 above it, whatever the other routes see`,
    },
    burstLimit: {
      kind: 'whole',
      key: `routeThrottling.${route}.burstLimit`,
      scope: 'deploy',
      default: burstLimit,
      min: 1,
      unit: 'requests',
      meaning: `burst of the ${route} ${routes} above its rate (the token bucket's size)`,
    },
  } as const satisfies Record<string, WholeNumberSetting>;
};

/**
 * Each route's own limits (deploy key `routeThrottling`), so a flood of one route cannot starve another. A user's
 * connect is one authorize and one callback; Zoom's webhook deliveries and the product backend's calls come in
 * their own rhythm.
 */
export const ROUTE_THROTTLE_SETTINGS = {
  authorize: routeThrottle('authorize', 25, 50),
  callback: routeThrottle('callback', 25, 50),
  webhook: routeThrottle('webhook', 50, 100),
  connections: routeThrottle('connections', 25, 50),
} as const satisfies Record<RouteHandler, Record<'rateLimit' | 'burstLimit', WholeNumberSetting>>;

/** Every setting, in the order the documentation lists them. */
export const SETTINGS = {
  ...FUNCTION_SETTINGS,
  healthSyncMinutes: {
    kind: 'whole',
    key: 'healthSyncMinutes',
    scope: 'deploy',
    // Each run makes one listing call to a 60-a-minute endpoint.
    default: 15,
    min: 1,
    max: 1_440,
    unit: 'minutes',
    why: ' (a day)',
    meaning: 'minutes between two runs of the health sync, which marks connections of unhealthy Recall credentials',
  },
  reconcileMinutes: {
    kind: 'whole',
    key: 'reconcileMinutes',
    scope: 'deploy',
    // Each run lists the OAuth app's credentials (paced to 30 list calls a minute) and may take up to its 5-minute
    // timeout, so runs are at least 10 minutes apart and never overlap.
    default: 60,
    min: 10,
    max: 1_440,
    unit: 'minutes',
    why: ' (a day)',
    meaning: 'minutes between two scheduled runs of reconcile, which compares Recall\'s credentials with the records',
  },
  throttleRateLimit: {
    kind: 'whole',
    key: 'throttleRateLimit',
    scope: 'deploy',
    default: 50,
    min: 1,
    unit: 'requests per second',
    meaning: 'steady-state limit of the API stage, for a route without its own',
  },
  throttleBurstLimit: {
    kind: 'whole',
    key: 'throttleBurstLimit',
    scope: 'deploy',
    default: 100,
    min: 1,
    unit: 'requests',
    meaning: 'burst limit of the API stage, for a route without its own',
  },
  eventsRateLimitPerSecond: {
    kind: 'whole',
    key: 'eventsEndpoint.rateLimitPerSecond',
    scope: 'deploy',
    // What API destinations accept.
    default: 10,
    min: 1,
    max: 300,
    unit: 'invocations per second',
    meaning: 'requests per second EventBridge sends to the product\'s events endpoint',
  },
  logLevel: {
    kind: 'choice',
    key: 'logLevel',
    scope: 'deploy',
    default: 'INFO',
    choices: LOG_LEVELS,
    meaning: 'level of the functions\' own log lines; Lambda\'s log filter stays at `INFO` (`DEBUG` with `DEBUG`)',
  },
  logRetentionDays: {
    kind: 'choice',
    key: 'logRetentionDays',
    scope: 'deploy',
    default: 30,
    choices: LOG_RETENTION_DAYS,
    meaning: 'days every log group (the functions\', the API access logs) keeps events',
  },
  callbackErrorRateThreshold: {
    kind: 'fraction',
    key: 'callbackErrorRateThreshold',
    scope: 'deploy',
    default: 0.2,
    meaning: 'the callback error-rate alarm fires when this share of callbacks over 15 minutes ends in an error',
  },
  callbackErrorRateMinCallbacks: {
    kind: 'whole',
    key: 'callbackErrorRateMinCallbacks',
    scope: 'deploy',
    default: 5,
    min: 1,
    unit: 'callbacks',
    meaning: 'the fewest callbacks in 15 minutes for the callback error rate to count',
  },
  recallFailureRateThreshold: {
    kind: 'fraction',
    key: 'recallFailureRateThreshold',
    scope: 'deploy',
    default: 0.1,
    meaning: 'the Recall failure-rate alarm fires when this share of Recall attempts over 15 minutes ends unavailable',
  },
  recallFailureRateMinCalls: {
    kind: 'whole',
    key: 'recallFailureRateMinCalls',
    scope: 'deploy',
    default: 5,
    min: 1,
    unit: 'attempts',
    meaning: 'the fewest Recall attempts in 15 minutes for the Recall failure rate to count',
  },
  healthSyncIntervalSeconds: {
    kind: 'whole',
    variable: 'HEALTH_SYNC_INTERVAL_SECONDS',
    scope: 'local',
    default: 900,
    min: 1,
    max: 86_400,
    unit: 'seconds',
    meaning: 'local mode: how often the health sync runs',
  },
  eventsEndpointMaxAttempts: {
    kind: 'whole',
    variable: 'EVENTS_ENDPOINT_MAX_ATTEMPTS',
    scope: 'local',
    default: 5,
    min: 1,
    max: 20,
    unit: 'attempts',
    meaning: 'local mode: attempts to POST one event to `EVENTS_ENDPOINT_URL`',
  },
  eventsEndpointBackoffMs: {
    kind: 'whole',
    variable: 'EVENTS_ENDPOINT_BACKOFF_MS',
    scope: 'local',
    default: 1_000,
    min: 1,
    max: 60_000,
    unit: 'milliseconds',
    meaning: 'local mode: first wait between those attempts (doubling, at most 30 s)',
  },
} as const satisfies Record<string, Setting>;

export type SettingName = keyof typeof SETTINGS;

/** Every setting, the routes' own limits included, in the order the documentation lists them. */
export const SETTING_TABLE: readonly Setting[] = Object.values(SETTINGS).flatMap((setting): Setting[] =>
  setting === SETTINGS.throttleBurstLimit
    ? [setting, ...Object.values(ROUTE_THROTTLE_SETTINGS).flatMap((route) => [route.rateLimit, route.burstLimit])]
    : [setting],
);

