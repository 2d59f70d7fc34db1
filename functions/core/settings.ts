/**
 * The service's tunable numbers and choices: for each, its default and bounds, its unit, what it means, the
 * environment variable the functions read it from and the deploy key ops set it with. This module holds the shape of
 * a setting and the settings the functions read themselves (`FUNCTION_SETTINGS`), from which
 * functions/core/config.ts builds its environment schema; `setting-table.ts` adds the stack's and local mode's and
 * is the one table lib/config.ts, local mode and the docs read (`npm run docs:tables`; a test holds the document to
 * it).
 *
 * Plain constants only: the stack loads this module at synth and every handler bundles it, so it imports nothing.
 */

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

/**
 * The settings the functions themselves read (each from its environment variable), first in the documentation's
 * order. Kept apart from the stack's and local mode's (`setting-table.ts`) so a function's bundle carries only these.
 */
export const FUNCTION_SETTINGS = {
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
} as const satisfies Record<string, Setting & { readonly scope: 'runtime' }>;

/** The variables of the settings the functions read from their environment. */
export type RuntimeVariable = (typeof FUNCTION_SETTINGS)[keyof typeof FUNCTION_SETTINGS]['variable'];

/** The settings the functions read from their environment: each a whole number with its variable. */
export const RUNTIME_VARIABLE_SETTINGS: readonly (WholeNumberSetting & { readonly variable: RuntimeVariable })[] =
  Object.values(FUNCTION_SETTINGS);
