import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Fact, FactName, RegionInfo } from 'aws-cdk-lib/region-info';
import { z } from 'zod';
import { RECALL_REGIONS } from '../functions/core/config.js';
import { ROUTE_THROTTLE_SETTINGS, SETTINGS } from '../functions/core/setting-table.js';
import { type ChoiceSetting, type FractionSetting, LOG_LEVELS, type WholeNumberSetting } from '../functions/core/settings.js';
import { allowedReturnUrl } from '../functions/core/return-url.js';
import { CALLBACK_PATH, type RouteHandler, routeKeysOf } from '../functions/core/routes.js';

export { CALLBACK_ANSWER_MARGIN_MS, CALLBACK_TIMEOUT_SECONDS } from '../functions/core/settings.js';

/**
 * Deploy-time configuration: the CDK context keys this app reads, validated once at synth. The numbers and choices
 * (defaults, bounds, units, messages) come from the settings table, functions/core/setting-table.ts, which the runtime and
 * the docs read too; cdk.json's `context` holds none of them, only the other keys. A deployment keeps its own values
 * in a config file (`npm run deploy -- --config deploy/prod.json`, see `resolveDeployConfig`), which overrides
 * cdk.json; `-c key=value` works for a one-off synth.
 */

/** The clearly fake Recall Zoom OAuth App id cdk.json ships with, so `cdk synth` works before it is set. */
export const PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID = '00000000-0000-4000-8000-000000000000';
/** The example return URL cdk.json ships with (example.com is reserved, so it can never be a real product). */
export const PLACEHOLDER_RETURN_URL = 'https://app.example.com/';

/** Hosts a deployed service must never send a browser to: Recall rejects them, and they are not the product. */
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '0.0.0.0']);

const isLoopback = (hostname: string): boolean =>
  LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname);

/** CLI context (`-c key=value`) arrives as strings; an empty value means "not set" rather than "set to ''". */
const unsetIfEmpty = (value: unknown): unknown => (value === '' || value === null ? undefined : value);

const parseJsonIfString = (value: unknown): unknown => {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
};

/** A return URL allow-list entry: an https origin plus a path prefix, nothing else. */
const AllowlistEntry = z.string().superRefine((value, ctx) => {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', message: `"${value}" ${message}` });
  if (!URL.canParse(value)) return issue('is not an absolute URL; write it like https://app.example.com/settings/');
  const url = new URL(value);
  if (url.protocol !== 'https:') return issue(`must use https, not ${url.protocol.slice(0, -1)}`);
  if (isLoopback(url.hostname)) {
    return issue('points at this machine; a deployed service only returns users to the product (use local mode for localhost)');
  }
  if (url.username || url.password) return issue('must not carry credentials');
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    return issue('must be an origin and a path prefix only, without ?query or #fragment');
  }
  // The runtime receives the list comma-joined in RETURN_URL_ALLOWLIST.
  if (value.includes(',')) return issue('must not contain a comma');
});

/** Accepts a JSON array (cdk.json) or a comma-separated string (`-c returnUrlAllowlist=https://a/,https://b/`). */
const ReturnUrlAllowlist = z.preprocess(
  (value) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean)
      : value,
  z
    .array(AllowlistEntry, {
      error: (issue) =>
        issue.input === undefined
          ? 'returnUrlAllowlist is required: the https URLs (origin + path prefix) users may be sent back to'
          : 'returnUrlAllowlist must be a list of https URLs (origin + path prefix), or one comma-separated string',
    })
    .min(1, 'returnUrlAllowlist needs at least one entry: the product page users return to after connecting Zoom'),
);

const DOMAIN_NAME_RULE =
  'customDomain.domainName must be a fully qualified host name such as connect.example.com (no scheme, no path)';
const DomainName = z
  .string({ error: DOMAIN_NAME_RULE })
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, DOMAIN_NAME_RULE)
  .refine((name) => !isLoopback(name), 'customDomain.domainName must be a public host name, not localhost');

const CERTIFICATE_ARN_RULE =
  'customDomain.certificateArn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) in the stack region';

const CustomDomain = z.preprocess(
  parseJsonIfString,
  z.strictObject(
    {
      domainName: DomainName,
      certificateArn: z
        .string({ error: CERTIFICATE_ARN_RULE })
        .regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, CERTIFICATE_ARN_RULE),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `customDomain takes only domainName and certificateArn, not ${issue.keys.join(', ')}`
          : 'customDomain must be an object {"domainName": "...", "certificateArn": "..."}',
    },
  ),
);

