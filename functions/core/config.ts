import * as z from 'zod/mini';
import { MisconfiguredError } from './errors.js';
import { allowedReturnUrl, allowlistEntries } from './return-url.js';
import { FILLED_SECRET_NAMES, FILLED_SECRETS, type FilledSecret } from './filled-secrets.js';
import { FUNCTION_SETTINGS, RUNTIME_VARIABLE_SETTINGS, type RuntimeVariable, type WholeNumberSetting } from './settings.js';

export const RECALL_REGIONS = ['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1'] as const;
export type RecallRegion = (typeof RECALL_REGIONS)[number];

/** Recall's regions are separate deployments; keys, OAuth apps and credentials live in exactly one of them. */
export const recallBaseUrlFor = (region: RecallRegion): string => `https://${region}.recall.ai`;

const nonEmpty = () => z.string().check(z.trim(), z.minLength(1));
const optionalNonEmpty = () => z.optional(nonEmpty());
/**
 * A whole number within the bounds of its setting (functions/core/settings.ts): every retry count, delay, timeout
 * and lifetime is bounded, whatever ops configure.
 */
const bounded = (setting: WholeNumberSetting) =>
  z._default(
    z.coerce
      .number()
      .check(z.int(), z.gte(setting.min), ...(setting.max === undefined ? [] : [z.lte(setting.max)])),
    setting.default,
  );
const flag = (fallback: boolean) =>
  z.pipe(
    z._default(z.enum(['true', 'false']), fallback ? 'true' : 'false'),
    z.transform((value) => value === 'true'),
  );

/** The default and bounds of the longest a connect token may still have to live (`CONNECT_TOKEN_MAX_TTL_SECONDS`). */
export const CONNECT_TOKEN_MAX_TTL = FUNCTION_SETTINGS.connectTokenMaxTtlSeconds;

/** The bounds of the callback's own deadline, below the callback Lambda's timeout (25 s) and API Gateway's (30 s). */
export const MAX_CALLBACK_DEADLINE_MS = FUNCTION_SETTINGS.callbackDeadlineMs.max;
/**
 * The create keeps 2.5 s of the deadline back to find out its fate when its answer is lost (`credential-exchange.ts`): a
 * shorter deadline would leave the create no time at all.
 */
export const MIN_CALLBACK_DEADLINE_MS = FUNCTION_SETTINGS.callbackDeadlineMs.min;

/** Every bounded setting the functions read, by its variable, each schema built from its row of the table. */
const BoundedSettings = Object.fromEntries(
  RUNTIME_VARIABLE_SETTINGS.map((setting) => [setting.variable, bounded(setting)]),
) as Record<RuntimeVariable, ReturnType<typeof bounded>>;

/**
 * Runtime configuration of every function, parsed from the environment once at init. The CDK stack sets these
 * variables; local mode sets the same ones. Secrets are named here (`*_SECRET_ID`), never carried: only local
 * mode, which has no Secrets Manager, passes the values themselves.
 */
const EnvSchema = z.object({
  /** The service table; every function but authorize (which keeps nothing server-side) is given it. */
  TABLE_NAME: optionalNonEmpty(),
  /** Exactly as registered at Zoom, byte for byte: used in the authorize URL and in Recall's create call. */
  ZOOM_REDIRECT_URI: z.url(),
  ZOOM_AUTHORIZE_URL: z._default(z.url(), 'https://zoom.us/oauth/authorize'),
  RECALL_REGION: z._default(z.enum(RECALL_REGIONS), 'us-east-1'),
  RECALL_API_BASE_URL: z.optional(z.url()),
  RECALL_ZOOM_OAUTH_APP_ID: nonEmpty(),
  /** Comma-separated return URL prefixes (origin + path). */
  RETURN_URL_ALLOWLIST: nonEmpty(),
  /** Secrets Manager ids of the secrets ops fill in, each given only to the functions that read it. */
  RECALL_API_KEY_SECRET_ID: optionalNonEmpty(),
  ZOOM_CLIENT_ID_SECRET_ID: optionalNonEmpty(),
  ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID: optionalNonEmpty(),
  /** Secrets Manager id of the generated connect-token signing key (a plain string). */
  SIGNING_KEY_SECRET_ID: optionalNonEmpty(),
  /** Secrets Manager id of the generated key that seals each connect attempt in its cookie (a plain string). */
  STATE_KEY_SECRET_ID: optionalNonEmpty(),
  RECALL_API_KEY: optionalNonEmpty(),
  ZOOM_CLIENT_ID: optionalNonEmpty(),
  ZOOM_WEBHOOK_SECRET_TOKEN: optionalNonEmpty(),
  CONNECT_SIGNING_KEY: optionalNonEmpty(),
  STATE_ENCRYPTION_KEY: optionalNonEmpty(),
  /** The EventBridge bus lifecycle events go to (the outbox publisher is the only function given it). */
  EVENT_BUS_NAME: optionalNonEmpty(),
  /** The SQS queue verified Zoom webhooks are handed to (webhook function only). */
  WEBHOOK_QUEUE_URL: z.optional(z.url()),
  /**
   * Where a Zoom Marketplace install (a callback with a code and no state) is sent, with `zoom_connect=install`;
   * on the return URL allow-list. Unset: such a callback gets the 400 page.
   */
  INSTALL_LANDING_URL: z.optional(z.url()),
  /** Reconcile: repair what it finds (delete orphans, repoint or flag dangling records), not only report it. */
  RECONCILE_FIX: flag(false),
  /** Timeouts, retries, lifetimes and ages: see functions/core/settings.ts for each one's meaning and bounds. */
  ...BoundedSettings,
});

