import * as z from 'zod/mini';
import { CONNECT_TOKEN_MAX_TTL, RECALL_REGIONS, recallBaseUrlFor } from '../functions/core/config.js';
import { SETTINGS } from '../functions/core/setting-table.js';
import { allowedReturnUrl, allowlistEntries } from '../functions/core/return-url.js';
import { CALLBACK_PATH } from '../functions/core/routes.js';
import { DEFAULT_EVENTS_HEADER_NAME } from '../lib/config.js';
import { LOCAL_ACCOUNT_ID } from './api-gateway.js';

/**
 * Local mode's configuration: the variables of docs/design.md with their local defaults, plus the sandbox knobs. Every
 * variable overrides its default. Nothing here is secret: the defaults exist so that `npm start` needs no accounts.
 */

/** Values the sandboxes accept by default and the handlers are configured with. */
export const LOCAL_DEFAULTS = {
  port: 3000,
  tableName: 'recall-zoom-connect-local',
  recallApiKey: 'sandbox-recall-api-key',
  recallOAuthAppId: '7d1c3f0a-5b6e-4c2d-9a8f-1e2d3c4b5a69',
  zoomClientId: 'sandbox-zoom-client-id',
  zoomWebhookSecretToken: 'sandbox-zoom-webhook-secret-token',
  /** Public on purpose: it protects nothing but a local demo. As long as a deployed key (32+ characters). */
  connectSigningKey: 'local-development-connect-signing-key-not-a-secret',
  /** Seals connect attempts into their cookies; public on purpose, like the signing key (32+ characters). */
  stateEncryptionKey: 'local-development-state-cookie-key-not-a-secret',
  healthSyncIntervalSeconds: SETTINGS.healthSyncIntervalSeconds.default,
  /** Lifecycle events to the product's endpoint (only with EVENTS_ENDPOINT_URL): the header, as on AWS by default. */
  eventsEndpointHeaderName: DEFAULT_EVENTS_HEADER_NAME,
  /** The header's value; public on purpose: a deployed stack generates its own into Secrets Manager. */
  eventsEndpointSecret: 'local-development-events-endpoint-secret',
  eventsEndpointMaxAttempts: SETTINGS.eventsEndpointMaxAttempts.default,
  eventsEndpointBackoffMs: SETTINGS.eventsEndpointBackoffMs.default,
} as const;

export const SANDBOX_RECALL_PATH = '/sandbox/recall';
/** Where the local SQS and EventBridge answer the SDK (`AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL_EVENTBRIDGE`). */
export const LOCAL_SQS_PATH = '/_local/sqs';
export const LOCAL_EVENTBRIDGE_PATH = '/_local/eventbridge';
export const LOCAL_WEBHOOK_QUEUE_NAME = 'zoom-webhooks';
export const LOCAL_EVENT_BUS_NAME = 'recall-zoom-connect-local';
export const SANDBOX_ZOOM_AUTHORIZE_PATH = '/sandbox/zoom/oauth/authorize';

export type RecallAppKind = 'user_level' | 'account_level';
export type ConflictMode = 'conflict' | 'update';

const optionalText = () => z.optional(z.string().check(z.trim(), z.minLength(1)));
const optionalUrl = () => z.optional(z.url({ protocol: /^https?$/ }));
const flag = () =>
  z.optional(
    z.pipe(
      z.enum(['true', 'false', '1', '0', 'yes', 'no']),
      z.transform((value) => value === 'true' || value === '1' || value === 'yes'),
    ),
  );
const integer = (min: number, max: number) =>
  z.optional(z.coerce.number().check(z.int(), z.minimum(min), z.maximum(max)));

/**
 * The handlers' Recall timeouts, retries and callback deadline (functions/core/config.ts), handed to them as given:
 * their own config check owns the bounds, so local mode cannot disagree with a deployment about what is valid.
 */