/**
 * An explicit redirect URI, for a deployment whose browser routes another host or path fronts (a CDN, a reverse
 * proxy under `/integrations/...`). Zoom and Recall compare it byte for byte, so it must be the canonical form
 * of an https URL whose path ends with the callback route, with nothing after it.
 */
const ZoomRedirectUri = z.string({ error: 'zoomRedirectUri must be a URL such as https://connect.example.com/zoom/callback' }).superRefine((value, ctx) => {
  const issue = (message: string) => ctx.addIssue({ code: 'custom', message: `zoomRedirectUri "${value}" ${message}` });
  if (!URL.canParse(value)) return issue(`is not an absolute URL; write it like https://connect.example.com${CALLBACK_PATH}`);
  const url = new URL(value);
  if (url.protocol !== 'https:') return issue(`must use https, not ${url.protocol.slice(0, -1)}: Zoom and Recall accept only https redirect URIs`);
  if (isLoopback(url.hostname)) {
    return issue('points at this machine: Recall rejects localhost redirect URIs (403); use local mode (npm start) for localhost');
  }
  if (url.username || url.password) return issue('must not carry credentials');
  if (url.search || url.hash || value.includes('?') || value.includes('#')) {
    return issue('must not have a ?query or #fragment: Zoom appends code and state to the URI as registered');
  }
  if (url.pathname.endsWith(`${CALLBACK_PATH}/`)) {
    return issue(`ends with a trailing slash, which makes it a different URI from the callback route ${CALLBACK_PATH}: remove the final "/"`);
  }
  if (!url.pathname.endsWith(CALLBACK_PATH)) {
    return issue(`must end with the callback route ${CALLBACK_PATH} (the path your proxy forwards to it), e.g. https://connect.example.com${CALLBACK_PATH}`);
  }
  if (url.href !== value) {
    return issue(`is not in canonical form, and Zoom and Recall compare it byte for byte: write it as ${url.href}`);
  }
  if (/\.execute-api\.[a-z0-9-]+\.amazonaws\.com$/.test(url.hostname)) {
    return issue('points at one execute-api endpoint, which changes when the API is replaced: leave zoomRedirectUri unset (the stack derives it) or use customDomain');
  }
});

const ALARM_EMAIL_RULE = 'alarmEmail must be one email address, e.g. oncall@example.com (confirm the subscription from the email SNS sends)';
const AlarmEmail = z.email({ error: ALARM_EMAIL_RULE });

const ALARM_TOPIC_RULE = 'alarmTopicArn must be the ARN of an SNS standard topic: arn:aws:sns:<stack region>:<account>:<name>';
const AlarmTopicArn = z
  .string({ error: ALARM_TOPIC_RULE })
  .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$/, ALARM_TOPIC_RULE)
  .refine((arn) => !arn.endsWith('.fifo'), 'alarmTopicArn is a FIFO topic; CloudWatch alarms can only notify standard topics');

/** A fraction of events over an alarm's window, e.g. 0.2 for 20%. */
const Fraction = (setting: FractionSetting & { key: string }) => {
  const { key } = setting;
  return z.coerce
    .number({ error: `${key} must be a number: a fraction such as 0.2 for 20%` })
    .gt(0, `${key} must be a fraction above 0 and at most 1, such as 0.2 for 20%`)
    .lte(1, `${key} must be a fraction above 0 and at most 1, such as 0.2 for 20% (not a percentage)`)
    .default(setting.default);
};

/** One of a setting's choices, numbers also as `-c key=value` passes them (a string). */
const LogRetentionDays = (setting: ChoiceSetting & { key: string; default: number }) =>
  z.coerce
    .number({ error: `${setting.key} must be a number of days` })
    .refine((days) => setting.choices.includes(days), {
      error: `${setting.key} must be one of the periods CloudWatch Logs accepts: ${setting.choices.join(', ')}`,
    })
    .default(setting.default);

const STACK_NAME_RULE = 'stackName must start with a letter and hold only letters, digits and hyphens (at most 128)';
const StackName = z.string({ error: STACK_NAME_RULE }).regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, STACK_NAME_RULE).default('RecallZoomConnect');

const AwsAccountId = z.coerce
  .string()
  .regex(/^\d{12}$/, 'awsAccountId must be a 12-digit AWS account id (quote it in JSON so leading zeros survive)');