export interface ServiceConfig {
  /** Absent for a function not given the table: `requireTableName` in those that use it. */
  tableName?: string;
  zoomRedirectUri: string;
  zoomAuthorizeUrl: string;
  recallBaseUrl: string;
  recallOAuthAppId: string;
  returnUrlAllowlist: readonly string[];
  secrets:
    /**
     * Each function is given the ids of exactly the secrets it reads: the Recall API key to those that call Recall,
     * the Zoom client id to the two connect steps, the webhook Secret Token to the webhook, the signing key to
     * authorize, the state key to authorize and the callback.
     */
    | {
        source: 'secrets-manager';
        secretIds: Partial<Record<FilledSecret, string>>;
        signingKeySecretId?: string;
        stateKeySecretId?: string;
      }
    | {
        source: 'environment';
        recallApiKey: string;
        zoomClientId: string;
        zoomWebhookSecretToken?: string;
        signingKey: string;
        stateKey?: string;
      };
  eventBusName?: string;
  outboxSweepMinAgeSeconds: number;
  webhookQueueUrl?: string;
  secretsCacheSeconds: number;
  oauthStateTtlSeconds: number;
  connectTokenMaxTtlSeconds: number;
  /** Allow-listed (checked here). */
  installLandingUrl?: string;
  recall: RecallCallSettings;
  callbackDeadlineMs: number;
  reconcile: { fix: boolean; orphanGraceSeconds: number };
}

/** How the service calls Recall: bounded, configurable retries and timeouts. */
export interface RecallCallSettings {
  timeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * Parses the environment into a frozen config.
 *
 * Functions call this at module init, so a bad environment fails every cold start: a crash loop, deliberately.
 * The environment is the stack's own output (ops never edit it; the infrastructure tests check what the stack
 * sets), so a failure here is a deployment bug that must not serve traffic half-configured, and Lambda's Errors
 * alarm reports it. What ops fill in after a deploy (the secrets) is read per request instead, and a missing or
 * placeholder value is answered with `reason=misconfigured` or a 503, never a crash (see `secrets.ts`).
 * @param env - the environment to read, `process.env` in functions
 * @throws MisconfiguredError naming every variable that is missing or malformed
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new MisconfiguredError(`Invalid environment configuration:\n${z.prettifyError(parsed.error)}`);
  }
  const e = parsed.data;
  const allowlist = allowlistEntries(e.RETURN_URL_ALLOWLIST);
  for (const entry of allowlist) {
    if (!URL.canParse(entry)) throw new MisconfiguredError(`RETURN_URL_ALLOWLIST entry is not a URL: ${entry}`);
  }
  const installLanding = e.INSTALL_LANDING_URL === undefined ? undefined : allowedReturnUrl(e.INSTALL_LANDING_URL, allowlist);
  if (e.INSTALL_LANDING_URL !== undefined && !installLanding) {
    throw new MisconfiguredError('INSTALL_LANDING_URL must match an entry of RETURN_URL_ALLOWLIST.', {
      fields: ['INSTALL_LANDING_URL'],
    });
  }
  return Object.freeze({
    ...(e.TABLE_NAME ? { tableName: e.TABLE_NAME } : {}),
    zoomRedirectUri: e.ZOOM_REDIRECT_URI,
    zoomAuthorizeUrl: e.ZOOM_AUTHORIZE_URL,
    recallBaseUrl: (e.RECALL_API_BASE_URL ?? recallBaseUrlFor(e.RECALL_REGION)).replace(/\/+$/, ''),
    recallOAuthAppId: e.RECALL_ZOOM_OAUTH_APP_ID,
    returnUrlAllowlist: Object.freeze(allowlist),
    secrets: secretSource(e),
    ...(e.EVENT_BUS_NAME ? { eventBusName: e.EVENT_BUS_NAME } : {}),
    ...(e.WEBHOOK_QUEUE_URL ? { webhookQueueUrl: e.WEBHOOK_QUEUE_URL } : {}),
    secretsCacheSeconds: e.SECRETS_CACHE_SECONDS,
    outboxSweepMinAgeSeconds: e.OUTBOX_SWEEP_MIN_AGE_SECONDS,
    oauthStateTtlSeconds: e.OAUTH_STATE_TTL_SECONDS,
    connectTokenMaxTtlSeconds: e.CONNECT_TOKEN_MAX_TTL_SECONDS,
    ...(installLanding ? { installLandingUrl: installLanding.href } : {}),
    recall: Object.freeze({
      timeoutMs: e.RECALL_TIMEOUT_MS,
      maxAttempts: e.RECALL_MAX_ATTEMPTS,
      backoffBaseMs: e.RECALL_BACKOFF_BASE_MS,
      backoffMaxMs: e.RECALL_BACKOFF_MAX_MS,
    }),
    callbackDeadlineMs: e.CALLBACK_DEADLINE_MS,
    reconcile: Object.freeze({ fix: e.RECONCILE_FIX, orphanGraceSeconds: e.RECONCILE_ORPHAN_GRACE_SECONDS }),
  });
}

