import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DeployConfigSchema,
  InvalidDeployConfigError,
  parseDeployConfig,
  PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID,
} from '../../../lib/config.js';
import { projectPath } from '../../../lib/constructs/service-function.js';

const CDK_JSON_CONTEXT = JSON.parse(readFileSync(projectPath('cdk.json'), 'utf8')).context as Record<string, unknown>;

const APP_ID = '2d40abfe-c692-4723-b26f-869ebfbde4cf';
const REQUIRED = { recallZoomOAuthAppId: APP_ID, returnUrlAllowlist: ['https://app.example.com/settings/'] };

/** The error message parseDeployConfig throws for this context (on top of the required keys). */
function problemsWith(context: Record<string, unknown>): string {
  try {
    parseDeployConfig({ ...REQUIRED, ...context });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDeployConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}

describe('parseDeployConfig', () => {
  it('parses the context cdk.json ships with', () => {
    expect(parseDeployConfig(CDK_JSON_CONTEXT)).toEqual({
      recallRegion: 'us-east-1',
      recallZoomOAuthAppId: PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID,
      returnUrlAllowlist: ['https://app.example.com/'],
      appSecretName: 'recall-zoom-connect/app',
      logLevel: 'INFO',
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      healthSyncMinutes: 15,
    });
  });

  it('documents every key it reads in cdk.json, each with a "//" note', () => {
    for (const key of Object.keys(DeployConfigSchema.shape)) {
      expect(CDK_JSON_CONTEXT).toHaveProperty([key]);
      expect(CDK_JSON_CONTEXT).toHaveProperty([`//${key}`]);
    }
  });

  it('fills in a default for every key but the app id and the allow-list', () => {
    expect(parseDeployConfig(REQUIRED)).toEqual({
      ...REQUIRED,
      recallRegion: 'us-east-1',
      appSecretName: 'recall-zoom-connect/app',
      logLevel: 'INFO',
      throttleRateLimit: 50,
      throttleBurstLimit: 100,
      healthSyncMinutes: 15,
    });
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
    });
  });

  it('treats empty and null optional values as not set', () => {
    const config = parseDeployConfig({ ...REQUIRED, customDomain: null, existingAppSecretName: '' });
    expect(config.customDomain).toBeUndefined();
    expect(config.existingAppSecretName).toBeUndefined();
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
    ['a secret name with spaces', { appSecretName: 'my app secret' }, 'appSecretName', 'letters, digits and /_+=.@-'],
    ['a secret name that looks like an ARN suffix', { appSecretName: 'recall-zoom-connect-AbCdEf' }, 'appSecretName', 'hyphen and six characters'],
    ['an unknown log level', { logLevel: 'TRACE' }, 'logLevel', 'logLevel must be one of DEBUG, INFO, WARN, ERROR'],
    ['a throttle rate that is not a number', { throttleRateLimit: 'fast' }, 'throttleRateLimit', 'throttleRateLimit must be a number'],
    ['a negative burst limit', { throttleBurstLimit: -5 }, 'throttleBurstLimit', 'throttleBurstLimit must be greater than 0'],
    ['a health sync interval of 0 minutes', { healthSyncMinutes: 0 }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
    ['a health sync interval over a day', { healthSyncMinutes: 1441 }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
    ['a health sync interval in fractions of a minute', { healthSyncMinutes: 7.5 }, 'healthSyncMinutes', 'healthSyncMinutes must be a whole number of minutes'],
    ['a health sync interval that is not a number', { healthSyncMinutes: '15m' }, 'healthSyncMinutes', 'healthSyncMinutes must be a number of minutes'],
    ['an empty health sync interval', { healthSyncMinutes: '' }, 'healthSyncMinutes', 'healthSyncMinutes must be between 1 and 1440'],
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
});