/**
 * The AWS Parameters and Secrets Lambda Extension layer the authorize function runs with (it reads its secrets
 * through it, so its bundle carries no AWS SDK). AWS publishes the layer per region, and CDK knows its ARN from a
 * table of the regions it was published in.
 */
export const SECRETS_EXTENSION_LAYER = { version: '1.0.103', architecture: 'arm64' } as const;

/**
 * The regions the stack deploys to: those where CDK knows the extension layer's ARN. In any other region synth would
 * fail (a pinned region) or, for a stack not pinned to one, the template would fail at deploy, where its lookup of
 * the layer finds no entry for the region.
 */
export const SUPPORTED_REGIONS: readonly string[] = RegionInfo.regions
  .map((region) => region.name)
  .filter((region) =>
    Fact.find(region, FactName.paramsAndSecretsLambdaLayer(SECRETS_EXTENSION_LAYER.version, SECRETS_EXTENSION_LAYER.architecture)),
  )
  .sort();

const unsupportedRegion = (region: string, where: string) =>
  `${where} ${region} is not a region this stack deploys to. The authorize function uses the AWS Parameters and Secrets ` +
  `Lambda Extension layer ${SECRETS_EXTENSION_LAYER.version} (${SECRETS_EXTENSION_LAYER.architecture}), whose ARN is known ` +
  `in these regions only: ${SUPPORTED_REGIONS.join(', ')}. (recallRegion, the region of your Recall workspace, is separate.)`;

/**
 * Refuses a region the stack cannot deploy to, naming the regions it can.
 * @param region - the target region, e.g. the one the AWS profile points at (`CDK_DEFAULT_REGION`)
 * @param where - what the region is, for the message
 * @throws InvalidDeployConfigError listing the supported regions
 */
export function assertSupportedRegion(region: string, where: string): void {
  if (!SUPPORTED_REGIONS.includes(region)) throw new InvalidDeployConfigError(unsupportedRegion(region, where));
}

const AwsRegion = z
  .string({ error: 'awsRegion must be an AWS region such as us-east-1' })
  .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'awsRegion must be an AWS region such as us-east-1')
  .refine((region) => SUPPORTED_REGIONS.includes(region), { error: (issue) => unsupportedRegion(String(issue.input), 'awsRegion') });

/**
 * A whole number within its setting's bounds, named by `key` in every message; a setting without an upper bound
 * is a count or a limit, greater than 0.
 */
const WholeNumber = (setting: WholeNumberSetting & { key: string }) => {
  const { key, min, max, unit } = setting;
  if (max === undefined) {
    return z.coerce
      .number({ error: `${key} must be a number` })
      .int(`${key} must be a whole number`)
      .min(min, min === 1 ? `${key} must be greater than 0` : `${key} must be at least ${min}`)
      .default(setting.default);
  }
  const range = `${key} must be between ${min} and ${max} ${unit}${setting.why ?? ''}`;
  return z.coerce
    .number({ error: `${key} must be a number of ${unit}` })
    .int(`${key} must be a whole number of ${unit}`)
    .min(min, range)
    .max(max, range)
    .default(setting.default);
};

/**
 * Runtime settings the stack hands to the functions as they are, each with the variable it becomes and the bounds
 * functions/core/config.ts enforces at init (both built from the settings table): a value the runtime would refuse
 * fails here, at synth, instead of failing every cold start.
 */
export const RUNTIME_SETTINGS = {
  recallTimeoutMs: SETTINGS.recallTimeoutMs,
  recallMaxAttempts: SETTINGS.recallMaxAttempts,
  recallBackoffBaseMs: SETTINGS.recallBackoffBaseMs,
  recallBackoffMaxMs: SETTINGS.recallBackoffMaxMs,
  /** Callback only. */
  callbackDeadlineMs: SETTINGS.callbackDeadlineMs,
  /** Authorize only. */
  connectTokenMaxTtlSeconds: SETTINGS.connectTokenMaxTtlSeconds,
  /** Reconcile only. */
  reconcileOrphanGraceSeconds: SETTINGS.reconcileOrphanGraceSeconds,
} as const;

/** The settings of every call to Recall: every function that calls Recall gets them. */
export const RECALL_CALL_SETTINGS = ['recallTimeoutMs', 'recallMaxAttempts', 'recallBackoffBaseMs', 'recallBackoffMaxMs'] as const;

/**
 * The routes of the API (functions/core/routes.ts) by the function behind them, each throttled on its own so a flood
 * of one cannot starve another. Each method is a route of its own, with its own bucket of these limits.
 */
