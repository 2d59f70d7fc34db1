import { z } from 'zod';
import { RECALL_REGIONS } from '../functions/shared/config.js';

/**
 * Deploy-time configuration: the CDK context keys this app reads, validated once at synth. Defaults live both
 * here (so a key left out still means something) and in cdk.json's `context` (so ops see every option in one
 * place). Override any of them in cdk.json or on the command line: `npx cdk deploy -c recallRegion=eu-central-1`.
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

/** Secrets Manager's own name rule. */
const SecretName = (key: string) =>
  z.string({ error: `${key} must be a string` }).regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, `${key} may contain only letters, digits and /_+=.@- (at most 512)`);

const PositiveInt = (key: string, fallback: number) =>
  z.coerce
    .number({ error: `${key} must be a number` })
    .int(`${key} must be a whole number`)
    .positive(`${key} must be greater than 0`)
    .default(fallback);

/** How often the health sync polls Recall. Each run makes one listing call to a 60/min endpoint. */
export const HEALTH_SYNC_MINUTES = { default: 15, min: 1, max: 1440 } as const;

const HealthSyncMinutes = z.coerce
  .number({ error: 'healthSyncMinutes must be a number of minutes' })
  .int('healthSyncMinutes must be a whole number of minutes')
  .min(HEALTH_SYNC_MINUTES.min, `healthSyncMinutes must be between ${HEALTH_SYNC_MINUTES.min} and ${HEALTH_SYNC_MINUTES.max} (a day)`)
  .max(HEALTH_SYNC_MINUTES.max, `healthSyncMinutes must be between ${HEALTH_SYNC_MINUTES.min} and ${HEALTH_SYNC_MINUTES.max} (a day)`)
  .default(HEALTH_SYNC_MINUTES.default);

export const DeployConfigSchema = z.object({
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
  /** Serve the API on your own domain; the redirect URI then uses it. */
  customDomain: z.preprocess(unsetIfEmpty, CustomDomain.optional()),
  /** Name of the JSON app secret the stack creates (with placeholder values ops replace). */
  appSecretName: SecretName('appSecretName')
    // Secrets Manager appends "-" and six characters to form the ARN; a name that already ends so is ambiguous.
    .refine((name) => !/-[A-Za-z0-9]{6}$/.test(name), 'appSecretName must not end with a hyphen and six characters')
    .default('recall-zoom-connect/app'),
  /** Use this existing secret instead of creating one (e.g. after a stack was deleted and the secret retained). */
  existingAppSecretName: z.preprocess(unsetIfEmpty, SecretName('existingAppSecretName').optional()),
  /** Powertools log level of every function. */
  logLevel: z.preprocess(
    (value) => (typeof value === 'string' ? value.toUpperCase() : value),
    z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR'], { error: 'logLevel must be one of DEBUG, INFO, WARN, ERROR' }).default('INFO'),
  ),
  /** Steady-state requests per second across the API. */
  throttleRateLimit: PositiveInt('throttleRateLimit', 50),
  /** Requests the API absorbs in a burst above the rate. */
  throttleBurstLimit: PositiveInt('throttleBurstLimit', 100),
  /** Minutes between two runs of the health sync, which marks connections of unhealthy Recall credentials. */
  healthSyncMinutes: HealthSyncMinutes,
});

export type DeployConfig = z.output<typeof DeployConfigSchema>;
export type LogLevel = DeployConfig['logLevel'];

/** Thrown at synth when the CDK context does not describe a deployable service. */
export class InvalidDeployConfigError extends Error {
  override readonly name = 'InvalidDeployConfigError';
}

/**
 * Validates the CDK context once, at synth, and fails naming every wrong key and how to fix it.
 * Keys that are not ours (feature flags, `//` notes) are ignored.
 * @param context - the app's context, `app.node.getAllContext()`
 * @throws InvalidDeployConfigError listing every problem
 */
export function parseDeployConfig(context: Record<string, unknown>): DeployConfig {
  const parsed = DeployConfigSchema.safeParse(context);
  if (!parsed.success) {
    throw new InvalidDeployConfigError(
      // The message already lists every issue; a `cause` would only add the raw ZodError dump to the terminal.
      `Invalid deploy configuration (CDK context; set it in cdk.json or with -c key=value):\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