export const RECALL_TUNING_VARIABLES = [
  'RECALL_TIMEOUT_MS',
  'RECALL_MAX_ATTEMPTS',
  'RECALL_BACKOFF_BASE_MS',
  'RECALL_BACKOFF_MAX_MS',
  'CALLBACK_DEADLINE_MS',
] as const;
export type RecallTuningVariable = (typeof RECALL_TUNING_VARIABLES)[number];

/** Empty variables count as unset, the way a shell `FOO= npm start` is usually meant. */
const LocalEnvSchema = z.object({
  PORT: integer(0, 65_535),
  TABLE_NAME: optionalText(),
  ZOOM_REDIRECT_URI: optionalUrl(),
  RECALL_API_BASE_URL: optionalUrl(),
  RECALL_REGION: z.optional(z.enum(RECALL_REGIONS)),
  RECALL_API_KEY: optionalText(),
  RECALL_ZOOM_OAUTH_APP_ID: optionalText(),
  ZOOM_CLIENT_ID: optionalText(),
  ZOOM_AUTHORIZE_URL: optionalUrl(),
  ZOOM_WEBHOOK_SECRET_TOKEN: optionalText(),
  CONNECT_SIGNING_KEY: optionalText(),
  STATE_ENCRYPTION_KEY: optionalText(),
  RETURN_URL_ALLOWLIST: optionalText(),
  HEALTH_SYNC_INTERVAL_SECONDS: integer(SETTINGS.healthSyncIntervalSeconds.min, SETTINGS.healthSyncIntervalSeconds.max),
  RECONCILE_FIX_EXTERNAL_RECALL: flag(),
  CONNECT_TOKEN_MAX_TTL_SECONDS: integer(CONNECT_TOKEN_MAX_TTL.min, CONNECT_TOKEN_MAX_TTL.max),
  INSTALL_LANDING_URL: optionalUrl(),
  SANDBOX_RECALL_CONFLICT_MODE: z.optional(z.enum(['conflict', 'update'])),
  SANDBOX_RECALL_SPEND_CODE_ON_CONFLICT: flag(),
  SANDBOX_RECALL_APP_KIND: z.optional(z.enum(['user_level', 'account_level'])),
  SANDBOX_RECALL_PAGE_SIZE: integer(1, 100),
  SANDBOX_RECALL_REJECT_LOCALHOST_REDIRECT: flag(),
  RECALL_TIMEOUT_MS: optionalText(),
  RECALL_MAX_ATTEMPTS: optionalText(),
  RECALL_BACKOFF_BASE_MS: optionalText(),
  RECALL_BACKOFF_MAX_MS: optionalText(),
  CALLBACK_DEADLINE_MS: optionalText(),
  EVENTS_ENDPOINT_URL: optionalUrl(),
  EVENTS_ENDPOINT_HEADER_NAME: z.optional(
    z.string().check(z.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, 'must be an HTTP header name, such as x-zoom-connect-secret')),
  ),
  EVENTS_ENDPOINT_SECRET: z.optional(
    z.string().check(z.regex(/^[\x21-\x7E]([\x20-\x7E]{0,510}[\x21-\x7E])?$/, 'must be printable ASCII (a header value), at most 512 characters')),
  ),
  EVENTS_ENDPOINT_MAX_ATTEMPTS: integer(SETTINGS.eventsEndpointMaxAttempts.min, SETTINGS.eventsEndpointMaxAttempts.max),
  EVENTS_ENDPOINT_BACKOFF_MS: integer(SETTINGS.eventsEndpointBackoffMs.min, SETTINGS.eventsEndpointBackoffMs.max),
});
export type LocalEnv = z.infer<typeof LocalEnvSchema>;

export class LocalConfigError extends Error {
  override readonly name = 'LocalConfigError';
}

/**
 * Parses the local-mode variables.
 * @throws LocalConfigError naming each malformed variable (never echoing values: some are keys)
 */