export type ThrottledRoute = RouteHandler;
export const THROTTLED_ROUTES: Readonly<Record<ThrottledRoute, readonly string[]>> = {
  authorize: routeKeysOf('authorize'),
  callback: routeKeysOf('callback'),
  webhook: routeKeysOf('webhook'),
  connections: routeKeysOf('connections'),
};

/** Each route's own token bucket, requests per second and burst (the settings table's `routeThrottling` rows). */
export const ROUTE_THROTTLE_DEFAULTS: Readonly<Record<ThrottledRoute, { rateLimit: number; burstLimit: number }>> =
  Object.fromEntries(
    Object.entries(ROUTE_THROTTLE_SETTINGS).map(([route, limits]) => [
      route,
      { rateLimit: limits.rateLimit.default, burstLimit: limits.burstLimit.default },
    ]),
  ) as Record<ThrottledRoute, { rateLimit: number; burstLimit: number }>;

/** One route's limits, each defaulting to the settings table's. */
const RouteThrottle = (route: ThrottledRoute) =>
  z.strictObject(
    {
      rateLimit: WholeNumber(ROUTE_THROTTLE_SETTINGS[route].rateLimit),
      burstLimit: WholeNumber(ROUTE_THROTTLE_SETTINGS[route].burstLimit),
    },
    { error: `routeThrottling.${route} must be an object {"rateLimit": <requests per second>, "burstLimit": <requests>}` },
  );

/** Per-route overrides of `ROUTE_THROTTLE_DEFAULTS`; a route or limit left out keeps its default. */
const RouteThrottling = z
  .preprocess(
    (value) => (value === null || value === '' ? undefined : parseJsonIfString(value)),
    z
      .strictObject(
        Object.fromEntries(
          (Object.keys(THROTTLED_ROUTES) as ThrottledRoute[]).map((route) => [route, RouteThrottle(route).optional()]),
        ) as Record<
          ThrottledRoute,
          z.ZodOptional<ReturnType<typeof RouteThrottle>>
        >,
        {
          error: (issue) =>
            issue.code === 'unrecognized_keys'
              ? `routeThrottling has no route ${issue.keys.join(', ')}; its routes are ${Object.keys(THROTTLED_ROUTES).join(', ')}`
              : 'routeThrottling must be an object of routes, e.g. {"authorize": {"rateLimit": 25, "burstLimit": 50}}',
        },
      )
      .optional(),
  )
  .transform((overrides) =>
    Object.fromEntries(
      (Object.keys(THROTTLED_ROUTES) as ThrottledRoute[]).map((route) => [
        route,
        overrides?.[route] ?? { ...ROUTE_THROTTLE_DEFAULTS[route] },
      ]),
    ) as Record<ThrottledRoute, { rateLimit: number; burstLimit: number }>,
  );

/** `true`/`false`, also as `-c key=true` passes it (a string). */
const Flag = (key: string) =>
  z
    .preprocess(
      (value) => (value === 'true' ? true : value === 'false' ? false : value),
      z.boolean({ error: `${key} must be true or false` }),
    )
    .default(false);

/** An https URL a deployed service calls or trusts: no loopback host, no credentials, no fragment. */
const PublicHttpsUrl = (key: string, example: string) =>
  z.string({ error: `${key} must be an https URL such as ${example}` }).superRefine((value, ctx) => {
    const issue = (message: string) => ctx.addIssue({ code: 'custom', message: `${key} "${value}" ${message}` });
    if (!URL.canParse(value)) return issue(`is not an absolute URL; write it like ${example}`);
    const url = new URL(value);
    if (url.protocol !== 'https:') return issue(`must use https, not ${url.protocol.slice(0, -1)}`);
    if (isLoopback(url.hostname)) return issue('points at this machine, which AWS cannot reach (use local mode for localhost)');
    if (url.username || url.password) return issue('must not carry credentials');
    if (url.hash || value.includes('#')) return issue('must not have a #fragment');
  });

/** The header the lifecycle-event endpoint reads the shared secret from, unless the config names another. */
export const DEFAULT_EVENTS_HEADER_NAME = 'x-zoom-connect-secret';

/**
 * Headers EventBridge or HTTP itself sets, or which proxies strip or rewrite: the secret could not travel in them.
 * Compared in lower case; `x-amz-` and `x-amzn-` prefixes are AWS's own.
 */
