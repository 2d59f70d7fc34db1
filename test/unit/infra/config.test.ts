import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../functions/core/config.js';
import {
  DEPLOY_CONFIG_KEYS,
  DeployConfigSchema,
  InvalidDeployConfigError,
  parseDeployConfig,
  PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID,
  readDeployConfigFile,
  resolveDeployConfig,
  RUNTIME_SETTINGS,
} from '../../../lib/config.js';
import { SETTING_TABLE } from '../../../functions/core/setting-table.js';
import { projectPath } from '../../../lib/constructs/service-function.js';
import { CDK_JSON_CONTEXT, problemsWith, REQUIRED_CONTEXT } from './helpers.js';

/** The deploy keys of the settings table (nested ones by their top-level key's own rows only). */
const SETTING_KEYS = new Set(SETTING_TABLE.flatMap((setting) => (setting.key && !setting.key.includes('.') ? [setting.key] : [])));


const REQUIRED = REQUIRED_CONTEXT;
const APP_ID = REQUIRED.recallZoomOAuthAppId;

/** What every key but the two required ones defaults to. */
const DEFAULTS = {
  recallRegion: 'us-east-1',
  secretNamePrefix: 'recall-zoom-connect',
  useExistingSecrets: false,
  logLevel: 'INFO',
  throttleRateLimit: 50,
  throttleBurstLimit: 100,
  routeThrottling: {
    authorize: { rateLimit: 25, burstLimit: 50 },
    callback: { rateLimit: 25, burstLimit: 50 },
    webhook: { rateLimit: 50, burstLimit: 100 },
    connections: { rateLimit: 25, burstLimit: 50 },
  },
  keepExecuteApiEndpoint: false,
  healthSyncMinutes: 15,
  reconcileMinutes: 60,
  reconcileFix: false,
  reconcileOrphanGraceSeconds: 900,
  recallTimeoutMs: 5_000,
  recallMaxAttempts: 3,
  recallBackoffBaseMs: 200,
  recallBackoffMaxMs: 4_000,
  callbackDeadlineMs: 20_000,
  connectTokenMaxTtlSeconds: 900,
  logRetentionDays: 30,
  callbackErrorRateThreshold: 0.2,
  callbackErrorRateMinCallbacks: 5,
  recallFailureRateThreshold: 0.1,
  recallFailureRateMinCalls: 5,
  stackName: 'RecallZoomConnect',
  connectionsAuth: { type: 'iam' },
};
const CERTIFICATE = 'arn:aws:acm:us-east-1:123456789012:certificate/abc';