export function parseLocalEnv(env: NodeJS.ProcessEnv): LocalEnv {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = LocalEnvSchema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new LocalConfigError(`Invalid local configuration:\n${problems.join('\n')}`);
  }
  return parsed.data;
}

/** Where the handlers' Recall calls go. */
export type RecallTarget =
  | { kind: 'sandbox'; baseUrl: string }
  /** A real (or separately run) Recall: chosen by RECALL_API_BASE_URL, or by RECALL_REGION alone. */
  | { kind: 'external'; baseUrl: string; chosenBy: 'RECALL_API_BASE_URL' | 'RECALL_REGION' };

export interface SandboxRecallSettings {
  appKind: RecallAppKind;
  conflictMode: ConflictMode;
  spendCodeOnConflict: boolean;
  pageSize: number;
  rejectLocalhostRedirect: boolean;
}

/** Local configuration once the listening port is known. */
export interface LocalSettings {
  port: number;
  /** `http://localhost:<port>`: the demo page, the default return URLs, the sandboxes. */
  baseUrl: string;
  /** Origin of the service's own routes as the browser must use them: the redirect URI's origin. */
  apiBaseUrl: string;
  tableName: string;
  zoomRedirectUri: string;
  zoomAuthorizeUrl: string;
  zoomIsSandbox: boolean;
  recall: RecallTarget;
  recallRegion: (typeof RECALL_REGIONS)[number];
  recallApiKey: string;
  recallOAuthAppId: string;
  zoomClientId: string;
  zoomWebhookSecretToken: string;
  connectSigningKey: string;
  stateEncryptionKey: string;
  returnUrlAllowlist: string;
  healthSyncIntervalSeconds: number;
  /** `RECONCILE_FIX_EXTERNAL_RECALL`: the operator allows `reconcile?fix=true` against a Recall that is not the sandbox. */
  reconcileFixExternalRecall: boolean;
  connectTokenMaxTtlSeconds: number;
  /**
   * Where a Zoom Marketplace install (a code without a state) is sent: unless set, the demo page, when the return URL
   * allow-list lets the service send users there.
   */
  installLandingUrl: string | undefined;
  /** The local queue verified Zoom webhooks go to (`WEBHOOK_QUEUE_URL`), served by the local SQS. */
  webhookQueueUrl: string;
  /** The local bus lifecycle events go to (`EVENT_BUS_NAME`). */
  eventBusName: string;
  sandboxRecall: SandboxRecallSettings;
  /** The Recall tuning variables that were set, passed to the handlers unchanged. */
  recallTuning: Partial<Record<RecallTuningVariable, string>>;
  /** Where lifecycle events are POSTed, as the stack's API destination does (`EVENTS_ENDPOINT_*`); none unless set. */
  eventsEndpoint?: LocalEventsEndpoint;
}

export interface LocalEventsEndpoint {
  url: string;
  headerName: string;
  secret: string;
  maxAttempts: number;
  backoffBaseMs: number;
}

/** The events endpoint of local mode: only with EVENTS_ENDPOINT_URL, whose companions mean nothing alone. */
function localEventsEndpoint(env: LocalEnv): LocalEventsEndpoint | undefined {
  if (!env.EVENTS_ENDPOINT_URL) {
    const orphans = (
      ['EVENTS_ENDPOINT_HEADER_NAME', 'EVENTS_ENDPOINT_SECRET', 'EVENTS_ENDPOINT_MAX_ATTEMPTS', 'EVENTS_ENDPOINT_BACKOFF_MS'] as const
    ).filter((name) => env[name] !== undefined);
    if (orphans.length > 0) {
      throw new LocalConfigError(`${orphans.join(' and ')} set without EVENTS_ENDPOINT_URL: set the URL events are POSTed to.`);
    }
    return undefined;
  }
  return {
    url: env.EVENTS_ENDPOINT_URL,
    headerName: env.EVENTS_ENDPOINT_HEADER_NAME ?? LOCAL_DEFAULTS.eventsEndpointHeaderName,
    secret: env.EVENTS_ENDPOINT_SECRET ?? LOCAL_DEFAULTS.eventsEndpointSecret,
    maxAttempts: env.EVENTS_ENDPOINT_MAX_ATTEMPTS ?? LOCAL_DEFAULTS.eventsEndpointMaxAttempts,
    backoffBaseMs: env.EVENTS_ENDPOINT_BACKOFF_MS ?? LOCAL_DEFAULTS.eventsEndpointBackoffMs,
  };
}