const RESERVED_HEADER_NAMES = new Set([
  'host',
  'content-type',
  'content-length',
  'content-encoding',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
  'proxy-authorization',
  'proxy-connection',
]);
const HEADER_NAME_RULE = 'eventsEndpoint.headerName must be an HTTP header name (letters, digits and -), such as x-zoom-connect-secret';
const HeaderName = z
  .string({ error: HEADER_NAME_RULE })
  // An RFC 9110 token, and no longer than EventBridge's limit on an API key name.
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/, HEADER_NAME_RULE)
  .refine((name) => !RESERVED_HEADER_NAMES.has(name.toLowerCase()) && !/^x-amzn?-/i.test(name), {
    error: 'eventsEndpoint.headerName is a header HTTP, proxies or AWS set themselves; choose your own, such as x-zoom-connect-secret',
  });

/**
 * The product's HTTPS endpoint for lifecycle events: an EventBridge API destination delivers each event's detail
 * there, with a generated shared secret in `headerName`.
 */
const EventsEndpoint = z.preprocess(
  parseJsonIfString,
  z.strictObject(
    {
      url: PublicHttpsUrl('eventsEndpoint.url', 'https://api.example.com/hooks/zoom-connect')
        .refine((value) => value.length <= 2048, 'eventsEndpoint.url must be at most 2048 characters')
        // An API destination would read `*` as a path parameter this service never fills in.
        .refine((value) => !value.includes('*'), 'eventsEndpoint.url must not contain "*"'),
      headerName: HeaderName.default(DEFAULT_EVENTS_HEADER_NAME),
      rateLimitPerSecond: WholeNumber(SETTINGS.eventsRateLimitPerSecond),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `eventsEndpoint takes only url, headerName and rateLimitPerSecond, not ${issue.keys.join(', ')}`
          : 'eventsEndpoint must be an object {"url": "https://...", "headerName": "x-..."}',
    },
  ),
);

/** An OAuth scope token (RFC 6749 §3.3): printable ASCII without space, `"` or `\`. */
const Scope = (key: string) =>
  z
    .string({ error: `${key} must be a scope name, such as zoom-connections:read` })
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/, `${key} must be one scope name without spaces, such as zoom-connections:read`);

const AUDIENCE_RULE = 'connectionsAuth.audience must list the audiences (aud, or client_id for Cognito access tokens) a token may carry';

/**
 * Who may call `GET|DELETE /connections/{userId}`: AWS principals with SigV4 (`iam`, the default), or bearers of
 * a JWT from the product's own OpenID Connect provider (`jwt`), checked by API Gateway's JWT authorizer.
 */
const IamAuth = z.strictObject(
  { type: z.literal('iam') },
  {
    error: (issue) =>
      `connectionsAuth of type iam takes no other key${issue.code === 'unrecognized_keys' ? `, not ${issue.keys.join(', ')}` : ''}`,
  },
);

const JwtAuth = z.strictObject(
  {
    type: z.literal('jwt'),
    // The authorizer compares it with `iss` and reads `<issuer>/.well-known/openid-configuration`: kept as written.
    issuer: PublicHttpsUrl('connectionsAuth.issuer', 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf').refine(
      (value) => !URL.canParse(value) || new URL(value).search === '',
      'connectionsAuth.issuer must not have a ?query',
    ),
    audience: z.preprocess(
      (value) => (typeof value === 'string' ? [value] : value),
      z.array(z.string({ error: AUDIENCE_RULE }).trim().min(1, AUDIENCE_RULE), { error: AUDIENCE_RULE }).min(1, AUDIENCE_RULE),
    ),
    scopes: z
      .strictObject(
        { read: Scope('connectionsAuth.scopes.read'), write: Scope('connectionsAuth.scopes.write') },
        { error: 'connectionsAuth.scopes must be {"read": "<scope for GET>", "write": "<scope for DELETE>"}' },
      )
      .optional(),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `connectionsAuth of type jwt takes issuer, audience and scopes, not ${issue.keys.join(', ')}`
        : undefined,
  },
);

const ConnectionsAuth = z.preprocess(
  parseJsonIfString,
  z
    .discriminatedUnion('type', [IamAuth, JwtAuth], {
      error:
        'connectionsAuth must be {"type": "iam"} or {"type": "jwt", "issuer": "https://...", "audience": ["..."], "scopes": {"read": "...", "write": "..."}}',
    })
    .default({ type: 'iam' }),
);

