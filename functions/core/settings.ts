/**
 * The service's tunable numbers and choices, in one table: for each, its default and bounds, its unit, what it
 * means, the environment variable the functions read it from and the deploy key ops set it with. Everything else
 * reads them from here: functions/core/config.ts builds its environment schema from this table, lib/config.ts its
 * deploy-config schema and its messages, and docs/operating.md's "Bounds and defaults" table is rendered from it
 * (`npm run docs:tables`; a test holds the document to this table).
 *
 * Plain constants only: the stack loads this module at synth and every handler bundles it, so it imports nothing
 * but a type.
 */

import type { RouteHandler } from './routes.js';

interface SettingBase {
  /** The deploy config key (cdk.json's context, a deploy config file, `-c key=value`), when ops set it per deployment. */
  readonly key?: string;
  /** The environment variable the functions read it from, when they do. */
  readonly variable?: string;
  /**
   * Who reads it: `runtime` the functions (set by the stack, or by local mode), `deploy` the stack alone at synth,
   * `local` local mode alone.
   */
  readonly scope: 'runtime' | 'deploy' | 'local';
  /** What it means, in one line. */
  readonly meaning: string;
}

/** A whole number of `unit`, from `min` to `max` (no upper bound without one). */
export interface WholeNumberSetting extends SettingBase {
  readonly kind: 'whole';
  readonly default: number;
  readonly min: number;
  readonly max?: number;
  /** Plural, as messages name it: `milliseconds`, `attempts`. */
  readonly unit: string;
  /** Ends the message of a value out of range with the reason for the range (`: ...` or ` (...)`). */
  readonly why?: string;
}

/** A fraction above 0 and at most 1 (0.2 for 20%). */
export interface FractionSetting extends SettingBase {
  readonly kind: 'fraction';
  readonly default: number;
}

/** One of a fixed list of values. */
export interface ChoiceSetting extends SettingBase {
  readonly kind: 'choice';
  readonly default: string | number;
  readonly choices: readonly (string | number)[];
}

export type Setting = WholeNumberSetting | FractionSetting | ChoiceSetting;

/** The callback function's Lambda timeout: API Gateway cuts every integration off at 30 s, and this stays below it. */
export const CALLBACK_TIMEOUT_SECONDS = 25;
/** What the callback needs after its own deadline to record the outcome and answer the browser. */
export const CALLBACK_ANSWER_MARGIN_MS = 3_000;

/** The levels of the functions' own log lines (Powertools). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;

/** The retention periods CloudWatch Logs accepts, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

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
  recallTimeoutMs: {
    kind: 'whole',
    key: 'recallTimeoutMs',
    variable: 'RECALL_TIMEOUT_MS',
    scope: 'runtime',
    default: 5_000,
    min: 100,
    max: 15_000,
    unit: 'milliseconds',
    meaning: 'timeout of one HTTP attempt to Recall, in every function',
  },
  recallMaxAttempts: {
    kind: 'whole',
    key: 'recallMaxAttempts',
    variable: 'RECALL_MAX_ATTEMPTS',
    scope: 'runtime',
    default: 3,
    min: 1,
    max: 6,
    unit: 'attempts',
    meaning: 'attempts per Recall call, the first included, on network errors, 409, 429 and 502-504',
  },
  recallBackoffBaseMs: {
    kind: 'whole',
    key: 'recallBackoffBaseMs',
    variable: 'RECALL_BACKOFF_BASE_MS',
    scope: 'runtime',
    default: 200,
    min: 1,
    max: 5_000,
    unit: 'milliseconds',
    meaning: 'base of the exponential backoff between Recall attempts (full jitter)',
  },
  recallBackoffMaxMs: {
    kind: 'whole',
    key: 'recallBackoffMaxMs',
    variable: 'RECALL_BACKOFF_MAX_MS',
    scope: 'runtime',
    default: 4_000,
    min: 1,
    max: 10_000,
    unit: 'milliseconds',
    meaning: 'longest single wait between Recall attempts; a `Retry-After` longer than this ends the call instead',
  },
  callbackDeadlineMs: {
    kind: 'whole',
    key: 'callbackDeadlineMs',
    variable: 'CALLBACK_DEADLINE_MS',
    scope: 'runtime',
    default: 20_000,
    // The create keeps 2.5 s of the deadline back to find out its fate when its answer is lost
    // (credential-exchange.ts): a shorter deadline would leave the create no time at all.
    min: 5_000,
    // Below the callback's Lambda timeout (and so API Gateway's 30 s), with time left to answer: 22 s.
    max: CALLBACK_TIMEOUT_SECONDS * 1000 - CALLBACK_ANSWER_MARGIN_MS,
    unit: 'milliseconds',
    why: `: the callback's Lambda timeout is ${CALLBACK_TIMEOUT_SECONDS} s, and it needs ${CALLBACK_ANSWER_MARGIN_MS / 1000} s after its deadline to answer`,
    meaning: 'everything one Zoom callback does with Recall ends by then, and the user lands on `reason=recall_unavailable`',
  },
  connectTokenMaxTtlSeconds: {
    kind: 'whole',
    key: 'connectTokenMaxTtlSeconds',
    variable: 'CONNECT_TOKEN_MAX_TTL_SECONDS',
    scope: 'runtime',
    default: 900,
    min: 60,
    max: 3_600,
    unit: 'seconds',
    why: ': a connect link is a bearer credential, minted at click time',
    meaning: 'the longest a connect token may still have to live (`exp` − now); a token living longer is refused',
  },
  reconcileOrphanGraceSeconds: {
    kind: 'whole',
    key: 'reconcileOrphanGraceSeconds',
    variable: 'RECONCILE_ORPHAN_GRACE_SECONDS',
    scope: 'runtime',
    default: 900,
    min: 120,
    max: 86_400,
    unit: 'seconds',
    meaning: 'reconcile never treats a credential younger than this as an orphan: it may belong to a callback still running',
  },
  oauthStateTtlSeconds: {
    kind: 'whole',
    variable: 'OAUTH_STATE_TTL_SECONDS',
    scope: 'runtime',
    default: 600,
    min: 1,
    unit: 'seconds',
    meaning: 'how long a connect attempt (its state, sealed in the cookie) stays usable between the link and Zoom\'s answer',
  },
  secretsCacheSeconds: {
    kind: 'whole',
    variable: 'SECRETS_CACHE_SECONDS',
    scope: 'runtime',
    default: 300,
    min: 1,
    unit: 'seconds',
    meaning: 'how long a function keeps a secret it read before reading it again',
  },
  outboxSweepMinAgeSeconds: {
    kind: 'whole',
    variable: 'OUTBOX_SWEEP_MIN_AGE_SECONDS',
    scope: 'runtime',
    default: 180,
    min: 0,
    max: 3_600,
    unit: 'seconds',
    meaning: 'the outbox sweep republishes entries waiting this long (the table stream normally takes them within a second)',
  },
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

/** The variables of the settings the functions read from their environment. */
export type RuntimeVariable = Extract<(typeof SETTINGS)[SettingName], { scope: 'runtime' }>['variable'];

/** The settings the functions read from their environment: each a whole number with its variable. */
export const RUNTIME_VARIABLE_SETTINGS: readonly (WholeNumberSetting & { readonly variable: RuntimeVariable })[] =
  Object.values(SETTINGS).filter(
    (setting): setting is Extract<(typeof SETTINGS)[SettingName], { scope: 'runtime' }> => setting.scope === 'runtime',
  );