/**
 * Fills in the defaults for a server listening on `port`.
 *
 * Which Recall: RECALL_API_BASE_URL wins; otherwise a RECALL_REGION set explicitly means the real Recall of that
 * region (`https://<region>.recall.ai`); with neither, the built-in sandbox. A real Recall needs a real key and
 * OAuth app, so RECALL_API_KEY and RECALL_ZOOM_OAUTH_APP_ID must then be set explicitly.
 */
export function resolveLocalSettings(env: LocalEnv, port: number): LocalSettings {
  const baseUrl = `http://localhost:${port}`;
  const zoomRedirectUri = env.ZOOM_REDIRECT_URI ?? `${baseUrl}${CALLBACK_PATH}`;
  const zoomAuthorizeUrl = env.ZOOM_AUTHORIZE_URL ?? `${baseUrl}${SANDBOX_ZOOM_AUTHORIZE_PATH}`;
  const recall: RecallTarget = env.RECALL_API_BASE_URL
    ? { kind: 'external', baseUrl: env.RECALL_API_BASE_URL, chosenBy: 'RECALL_API_BASE_URL' }
    : env.RECALL_REGION
      ? { kind: 'external', baseUrl: recallBaseUrlFor(env.RECALL_REGION), chosenBy: 'RECALL_REGION' }
      : { kind: 'sandbox', baseUrl: `${baseUrl}${SANDBOX_RECALL_PATH}` };
  if (recall.kind === 'external') {
    const missing = (['RECALL_API_KEY', 'RECALL_ZOOM_OAUTH_APP_ID'] as const).filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new LocalConfigError(
        `${recall.chosenBy} points local mode at a Recall other than the sandbox, so set ${missing.join(' and ')} too ` +
          '(the sandbox defaults only work with the sandbox).',
      );
    }
  }
  const eventsEndpoint = localEventsEndpoint(env);
  return {
    port,
    baseUrl,
    apiBaseUrl: new URL(zoomRedirectUri).origin,
    tableName: env.TABLE_NAME ?? LOCAL_DEFAULTS.tableName,
    zoomRedirectUri,
    zoomAuthorizeUrl,
    zoomIsSandbox: env.ZOOM_AUTHORIZE_URL === undefined,
    recall,
    recallRegion: env.RECALL_REGION ?? 'us-east-1',
    recallApiKey: env.RECALL_API_KEY ?? LOCAL_DEFAULTS.recallApiKey,
    recallOAuthAppId: env.RECALL_ZOOM_OAUTH_APP_ID ?? LOCAL_DEFAULTS.recallOAuthAppId,
    zoomClientId: env.ZOOM_CLIENT_ID ?? LOCAL_DEFAULTS.zoomClientId,
    zoomWebhookSecretToken: env.ZOOM_WEBHOOK_SECRET_TOKEN ?? LOCAL_DEFAULTS.zoomWebhookSecretToken,
    connectSigningKey: env.CONNECT_SIGNING_KEY ?? LOCAL_DEFAULTS.connectSigningKey,
    stateEncryptionKey: env.STATE_ENCRYPTION_KEY ?? LOCAL_DEFAULTS.stateEncryptionKey,
    returnUrlAllowlist: env.RETURN_URL_ALLOWLIST ?? `${baseUrl}/`,
    healthSyncIntervalSeconds: env.HEALTH_SYNC_INTERVAL_SECONDS ?? LOCAL_DEFAULTS.healthSyncIntervalSeconds,
    reconcileFixExternalRecall: env.RECONCILE_FIX_EXTERNAL_RECALL ?? false,
    connectTokenMaxTtlSeconds: env.CONNECT_TOKEN_MAX_TTL_SECONDS ?? CONNECT_TOKEN_MAX_TTL.default,
    installLandingUrl: env.INSTALL_LANDING_URL ?? demoPageIfAllowed(baseUrl, env.RETURN_URL_ALLOWLIST ?? `${baseUrl}/`),
    webhookQueueUrl: `${baseUrl}${LOCAL_SQS_PATH}/${LOCAL_ACCOUNT_ID}/${LOCAL_WEBHOOK_QUEUE_NAME}`,
    eventBusName: LOCAL_EVENT_BUS_NAME,
    sandboxRecall: {
      appKind: env.SANDBOX_RECALL_APP_KIND ?? 'user_level',
      conflictMode: env.SANDBOX_RECALL_CONFLICT_MODE ?? 'conflict',
      spendCodeOnConflict: env.SANDBOX_RECALL_SPEND_CODE_ON_CONFLICT ?? false,
      pageSize: env.SANDBOX_RECALL_PAGE_SIZE ?? 2,
      rejectLocalhostRedirect: env.SANDBOX_RECALL_REJECT_LOCALHOST_REDIRECT ?? false,
    },
    recallTuning: Object.fromEntries(
      RECALL_TUNING_VARIABLES.flatMap((name) => (env[name] === undefined ? [] : [[name, env[name]]])),
    ),
    ...(eventsEndpoint ? { eventsEndpoint } : {}),
  };
}