const DeployConfigFields = z.object({
  /** Recall region of the workspace that owns the API key and the Zoom OAuth App. */
  recallRegion: z
    .enum(RECALL_REGIONS, {
      error: `recallRegion must be one of ${RECALL_REGIONS.join(', ')}: the region of your Recall workspace`,
    })
    .default('us-east-1'),
  /** Recall's id of the Zoom OAuth App (`oauth_app`), from the Recall dashboard. */
  recallZoomOAuthAppId: z.guid({
    error:
      'recallZoomOAuthAppId must be the id (a UUID) of your Zoom OAuth App in the Recall dashboard; set it in cdk.json or with -c recallZoomOAuthAppId=<uuid>',
  }),
  /** Where the service may send users back to after connecting. */
  returnUrlAllowlist: ReturnUrlAllowlist,
  /** Serve the API on your own domain; the redirect URI and webhook URL then use it. */
  customDomain: z.preprocess(unsetIfEmpty, CustomDomain.optional()),
  /** The redirect URI, when another host or path fronts the browser routes; wins over the derived one. */
  zoomRedirectUri: z.preprocess(unsetIfEmpty, ZoomRedirectUri.optional()),
  /** The product's HTTPS endpoint for lifecycle events (an EventBridge API destination); none by default. */
  eventsEndpoint: z.preprocess(unsetIfEmpty, EventsEndpoint.optional()),
  /** How the product backend authenticates to /connections: IAM (SigV4, the default) or its own JWTs. */
  connectionsAuth: z.preprocess(unsetIfEmpty, ConnectionsAuth),
  /**
   * The secrets ops fill in are named `<secretNamePrefix>/recall-api-key`, `/zoom-client-id` and
   * `/zoom-webhook-secret-token`: one per value, so each function is granted only the ones it reads.
   */
  secretNamePrefix: z
    .string({ error: 'secretNamePrefix must be a string such as recall-zoom-connect/prod' })
    .regex(
      /^[A-Za-z0-9_+=.@-][A-Za-z0-9/_+=.@-]{0,199}$/,
      'secretNamePrefix may contain only letters, digits and /_+=.@- (at most 200), and must not start with /',
    )
    .refine((prefix) => !prefix.endsWith('/'), 'secretNamePrefix must not end with "/": the stack adds "/<secret>"')
    .default('recall-zoom-connect'),
  /** Use the three secrets of that prefix that already exist (kept when a stack was deleted) instead of creating them. */
  useExistingSecrets: Flag('useExistingSecrets'),
  /** Powertools log level of every function. */
  logLevel: z.preprocess(
    (value) => (typeof value === 'string' ? value.toUpperCase() : value),
    z.enum(LOG_LEVELS, { error: `logLevel must be one of ${LOG_LEVELS.join(', ')}` }).default(SETTINGS.logLevel.default),
  ),
  /** Steady-state requests per second across the API. */
  throttleRateLimit: WholeNumber(SETTINGS.throttleRateLimit),
  /** Requests the API absorbs in a burst above the rate. */
  throttleBurstLimit: WholeNumber(SETTINGS.throttleBurstLimit),
  /** Each route's own rate and burst, so that no route's flood starves another. */
  routeThrottling: RouteThrottling,
  /** With a custom domain, keep the execute-api endpoint reachable as well (by default the domain is the only way in). */
  keepExecuteApiEndpoint: Flag('keepExecuteApiEndpoint'),
  /** Minutes between two runs of the health sync, which marks connections of unhealthy Recall credentials. */
  healthSyncMinutes: WholeNumber(SETTINGS.healthSyncMinutes),
  /** Minutes between two runs of reconcile, which compares Recall's credentials with the connection records. */
  reconcileMinutes: WholeNumber(SETTINGS.reconcileMinutes),
  /** Whether the scheduled reconcile repairs what it finds, or only reports it. */
  reconcileFix: Flag('reconcileFix'),
  reconcileOrphanGraceSeconds: WholeNumber(SETTINGS.reconcileOrphanGraceSeconds),
  recallTimeoutMs: WholeNumber(SETTINGS.recallTimeoutMs),
  recallMaxAttempts: WholeNumber(SETTINGS.recallMaxAttempts),
  recallBackoffBaseMs: WholeNumber(SETTINGS.recallBackoffBaseMs),
  recallBackoffMaxMs: WholeNumber(SETTINGS.recallBackoffMaxMs),
  callbackDeadlineMs: WholeNumber(SETTINGS.callbackDeadlineMs),
  connectTokenMaxTtlSeconds: WholeNumber(SETTINGS.connectTokenMaxTtlSeconds),
  /**
   * A product page where installs started from the Zoom Marketplace (a code without a state) are sent with
   * `zoom_connect=install`, to sign the user in and start a connect link; on `returnUrlAllowlist`.
   */
  installLandingUrl: z.preprocess(unsetIfEmpty, z.url({ protocol: /^https$/, error: 'installLandingUrl must be an https URL of a product page' }).optional()),
  /** Days every log group (functions, API access logs) keeps events. */
  logRetentionDays: LogRetentionDays(SETTINGS.logRetentionDays),
  /** Email address subscribed to the alarm topic the stack creates. */
  alarmEmail: z.preprocess(unsetIfEmpty, AlarmEmail.optional()),
  /** An existing SNS topic the alarms notify instead of one the stack creates. */
  alarmTopicArn: z.preprocess(unsetIfEmpty, AlarmTopicArn.optional()),
  /** Share of callbacks ending in an error, over 15 minutes, at which the callback error-rate alarm fires. */
  callbackErrorRateThreshold: Fraction(SETTINGS.callbackErrorRateThreshold),
  /** Fewest callbacks in 15 minutes for the error rate to count: a single failure among two is not an incident. */
  callbackErrorRateMinCallbacks: WholeNumber(SETTINGS.callbackErrorRateMinCallbacks),
  /** Share of Recall calls ending unavailable (after retries), over 15 minutes, at which its alarm fires. */
  recallFailureRateThreshold: Fraction(SETTINGS.recallFailureRateThreshold),
  /** Fewest Recall call attempts in 15 minutes for the failure rate to count. */
  recallFailureRateMinCalls: WholeNumber(SETTINGS.recallFailureRateMinCalls),
  /** CloudFormation stack name; one per deployment (e.g. staging and production in one account). */
  stackName: StackName,
  /** Pins the stack to an account: deploying with credentials of another account fails instead of landing there. */
  awsAccountId: z.preprocess(unsetIfEmpty, AwsAccountId.optional()),
  /** Pins the stack to a region (the certificate and an existing alarm topic must live there). */
  awsRegion: z.preprocess(unsetIfEmpty, AwsRegion.optional()),
});