describe('parseDeployConfig', () => {
  it('parses the context cdk.json ships with', () => {
    expect(parseDeployConfig(CDK_JSON_CONTEXT)).toEqual({
      ...DEFAULTS,
      recallZoomOAuthAppId: PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID,
      returnUrlAllowlist: ['https://app.example.com/'],
    });
  });

  it('documents in cdk.json, each with a "//" note, every key it reads but those of the settings table', () => {
    for (const key of Object.keys(DeployConfigSchema.shape).filter((key) => !SETTING_KEYS.has(key))) {
      expect(CDK_JSON_CONTEXT).toHaveProperty([key]);
      expect(CDK_JSON_CONTEXT).toHaveProperty([`//${key}`]);
    }
    expect(CDK_JSON_CONTEXT).toHaveProperty(['//settings']);
  });

  it('keeps no copy of a setting of the table in cdk.json: its defaults live in functions/core/setting-table.ts alone', () => {
    expect(SETTING_KEYS.size).toBeGreaterThan(10);
    expect(Object.keys(CDK_JSON_CONTEXT).filter((key) => SETTING_KEYS.has(key.replace(/^\/\//, '')))).toEqual([]);
  });

  it('fills in a default for every key but the app id and the allow-list', () => {
    expect(parseDeployConfig(REQUIRED)).toEqual({ ...REQUIRED, ...DEFAULTS });
  });

  it('accepts values as `-c key=value` passes them: strings, a comma-separated list, JSON', () => {
    const config = parseDeployConfig({
      recallZoomOAuthAppId: APP_ID,
      recallRegion: 'eu-central-1',
      returnUrlAllowlist: 'https://app.example.com/settings/, https://admin.example.com/',
      customDomain: '{"domainName":"Connect.Example.com","certificateArn":"arn:aws:acm:eu-central-1:123456789012:certificate/abc-123"}',
      logLevel: 'debug',
      throttleRateLimit: '20',
      throttleBurstLimit: '40',
      healthSyncMinutes: '30',
      logRetentionDays: '90',
      callbackErrorRateThreshold: '0.25',
      callbackErrorRateMinCallbacks: '10',
      awsAccountId: '012345678901',
    });
    expect(config).toMatchObject({
      recallRegion: 'eu-central-1',
      returnUrlAllowlist: ['https://app.example.com/settings/', 'https://admin.example.com/'],
      customDomain: {
        domainName: 'connect.example.com',
        certificateArn: 'arn:aws:acm:eu-central-1:123456789012:certificate/abc-123',
      },
      logLevel: 'DEBUG',
      throttleRateLimit: 20,
      throttleBurstLimit: 40,
      healthSyncMinutes: 30,
      logRetentionDays: 90,
      callbackErrorRateThreshold: 0.25,
      callbackErrorRateMinCallbacks: 10,
      awsAccountId: '012345678901',
    });
  });

  it('treats empty and null optional values as not set', () => {
    const config = parseDeployConfig({
      ...REQUIRED,
      customDomain: null,
      zoomRedirectUri: null,
      alarmEmail: '',
      alarmTopicArn: null,
      awsAccountId: null,
      awsRegion: '',
    });
    for (const key of ['customDomain', 'zoomRedirectUri', 'alarmEmail', 'alarmTopicArn', 'awsAccountId', 'awsRegion'] as const) {
      expect(config[key], key).toBeUndefined();
    }
  });

  it.each([
    'https://connect.example.com/zoom/callback',
    'https://www.example.com/integrations/zoom/callback',
    'https://connect.example.com:8443/zoom/callback',
  ])('accepts the explicit redirect URI %s as it is', (zoomRedirectUri) => {
    expect(parseDeployConfig({ ...REQUIRED, zoomRedirectUri }).zoomRedirectUri).toBe(zoomRedirectUri);
  });

  it('accepts an explicit redirect URI on the custom domain when it is exactly the derived one', () => {
    const config = parseDeployConfig({
      ...REQUIRED,
      customDomain: { domainName: 'connect.example.com', certificateArn: CERTIFICATE },
      zoomRedirectUri: 'https://connect.example.com/zoom/callback',
    });
    expect(config.zoomRedirectUri).toBe('https://connect.example.com/zoom/callback');
  });

  it('accepts alarm settings, a pinned account and region, and every CloudWatch Logs retention', () => {
    expect(
      parseDeployConfig({
        ...REQUIRED,
        alarmEmail: 'oncall@example.com',
        callbackErrorRateThreshold: 1,
        recallFailureRateThreshold: 0.01,
        stackName: 'RecallZoomConnect-staging',
        awsAccountId: 123456789012,
        awsRegion: 'us-east-1',
        customDomain: { domainName: 'connect.example.com', certificateArn: CERTIFICATE },
      }),
    ).toMatchObject({
      alarmEmail: 'oncall@example.com',
      callbackErrorRateThreshold: 1,
      recallFailureRateThreshold: 0.01,
      stackName: 'RecallZoomConnect-staging',
      awsAccountId: '123456789012',
      awsRegion: 'us-east-1',
    });
    expect(parseDeployConfig({ ...REQUIRED, alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' }).alarmTopicArn).toBe(
      'arn:aws:sns:us-east-1:123456789012:ops',
    );
    for (const days of [1, 3653]) expect(parseDeployConfig({ ...REQUIRED, logRetentionDays: days }).logRetentionDays).toBe(days);
  });

  it('ignores context keys that are not its own (feature flags, notes)', () => {
    expect(() =>
      parseDeployConfig({ ...REQUIRED, '@aws-cdk/core:newStyleStackSynthesis': true, '//recallRegion': 'a note' }),
    ).not.toThrow();
  });

  it('accepts health sync intervals from 1 minute to a day', () => {
    expect(parseDeployConfig({ ...REQUIRED, healthSyncMinutes: 1 }).healthSyncMinutes).toBe(1);
    expect(parseDeployConfig({ ...REQUIRED, healthSyncMinutes: '1440' }).healthSyncMinutes).toBe(1440);
  });

  it('accepts reconcile intervals from 10 minutes to a day, and its fix switch as a boolean or as -c passes it', () => {
    expect(parseDeployConfig({ ...REQUIRED, reconcileMinutes: 10 }).reconcileMinutes).toBe(10);
    expect(parseDeployConfig({ ...REQUIRED, reconcileMinutes: '1440' }).reconcileMinutes).toBe(1440);
    expect(parseDeployConfig({ ...REQUIRED, reconcileFix: true }).reconcileFix).toBe(true);
    expect(parseDeployConfig({ ...REQUIRED, reconcileFix: 'true' }).reconcileFix).toBe(true);
    expect(parseDeployConfig({ ...REQUIRED, reconcileFix: 'false' }).reconcileFix).toBe(false);
  });

  // Each setting the stack passes through as it is must be refused at synth exactly where the runtime would refuse
  // it at every cold start: both ends are driven here with the same values.
  describe.each(Object.entries(RUNTIME_SETTINGS))('runtime setting %s', (key, setting) => {
    const deploy = (value: number) => () => parseDeployConfig({ ...REQUIRED, [key]: value });
    const runtime = (value: number) => () =>
      loadConfig({
        ZOOM_REDIRECT_URI: 'https://connect.example.com/zoom/callback',
        RECALL_ZOOM_OAUTH_APP_ID: APP_ID,
        RETURN_URL_ALLOWLIST: 'https://app.example.com/',
        RECALL_API_KEY_SECRET_ID: 'recall-api-key',
        [setting.variable]: String(value),
      });

    it(`accepts ${setting.min} to ${setting.max} ${setting.unit}, as ${setting.variable} does`, () => {
      for (const value of [setting.min, setting.max]) {
        expect(deploy(value)()[key as keyof typeof RUNTIME_SETTINGS]).toBe(value);
        expect(runtime(value)).not.toThrow();
      }
      expect(parseDeployConfig(REQUIRED)[key as keyof typeof RUNTIME_SETTINGS]).toBe(setting.default);
    });

    it(`refuses ${setting.min - 1} and ${setting.max + 1}, as ${setting.variable} does, naming the range`, () => {
      for (const value of [setting.min - 1, setting.max + 1]) {
        expect(deploy(value)).toThrow(`${key} must be between ${setting.min} and ${setting.max} ${setting.unit}`);
        expect(runtime(value)).toThrow(setting.variable);
      }
    });
  });

  // Every deploy key of the settings table, driven from the table: its default when left out, its bounds or choices
  // accepted, a value just outside refused with a message naming the key.
  describe.each(SETTING_TABLE.flatMap((setting) => (setting.key ? [[setting.key, setting] as const] : [])))('setting %s', (key, setting) => {
    /** The context with `key` (a dotted path for a nested key) set to `value`, beside what a nested key needs. */
    const withValue = (value: unknown) => {
      const [top = '', ...rest] = key.split('.');
      const nested = rest.reduceRight<unknown>((inner, part) => ({ [part]: inner }), value);
      const beside = top === 'eventsEndpoint' ? { url: 'https://api.example.com/hooks/zoom-connect' } : {};
      return { ...REQUIRED, [top]: rest.length > 0 ? { ...beside, ...(nested as object) } : nested };
    };
    const parsed = (value: unknown) =>
      key.split('.').reduce<unknown>((at, part) => (at as Record<string, unknown>)[part], parseDeployConfig(withValue(value)));
    const accepted = setting.kind === 'whole' ? [setting.min, setting.max ?? setting.min * 1000] : setting.kind === 'fraction' ? [0.01, 1] : setting.choices;
    const refused = setting.kind === 'whole' ? [setting.min - 1, ...(setting.max === undefined ? [] : [setting.max + 1])] : setting.kind === 'fraction' ? [0, 1.5] : ['none of these'];

    it('defaults to the value of the table', () => {
      expect(parsed(undefined)).toBe(setting.default);
    });

    it('accepts the bounds or choices of the table, and refuses a value outside them, naming the key', () => {
      for (const value of accepted) expect(parsed(value)).toBe(value);
      for (const value of refused) expect(problemsWith(withValue(value))).toContain(key);
    });
  });

  it('hands every runtime setting with a deploy key to the functions, and only those', () => {
    const runtimeKeys = SETTING_TABLE.flatMap((setting) => (setting.scope === 'runtime' && setting.key ? [setting.key] : []));
    expect(Object.keys(RUNTIME_SETTINGS).sort()).toEqual(runtimeKeys.sort());
  });

  it('bounds connectTokenMaxTtlSeconds to 60-3600 seconds, as the runtime does', () => {
    expect(parseDeployConfig({ ...REQUIRED, connectTokenMaxTtlSeconds: 120 }).connectTokenMaxTtlSeconds).toBe(120);
    expect(problemsWith({ connectTokenMaxTtlSeconds: 3601 })).toContain('connectTokenMaxTtlSeconds must be between 60 and 3600 seconds');
  });

  it('takes an installLandingUrl only on returnUrlAllowlist', () => {
    const allowed = `${(REQUIRED.returnUrlAllowlist as string[])[0]}welcome`;
    expect(parseDeployConfig({ ...REQUIRED, installLandingUrl: allowed }).installLandingUrl).toBe(allowed);
    expect(problemsWith({ installLandingUrl: 'https://elsewhere.example/landing' })).toContain('installLandingUrl must be on returnUrlAllowlist');
  });

  it('keeps the callback deadline 3 s inside the callback\'s 25 s Lambda timeout, and says so', () => {
    expect(RUNTIME_SETTINGS.callbackDeadlineMs.max).toBe(22_000);
    expect(problemsWith({ callbackDeadlineMs: 22_001 })).toContain(
      "callbackDeadlineMs must be between 5000 and 22000 milliseconds: the callback's Lambda timeout is 25 s, and it needs 3 s after its deadline to answer",
    );
  });

  it.each([
    ['an unknown Recall region', { recallRegion: 'eu-west-1' }, 'recallRegion', 'recallRegion must be one of us-east-1, us-west-2, eu-central-1, ap-northeast-1'],
    ['a missing app id', { recallZoomOAuthAppId: undefined }, 'recallZoomOAuthAppId', 'recallZoomOAuthAppId must be the id (a UUID)'],
    ['an app id that is not a UUID', { recallZoomOAuthAppId: 'my-app' }, 'recallZoomOAuthAppId', '-c recallZoomOAuthAppId=<uuid>'],
    ['a missing allow-list', { returnUrlAllowlist: undefined }, 'returnUrlAllowlist', 'returnUrlAllowlist is required'],
    ['an empty allow-list', { returnUrlAllowlist: [] }, 'returnUrlAllowlist', 'needs at least one entry'],
    ['a plain-http allow-list entry', { returnUrlAllowlist: ['http://app.example.com/'] }, 'returnUrlAllowlist[0]', '"http://app.example.com/" must use https, not http'],
    ['a localhost allow-list entry', { returnUrlAllowlist: ['https://localhost:3000/'] }, 'returnUrlAllowlist[0]', 'points at this machine'],
    ['a loopback-address allow-list entry', { returnUrlAllowlist: ['https://app.example.com/', 'https://127.0.0.1:8080/'] }, 'returnUrlAllowlist[1]', 'points at this machine'],
    ['an allow-list entry with a query', { returnUrlAllowlist: ['https://app.example.com/?next=1'] }, 'returnUrlAllowlist[0]', 'without ?query or #fragment'],
    ['an allow-list entry that is not a URL', { returnUrlAllowlist: ['app.example.com/settings'] }, 'returnUrlAllowlist[0]', 'is not an absolute URL'],
    ['a custom domain given as a URL', { customDomain: { domainName: 'https://connect.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' } }, 'customDomain.domainName', 'fully qualified host name'],
    ['a localhost custom domain', { customDomain: { domainName: 'connect.localhost', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc' } }, 'customDomain.domainName', 'public host name'],
    ['a custom domain without a certificate', { customDomain: { domainName: 'connect.example.com' } }, 'customDomain.certificateArn', 'ACM certificate ARN'],
    ['a custom domain with an unknown key', { customDomain: { domainName: 'connect.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc', hostedZoneId: 'Z1' } }, 'customDomain', 'not hostedZoneId'],
    ['a secret name prefix with spaces', { secretNamePrefix: 'my app secret' }, 'secretNamePrefix', 'letters, digits and /_+=.@-'],
    ['a secret name prefix ending in a slash', { secretNamePrefix: 'recall-zoom-connect/' }, 'secretNamePrefix', 'must not end with "/"'],
    ['useExistingSecrets that is not a flag', { useExistingSecrets: 'yes' }, 'useExistingSecrets', 'useExistingSecrets must be true or false'],
    ['an unknown log level', { logLevel: 'TRACE' }, 'logLevel', 'logLevel must be one of DEBUG, INFO, WARN, ERROR'],
    ['a throttle rate that is not a number', { throttleRateLimit: 'fast' }, 'throttleRateLimit', 'throttleRateLimit must be a number'],
    ['a negative burst limit', { throttleBurstLimit: -5 }, 'throttleBurstLimit', 'throttleBurstLimit must be greater than 0'],
    ['a route that does not exist', { routeThrottling: { login: { rateLimit: 5 } } }, 'routeThrottling', 'routeThrottling has no route login; its routes are authorize, callback, webhook, connections'],
    ['a route limit of 0', { routeThrottling: { callback: { rateLimit: 0 } } }, 'routeThrottling.callback.rateLimit', 'routeThrottling.callback.rateLimit must be greater than 0'],
    ['a route limit that is not a number', { routeThrottling: '{"webhook": {"burstLimit": "lots"}}' }, 'routeThrottling.webhook.burstLimit', 'routeThrottling.webhook.burstLimit must be a number'],
    ['an unknown route setting', { routeThrottling: { webhook: { rate: 5 } } }, 'routeThrottling.webhook', 'routeThrottling.webhook must be an object {"rateLimit"'],
    ['keepExecuteApiEndpoint without a custom domain', { keepExecuteApiEndpoint: true }, 'keepExecuteApiEndpoint', 'keepExecuteApiEndpoint only applies with customDomain'],
    ['a health sync interval of 0 minutes', { healthSyncMinutes: 0 }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
    ['a health sync interval over a day', { healthSyncMinutes: 1441 }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
    ['a health sync interval in fractions of a minute', { healthSyncMinutes: 7.5 }, 'healthSyncMinutes', 'healthSyncMinutes must be a whole number of minutes'],
    ['a health sync interval that is not a number', { healthSyncMinutes: '15m' }, 'healthSyncMinutes', 'healthSyncMinutes must be a number of minutes'],
    ['an empty health sync interval', { healthSyncMinutes: '' }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
    ['a reconcile interval under 10 minutes', { reconcileMinutes: 5 }, 'reconcileMinutes', 'reconcileMinutes must be between 10 and 1440 minutes'],
    ['a reconcile interval over a day', { reconcileMinutes: 1441 }, 'reconcileMinutes', 'reconcileMinutes must be between 10 and 1440 minutes'],
    ['a reconcile fix switch that is not a boolean', { reconcileFix: 'yes' }, 'reconcileFix', 'reconcileFix must be true or false'],
    ['a Recall timeout in seconds rather than milliseconds', { recallTimeoutMs: 5 }, 'recallTimeoutMs', 'recallTimeoutMs must be between 100 and 15000 milliseconds'],
    ['a fractional number of Recall attempts', { recallMaxAttempts: 2.5 }, 'recallMaxAttempts', 'recallMaxAttempts must be a whole number of attempts'],
    ['an orphan grace period that is not a number', { reconcileOrphanGraceSeconds: '15m' }, 'reconcileOrphanGraceSeconds', 'reconcileOrphanGraceSeconds must be a number of seconds'],
    ['a redirect URI over plain http', { zoomRedirectUri: 'http://connect.example.com/zoom/callback' }, 'zoomRedirectUri', 'must use https, not http'],
    ['a localhost redirect URI', { zoomRedirectUri: 'https://localhost:3000/zoom/callback' }, 'zoomRedirectUri', 'Recall rejects localhost redirect URIs'],
    ['a 127.0.0.1 redirect URI', { zoomRedirectUri: 'https://127.0.0.1/zoom/callback' }, 'zoomRedirectUri', 'Recall rejects localhost redirect URIs'],
    ['a [::1] redirect URI', { zoomRedirectUri: 'https://[::1]/zoom/callback' }, 'zoomRedirectUri', 'Recall rejects localhost redirect URIs'],
    ['a 0.0.0.0 redirect URI', { zoomRedirectUri: 'https://0.0.0.0/zoom/callback' }, 'zoomRedirectUri', 'Recall rejects localhost redirect URIs'],
    ['a redirect URI with a query', { zoomRedirectUri: 'https://connect.example.com/zoom/callback?env=prod' }, 'zoomRedirectUri', 'must not have a ?query or #fragment'],
    ['a redirect URI with an empty query', { zoomRedirectUri: 'https://connect.example.com/zoom/callback?' }, 'zoomRedirectUri', 'must not have a ?query or #fragment'],
    ['a redirect URI with a fragment', { zoomRedirectUri: 'https://connect.example.com/zoom/callback#x' }, 'zoomRedirectUri', 'must not have a ?query or #fragment'],
    ['a redirect URI with a trailing slash', { zoomRedirectUri: 'https://connect.example.com/zoom/callback/' }, 'zoomRedirectUri', 'trailing slash, which makes it a different URI from the callback route /zoom/callback'],
    ['a redirect URI off the callback route', { zoomRedirectUri: 'https://connect.example.com/oauth/zoom' }, 'zoomRedirectUri', 'must end with the callback route /zoom/callback'],
    ['a redirect URI that is not a URL', { zoomRedirectUri: 'connect.example.com/zoom/callback' }, 'zoomRedirectUri', 'is not an absolute URL'],
    ['a redirect URI not in canonical form', { zoomRedirectUri: 'https://Connect.Example.com:443/zoom/callback' }, 'zoomRedirectUri', 'write it as https://connect.example.com/zoom/callback'],
    ['a redirect URI with credentials', { zoomRedirectUri: 'https://user:pw@connect.example.com/zoom/callback' }, 'zoomRedirectUri', 'must not carry credentials'],
    ['a redirect URI on an execute-api host', { zoomRedirectUri: 'https://abc123.execute-api.us-east-1.amazonaws.com/zoom/callback' }, 'zoomRedirectUri', 'leave zoomRedirectUri unset'],
    ['a redirect URI on the custom domain under a prefix', { customDomain: { domainName: 'connect.example.com', certificateArn: CERTIFICATE }, zoomRedirectUri: 'https://connect.example.com/app/zoom/callback' }, 'zoomRedirectUri', 'must be https://connect.example.com/zoom/callback'],
    ['an alarm email that is not an address', { alarmEmail: 'oncall' }, 'alarmEmail', 'alarmEmail must be one email address'],
    ['an alarm topic that is not an SNS ARN', { alarmTopicArn: 'ops-alarms' }, 'alarmTopicArn', 'ARN of an SNS standard topic'],
    ['a FIFO alarm topic', { alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops.fifo' }, 'alarmTopicArn', 'CloudWatch alarms can only notify standard topics'],
    ['both an alarm email and an alarm topic', { alarmEmail: 'oncall@example.com', alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' }, 'alarmTopicArn', 'set alarmEmail or alarmTopicArn, not both'],
    ['an alarm topic in another region than the stack', { awsRegion: 'eu-central-1', alarmTopicArn: 'arn:aws:sns:us-east-1:123456789012:ops' }, 'alarmTopicArn', 'only notify topics in their own region eu-central-1'],
    ['a certificate in another region than the stack', { awsRegion: 'eu-central-1', customDomain: { domainName: 'connect.example.com', certificateArn: CERTIFICATE } }, 'customDomain.certificateArn', 'must be in the stack region eu-central-1'],
    ['an error-rate threshold given as a percentage', { callbackErrorRateThreshold: 20 }, 'callbackErrorRateThreshold', 'not a percentage'],
    ['an error-rate threshold of 0', { callbackErrorRateThreshold: 0 }, 'callbackErrorRateThreshold', 'must be a fraction above 0'],
    ['an error-rate threshold that is not a number', { callbackErrorRateThreshold: 'high' }, 'callbackErrorRateThreshold', 'callbackErrorRateThreshold must be a number'],
    ['a Recall failure threshold above 1', { recallFailureRateThreshold: 1.5 }, 'recallFailureRateThreshold', 'at most 1'],
    ['a minimum callback count of 0', { callbackErrorRateMinCallbacks: 0 }, 'callbackErrorRateMinCallbacks', 'callbackErrorRateMinCallbacks must be greater than 0'],
    ['a fractional minimum Recall call count', { recallFailureRateMinCalls: 2.5 }, 'recallFailureRateMinCalls', 'recallFailureRateMinCalls must be a whole number'],
    ['a log retention CloudWatch does not offer', { logRetentionDays: 10 }, 'logRetentionDays', 'one of the periods CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30'],
    ['a stack name with an underscore', { stackName: 'recall_zoom' }, 'stackName', 'stackName must start with a letter'],
    ['an account id that is not 12 digits', { awsAccountId: '12345' }, 'awsAccountId', 'awsAccountId must be a 12-digit AWS account id'],
    ['a region that is not a region', { awsRegion: 'Frankfurt' }, 'awsRegion', 'awsRegion must be an AWS region'],
  ])('rejects %s, naming the key and the fix', (_case, context, key, fix) => {
    const message = problemsWith(context);
    expect(message).toContain('Invalid deploy configuration (CDK context; set it in cdk.json or with -c key=value)');
    expect(message).toContain(`→ at ${key}`);
    expect(message).toContain(fix);
  });

  it('lists every problem at once', () => {
    const message = problemsWith({ recallRegion: 'mars-1', recallZoomOAuthAppId: 'x', logLevel: 'loud' });
    expect(message).toContain('→ at recallRegion');
    expect(message).toContain('→ at recallZoomOAuthAppId');
    expect(message).toContain('→ at logLevel');
  });

  it('reports malformed keys plainly when the rules between keys cannot apply', () => {
    const message = problemsWith({ customDomain: { domainName: 5 }, zoomRedirectUri: 7, awsRegion: 'us-east-1', alarmTopicArn: 42 });
    expect(message).toContain('→ at customDomain.domainName');
    expect(message).toContain('→ at zoomRedirectUri');
    expect(message).toContain('→ at alarmTopicArn');
    expect(message).not.toContain('TypeError');
  });
});

describe('deploy config files', () => {
  const files = (contents: Record<string, string>) => (file: string) => {
    const content = contents[file];
    if (content === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
    return content;
  };

  it('lays the file named by configFile over the context, the file winning', () => {
    const read = files({
      'deploy/prod.json': JSON.stringify({ ...REQUIRED, '//logLevel': 'a note', logLevel: 'WARN', stackName: 'RecallZoomConnect-prod' }),
    });
    const config = resolveDeployConfig({ ...CDK_JSON_CONTEXT, logLevel: 'DEBUG', throttleRateLimit: 7, configFile: 'deploy/prod.json' }, read);
    expect(config).toMatchObject({
      ...REQUIRED,
      logLevel: 'WARN',
      stackName: 'RecallZoomConnect-prod',
      // Not in the file: the context's value stands.
      throttleRateLimit: 7,
    });
  });

  it('uses the context alone without configFile', () => {
    const read = () => {
      throw new Error('no file should be read');
    };
    expect(resolveDeployConfig({ ...REQUIRED, logLevel: 'ERROR' }, read).logLevel).toBe('ERROR');
  });

  it('names the file in a validation error', () => {
    const read = files({ 'deploy/prod.json': JSON.stringify({ ...REQUIRED, recallRegion: 'eu-west-1' }) });
    expect(() => resolveDeployConfig({ ...CDK_JSON_CONTEXT, configFile: 'deploy/prod.json' }, read)).toThrow(
      /Invalid deploy configuration \(deploy\/prod\.json over cdk\.json's context\):\n.*recallRegion must be one of/s,
    );
  });

  it.each([
    ['a missing file', {}, 'no such file'],
    ['a file that is not JSON', { 'c.json': '{ recallRegion: us-east-1 }' }, 'is not valid JSON'],
    ['a file holding a list', { 'c.json': '[]' }, 'must hold one JSON object of config keys'],
    ['a file holding null', { 'c.json': 'null' }, 'must hold one JSON object of config keys'],
    ['a misspelt key', { 'c.json': '{"alarmEmial": "oncall@example.com"}' }, 'unknown key "alarmEmial" (did you mean "alarmEmail"?)'],
    ['a key that is no config key', { 'c.json': '{"vpcId": "vpc-1", "region": "us-east-1"}' }, 'unknown keys "vpcId", "region"'],
  ])('rejects %s, naming the file', (_case, contents, problem) => {
    expect(() => readDeployConfigFile('c.json', files(contents))).toThrow(InvalidDeployConfigError);
    expect(() => readDeployConfigFile('c.json', files(contents))).toThrow(`Invalid deploy configuration file c.json: ${problem}`);
  });

  it('rejects a configFile that is not a path', () => {
    expect(() => resolveDeployConfig({ ...REQUIRED, configFile: 42 })).toThrow('configFile must be a file path');
  });

  it('knows every schema key, and nothing else, as a file key', () => {
    expect([...DEPLOY_CONFIG_KEYS].sort()).toEqual(Object.keys(DeployConfigSchema.shape).sort());
  });

  it('ships an example without copies of the settings table: a setting it names differs from its default', () => {
    const example = JSON.parse(readFileSync(projectPath('deploy/example.config.json'), 'utf8')) as Record<string, unknown>;
    expect([...SETTING_KEYS].filter((key) => key in example)).not.toEqual([]);
    expect([...SETTING_KEYS].filter((key) => example[key] === SETTING_TABLE.find((setting) => setting.key === key)?.default)).toEqual([]);
  });

  it('ships an example that validates as a realistic deployment', () => {
    const config = resolveDeployConfig({ ...CDK_JSON_CONTEXT, configFile: projectPath('deploy/example.config.json') });
    expect(config.recallZoomOAuthAppId).not.toBe(PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID);
    expect(config).toMatchObject({ awsRegion: 'eu-central-1', alarmEmail: expect.any(String), customDomain: expect.any(Object) });
  });
});