function demoPageIfAllowed(baseUrl: string, allowlist: string): string | undefined {
  const demoPage = `${baseUrl}/`;
  return allowedReturnUrl(demoPage, allowlistEntries(allowlist)) ? demoPage : undefined;
}

/**
 * The environment the handlers read at import (functions/core/config.ts), in local mode: secret values passed
 * directly, no Secrets Manager ids, DynamoDB at dynalite, SQS and EventBridge at the local server itself.
 */
export function handlerEnvironment(settings: LocalSettings, dynamoDbEndpoint: string): Record<string, string> {
  return {
    TABLE_NAME: settings.tableName,
    ZOOM_REDIRECT_URI: settings.zoomRedirectUri,
    ZOOM_AUTHORIZE_URL: settings.zoomAuthorizeUrl,
    RECALL_REGION: settings.recallRegion,
    RECALL_API_BASE_URL: settings.recall.baseUrl,
    RECALL_ZOOM_OAUTH_APP_ID: settings.recallOAuthAppId,
    RETURN_URL_ALLOWLIST: settings.returnUrlAllowlist,
    RECALL_API_KEY: settings.recallApiKey,
    ZOOM_CLIENT_ID: settings.zoomClientId,
    ZOOM_WEBHOOK_SECRET_TOKEN: settings.zoomWebhookSecretToken,
    CONNECT_SIGNING_KEY: settings.connectSigningKey,
    STATE_ENCRYPTION_KEY: settings.stateEncryptionKey,
    HEALTH_SYNC_INTERVAL_SECONDS: String(settings.healthSyncIntervalSeconds),
    CONNECT_TOKEN_MAX_TTL_SECONDS: String(settings.connectTokenMaxTtlSeconds),
    ...(settings.installLandingUrl ? { INSTALL_LANDING_URL: settings.installLandingUrl } : {}),
    WEBHOOK_QUEUE_URL: settings.webhookQueueUrl,
    EVENT_BUS_NAME: settings.eventBusName,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint,
    AWS_ENDPOINT_URL_SQS: `${settings.baseUrl}${LOCAL_SQS_PATH}`,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `${settings.baseUrl}${LOCAL_EVENTBRIDGE_PATH}`,
    ...settings.recallTuning,
  };
}