/** The region of an ARN (`arn:partition:service:region:account:...`). */
const regionOf = (arn: unknown): string | undefined => (typeof arn === 'string' ? arn.split(':')[3] : undefined);

/**
 * Rules that relate keys to each other. Zod runs them even when a key failed on its own, so each reads its keys
 * defensively and stays silent about a key that already has its own error.
 */
export const DeployConfigSchema = DeployConfigFields.superRefine((config, ctx) => {
  const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: key.split('.'), message });
  if (config.alarmEmail && config.alarmTopicArn) {
    issue(
      'alarmTopicArn',
      'set alarmEmail or alarmTopicArn, not both: with your own topic, subscribe the address to that topic yourself',
    );
  }
  const certificateRegion = regionOf(config.customDomain?.certificateArn);
  if (config.awsRegion && certificateRegion && certificateRegion !== config.awsRegion) {
    issue(
      'customDomain.certificateArn',
      `customDomain.certificateArn is in ${certificateRegion}, but a regional API's certificate must be in the stack region ${config.awsRegion}: request or import it there`,
    );
  }
  const topicRegion = regionOf(config.alarmTopicArn);
  if (config.awsRegion && topicRegion && topicRegion !== config.awsRegion) {
    issue(
      'alarmTopicArn',
      `alarmTopicArn is in ${topicRegion}, but CloudWatch alarms only notify topics in their own region ${config.awsRegion}`,
    );
  }
  if (config.keepExecuteApiEndpoint === true && !config.customDomain) {
    issue(
      'keepExecuteApiEndpoint',
      'keepExecuteApiEndpoint only applies with customDomain: without one, the execute-api endpoint is the way in and always stays on',
    );
  }
  if (
    typeof config.installLandingUrl === 'string' &&
    Array.isArray(config.returnUrlAllowlist) &&
    !allowedReturnUrl(config.installLandingUrl, config.returnUrlAllowlist)
  ) {
    issue('installLandingUrl', 'installLandingUrl must be on returnUrlAllowlist: the callback only sends users to allowed pages');
  }
  const domainName = config.customDomain?.domainName;
  if (domainName && typeof config.zoomRedirectUri === 'string' && URL.canParse(config.zoomRedirectUri)) {
    const { hostname, pathname } = new URL(config.zoomRedirectUri);
    if (hostname === domainName && pathname !== CALLBACK_PATH) {
      issue(
        'zoomRedirectUri',
        `zoomRedirectUri is on customDomain ${hostname}, where the API is mapped at the root: it must be https://${hostname}${CALLBACK_PATH} (or leave zoomRedirectUri unset, which derives exactly that)`,
      );
    }
  }
});