function secretSource(e: z.infer<typeof EnvSchema>): ServiceConfig['secrets'] {
  const secretIds = Object.fromEntries(
    FILLED_SECRET_NAMES.flatMap((name) => {
      const id = e[FILLED_SECRETS[name].variable];
      return id ? [[name, id]] : [];
    }),
  ) as Partial<Record<FilledSecret, string>>;
  // On AWS every function is given the id of at least one of these; local mode passes the values themselves instead.
  if (Object.keys(secretIds).length > 0) {
    return {
      source: 'secrets-manager',
      secretIds,
      ...(e.SIGNING_KEY_SECRET_ID ? { signingKeySecretId: e.SIGNING_KEY_SECRET_ID } : {}),
      ...(e.STATE_KEY_SECRET_ID ? { stateKeySecretId: e.STATE_KEY_SECRET_ID } : {}),
    };
  }
  const missing = (['RECALL_API_KEY', 'ZOOM_CLIENT_ID', 'CONNECT_SIGNING_KEY'] as const).filter((name) => !e[name]);
  if (missing.length > 0) {
    throw new MisconfiguredError(
      `Set the *_SECRET_ID variables (on AWS), or ${missing.join(', ')} (local mode).`,
    );
  }
  return {
    source: 'environment',
    recallApiKey: e.RECALL_API_KEY as string,
    zoomClientId: e.ZOOM_CLIENT_ID as string,
    ...(e.ZOOM_WEBHOOK_SECRET_TOKEN ? { zoomWebhookSecretToken: e.ZOOM_WEBHOOK_SECRET_TOKEN } : {}),
    signingKey: e.CONNECT_SIGNING_KEY as string,
    ...(e.STATE_ENCRYPTION_KEY ? { stateKey: e.STATE_ENCRYPTION_KEY } : {}),
  };
}

/**
 * The table, for a function that reads or writes it: without it the function cannot work at all, so its absence
 * fails the cold start, like a bad environment.
 * @throws MisconfiguredError naming TABLE_NAME
 */
export function requireTableName(config: Pick<ServiceConfig, 'tableName'>): string {
  if (config.tableName) return config.tableName;
  throw new MisconfiguredError('TABLE_NAME is required: this function reads and writes the service table.', {
    fields: ['TABLE_NAME'],
  });
}

/**
 * The two connect steps cannot work at all without the state key (authorize seals each attempt in a cookie with
 * it, the callback opens it): like a bad environment, its absence fails their cold start. Which variable names it
 * depends on the source, and so does the message.
 * @throws MisconfiguredError naming the variable to set
 */
export function requireStateKey(config: Pick<ServiceConfig, 'secrets'>, step: 'authorize' | 'callback'): void {
  const { secrets } = config;
  const configured = secrets.source === 'secrets-manager' ? secrets.stateKeySecretId : secrets.stateKey;
  if (configured) return;
  const variable = secrets.source === 'secrets-manager' ? 'STATE_KEY_SECRET_ID' : 'STATE_ENCRYPTION_KEY';
  throw new MisconfiguredError(
    `${variable} is required: the ${step} step ${step === 'authorize' ? 'seals each connect attempt in its cookie' : 'opens the connect attempt sealed in its cookie'} with that key.`,
    { fields: [variable] },
  );
}

/**
 * The lifecycle bus, for the outbox publisher: without it no event can go anywhere, so its absence fails the cold
 * start (the entries wait in the table meanwhile).
 * @throws MisconfiguredError naming EVENT_BUS_NAME
 */
export function requireEventBusName(config: Pick<ServiceConfig, 'eventBusName'>): string {
  if (config.eventBusName) return config.eventBusName;
  throw new MisconfiguredError('EVENT_BUS_NAME is required: this function publishes lifecycle events to that bus.', {
    fields: ['EVENT_BUS_NAME'],
  });
}