export type DeployConfig = z.output<typeof DeployConfigSchema>;
export type LogLevel = DeployConfig['logLevel'];

/** Thrown at synth when the CDK context does not describe a deployable service. */
export class InvalidDeployConfigError extends Error {
  override readonly name = 'InvalidDeployConfigError';
}

/** Where the configuration came from, for the first line of an error. */
export const CONTEXT_SOURCE = 'CDK context; set it in cdk.json or with -c key=value';

/**
 * Validates the CDK context once, at synth, and fails naming every wrong key and how to fix it.
 * Keys that are not ours (feature flags, `//` notes) are ignored.
 * @param context - the app's context, `app.node.getAllContext()`
 * @param source - where the values came from, named in the error
 * @throws InvalidDeployConfigError listing every problem
 */
export function parseDeployConfig(context: Record<string, unknown>, source = CONTEXT_SOURCE): DeployConfig {
  const parsed = DeployConfigSchema.safeParse(context);
  if (!parsed.success) {
    throw new InvalidDeployConfigError(
      // The message already lists every issue; a `cause` would only add the raw ZodError dump to the terminal.
      `Invalid deploy configuration (${source}):\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** The context key through which `npm run deploy` (or `cdk ... -c configFile=<path>`) names a config file. */
export const CONFIG_FILE_CONTEXT_KEY = 'configFile';

/** Every key a deploy config file may hold (besides `//` notes). */
export const DEPLOY_CONFIG_KEYS: readonly string[] = Object.keys(DeployConfigFields.shape);

/**
 * Reads a deploy config file: one JSON object holding only deploy config keys, plus `//key` notes. Unlike the
 * CDK context, which also carries feature flags, a file has no business holding anything else, so an unknown
 * key is a typo and fails rather than being ignored.
 * @param filePath - the file, absolute or relative to the working directory
 * @param readFile - reads the file as UTF-8 (tests inject one)
 * @throws InvalidDeployConfigError when the file is missing, not JSON, not an object, or holds unknown keys
 */
export function readDeployConfigFile(
  filePath: string,
  readFile: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): Record<string, unknown> {
  const fail = (message: string): never => {
    throw new InvalidDeployConfigError(`Invalid deploy configuration file ${filePath}: ${message}`);
  };
  let text: string;
  try {
    text = readFile(filePath);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`is not valid JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('must hold one JSON object of config keys, like deploy/example.config.json');
  }
  const unknown = Object.keys(parsed).filter((key) => !key.startsWith('//') && !DEPLOY_CONFIG_KEYS.includes(key));
  if (unknown.length > 0) {
    return fail(
      `unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"${suggestion(key)}`).join(', ')}. ` +
        `Known keys: ${DEPLOY_CONFIG_KEYS.join(', ')}; notes go in "//key" entries.`,
    );
  }
  return parsed as Record<string, unknown>;
}

/**
 * The configuration of one synth: the CDK context (cdk.json, then `-c`), and over it the config file the
 * context names in `configFile`, if any. The file wins: it is the deployment's record of what it runs with.
 * @param context - the app's context, `app.node.getAllContext()`
 * @param readFile - reads the file as UTF-8 (tests inject one)
 * @throws InvalidDeployConfigError naming the file (if any) and every problem
 */
export function resolveDeployConfig(
  context: Record<string, unknown>,
  readFile?: (file: string) => string,
): DeployConfig {
  const configFile = context[CONFIG_FILE_CONTEXT_KEY];
  if (configFile === undefined || configFile === null || configFile === '') return parseDeployConfig(context);
  if (typeof configFile !== 'string') {
    throw new InvalidDeployConfigError(`Invalid deploy configuration: ${CONFIG_FILE_CONTEXT_KEY} must be a file path`);
  }
  const fromFile = readDeployConfigFile(configFile, readFile);
  return parseDeployConfig({ ...context, ...fromFile }, `${path.normalize(configFile)} over cdk.json's context`);
}

/** ` (did you mean "x"?)` for a key one or two edits away from a known one, else nothing. */
function suggestion(key: string): string {
  const close = DEPLOY_CONFIG_KEYS.find((known) => editDistance(key.toLowerCase(), known.toLowerCase()) <= 2);
  return close ? ` (did you mean "${close}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
