import { describe, expect, it } from 'vitest';
import {
  loadConfig,
  RECALL_REGIONS,
  recallBaseUrlFor,
  requireStateKey,
  requireTableName,
} from '../../../functions/core/config.js';
import { MisconfiguredError } from '../../../functions/core/errors.js';
import { RUNTIME_VARIABLE_SETTINGS } from '../../../functions/core/settings.js';
import { thrownBy } from '../../helpers/rejection.js';

const LOCAL_API_KEY = 'local-recall-api-key-0123456789';
const LOCAL_SIGNING_KEY = 'local-signing-key-0123456789-abcdefghijklmnop';

/** The environment the stack gives a function on AWS: secrets named, not carried. */
const awsEnv = (): NodeJS.ProcessEnv => ({
  TABLE_NAME: 'connect-table',
  ZOOM_REDIRECT_URI: 'https://connect.example.com/zoom/callback',
  RECALL_REGION: 'us-west-2',
  RECALL_ZOOM_OAUTH_APP_ID: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  RETURN_URL_ALLOWLIST: 'https://app.example.com/settings/,https://admin.example.com/',
  ZOOM_CLIENT_ID_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:zoom-client-id-AbCdEf',
  SIGNING_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-GhIjKl',
});

/** Local mode: no Secrets Manager, the values themselves. */
const localEnv = (): NodeJS.ProcessEnv => ({
  TABLE_NAME: 'local-table',
  ZOOM_REDIRECT_URI: 'http://localhost:3000/zoom/callback',
  RECALL_ZOOM_OAUTH_APP_ID: 'sandbox-app',
  RETURN_URL_ALLOWLIST: 'http://localhost:3000/',
  RECALL_API_KEY: LOCAL_API_KEY,
  ZOOM_CLIENT_ID: 'sandbox-client',
  ZOOM_WEBHOOK_SECRET_TOKEN: 'sandbox-token',
  CONNECT_SIGNING_KEY: LOCAL_SIGNING_KEY,
});

/** The error loadConfig refuses `env` with, which must be a MisconfiguredError. */
const misconfiguration = (env: NodeJS.ProcessEnv): MisconfiguredError => thrownBy(() => loadConfig(env), MisconfiguredError);

describe('loadConfig', () => {
  it('accepts an environment without TABLE_NAME (authorize keeps nothing server-side), and requireTableName refuses it', () => {
    const env = awsEnv();
    delete env.TABLE_NAME;

    const config = loadConfig(env);
    let error: unknown;
    try {
      requireTableName(config);
    } catch (thrown) {
      error = thrown;
    }

    expect(config.tableName).toBeUndefined();
    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).fields).toEqual(['TABLE_NAME']);
    expect(requireTableName(loadConfig(awsEnv()))).toBe('connect-table');
  });

  it('names every missing variable at once', () => {
    const error = misconfiguration({ ZOOM_CLIENT_ID_SECRET_ID: 'a', SIGNING_KEY_SECRET_ID: 'b' });

    for (const name of ['ZOOM_REDIRECT_URI', 'RECALL_ZOOM_OAUTH_APP_ID', 'RETURN_URL_ALLOWLIST']) {
      expect(error.message).toContain(name);
    }
  });

  it('refuses a blank TABLE_NAME', () => {
    const error = misconfiguration({ ...awsEnv(), TABLE_NAME: '   ' });

    expect(error.message).toContain('TABLE_NAME');
  });

  it('uses Secrets Manager when a filled secret id is set, naming only the secrets the function is given', () => {
    const config = loadConfig(awsEnv());

    expect(config.secrets).toEqual({
      source: 'secrets-manager',
      secretIds: { zoomClientId: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:zoom-client-id-AbCdEf' },
      signingKeySecretId: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-GhIjKl',
    });
  });

  it('names the state key secret when STATE_KEY_SECRET_ID is set, and only then', () => {
    const env = { ...awsEnv(), STATE_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:state-MnOpQr' };

    expect(loadConfig(env).secrets).toMatchObject({ stateKeySecretId: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:state-MnOpQr' });
    expect(loadConfig(awsEnv()).secrets).not.toHaveProperty('stateKeySecretId');
  });

  it('carries STATE_ENCRYPTION_KEY in local mode, and ignores STATE_KEY_SECRET_ID there', () => {
    const config = loadConfig({ ...localEnv(), STATE_ENCRYPTION_KEY: 'local-state-key-0123456789abcdefghijkl', STATE_KEY_SECRET_ID: 'state' });

    expect(config.secrets).toMatchObject({ source: 'environment', stateKey: 'local-state-key-0123456789abcdefghijkl' });
    expect(config.secrets).not.toHaveProperty('stateKeySecretId');
  });

  it.each([
    ['the secrets-manager source', () => awsEnv(), 'STATE_KEY_SECRET_ID'],
    ['the environment source', () => localEnv(), 'STATE_ENCRYPTION_KEY'],
  ])('requireStateKey refuses %s without a state key, naming the variable, and accepts one with it', (_case, env, variable) => {
    let error: unknown;
    try {
      requireStateKey(loadConfig(env()), 'callback');
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).fields).toEqual([variable]);
    expect((error as MisconfiguredError).message).toContain(variable);
    expect(() => requireStateKey(loadConfig({ ...env(), [variable]: 'state-key-0123456789abcdefghijklmnopq' }), 'authorize')).not.toThrow();
  });

  it('uses the environment values in local mode', () => {
    const config = loadConfig(localEnv());

    expect(config.secrets).toEqual({
      source: 'environment',
      recallApiKey: LOCAL_API_KEY,
      zoomClientId: 'sandbox-client',
      zoomWebhookSecretToken: 'sandbox-token',
      signingKey: LOCAL_SIGNING_KEY,
    });
  });

  it('prefers Secrets Manager when both sources are configured', () => {
    const config = loadConfig({ ...localEnv(), ...awsEnv() });

    expect(config.secrets.source).toBe('secrets-manager');
  });

  it('refuses a configuration with neither secret source, naming what is missing', () => {
    const env = localEnv();
    delete env.CONNECT_SIGNING_KEY;
    delete env.ZOOM_CLIENT_ID;

    const error = misconfiguration(env);

    expect(error.message).toContain('CONNECT_SIGNING_KEY');
    expect(error.message).toContain('ZOOM_CLIENT_ID');
    expect(error.message).toContain('_SECRET_ID');
    expect(error.message).not.toContain(LOCAL_API_KEY);
  });

  it('uses Secrets Manager without a signing key for a function given only the Recall API key', () => {
    const env = awsEnv();
    delete env.SIGNING_KEY_SECRET_ID;
    delete env.ZOOM_CLIENT_ID_SECRET_ID;
    env.RECALL_API_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-api-key-AbCdEf';

    expect(loadConfig(env).secrets).toEqual({
      source: 'secrets-manager',
      secretIds: { recallApiKey: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-api-key-AbCdEf' },
    });
  });

  it('does not fall back to Secrets Manager for SIGNING_KEY_SECRET_ID alone', () => {
    const env: NodeJS.ProcessEnv = { ...localEnv(), SIGNING_KEY_SECRET_ID: 'signing-secret' };

    expect(loadConfig(env).secrets.source).toBe('environment');
    delete env.RECALL_API_KEY;
    expect(misconfiguration(env).message).toContain('RECALL_API_KEY');
  });

  it('never echoes a secret value in a configuration error', () => {
    const env = { ...localEnv(), RECALL_REGION: 'mars-1', ZOOM_REDIRECT_URI: 'not a url' };

    const error = misconfiguration(env);

    expect(error.message).not.toContain(LOCAL_API_KEY);
    expect(error.message).not.toContain(LOCAL_SIGNING_KEY);
  });

  it.each(RECALL_REGIONS)('maps region %s to https://<region>.recall.ai', (region) => {
    const config = loadConfig({ ...awsEnv(), RECALL_REGION: region });

    expect(config.recallBaseUrl).toBe(`https://${region}.recall.ai`);
    expect(recallBaseUrlFor(region)).toBe(`https://${region}.recall.ai`);
  });

  it('bounds CONNECT_TOKEN_MAX_TTL_SECONDS to 60-3600, default 900', () => {
    expect(loadConfig(awsEnv()).connectTokenMaxTtlSeconds).toBe(900);
    expect(loadConfig({ ...awsEnv(), CONNECT_TOKEN_MAX_TTL_SECONDS: '60' }).connectTokenMaxTtlSeconds).toBe(60);
    expect(misconfiguration({ ...awsEnv(), CONNECT_TOKEN_MAX_TTL_SECONDS: '59' }).message).toContain('CONNECT_TOKEN_MAX_TTL_SECONDS');
    expect(misconfiguration({ ...awsEnv(), CONNECT_TOKEN_MAX_TTL_SECONDS: '3601' }).message).toContain('CONNECT_TOKEN_MAX_TTL_SECONDS');
  });

  it('takes an INSTALL_LANDING_URL on the return URL allow-list, and refuses one off it', () => {
    const allowed = `${new URL(String(awsEnv().RETURN_URL_ALLOWLIST).split(',')[0] as string).href}welcome`;

    expect(loadConfig({ ...awsEnv(), INSTALL_LANDING_URL: allowed }).installLandingUrl).toBe(allowed);
    expect(loadConfig(awsEnv()).installLandingUrl).toBeUndefined();
    const error = misconfiguration({ ...awsEnv(), INSTALL_LANDING_URL: 'https://elsewhere.example/landing' });
    expect(error.fields).toEqual(['INSTALL_LANDING_URL']);
  });

  it('defaults to us-east-1', () => {
    const env = awsEnv();
    delete env.RECALL_REGION;

    expect(loadConfig(env).recallBaseUrl).toBe('https://us-east-1.recall.ai');
  });

  it('refuses an unknown region, naming the variable', () => {
    const error = misconfiguration({ ...awsEnv(), RECALL_REGION: 'eu-west-1' });

    expect(error.message).toContain('RECALL_REGION');
  });

  it('lets RECALL_API_BASE_URL override RECALL_REGION, without a trailing slash', () => {
    const config = loadConfig({ ...awsEnv(), RECALL_REGION: 'eu-central-1', RECALL_API_BASE_URL: 'http://127.0.0.1:4010/' });

    expect(config.recallBaseUrl).toBe('http://127.0.0.1:4010');
  });

  it('refuses a RECALL_API_BASE_URL that is not a URL', () => {
    const error = misconfiguration({ ...awsEnv(), RECALL_API_BASE_URL: 'recall' });

    expect(error.message).toContain('RECALL_API_BASE_URL');
  });

  it('keeps ZOOM_REDIRECT_URI byte for byte, trailing slash included', () => {
    const config = loadConfig({ ...awsEnv(), ZOOM_REDIRECT_URI: 'https://connect.example.com/zoom/callback/' });

    expect(config.zoomRedirectUri).toBe('https://connect.example.com/zoom/callback/');
  });

  it('refuses a ZOOM_REDIRECT_URI that is not a URL', () => {
    const error = misconfiguration({ ...awsEnv(), ZOOM_REDIRECT_URI: '/zoom/callback' });

    expect(error.message).toContain('ZOOM_REDIRECT_URI');
  });

  it('defaults the Zoom authorize URL to zoom.us', () => {
    expect(loadConfig(awsEnv()).zoomAuthorizeUrl).toBe('https://zoom.us/oauth/authorize');
  });

  it('splits the allow-list on commas, trimming blanks', () => {
    const config = loadConfig({ ...awsEnv(), RETURN_URL_ALLOWLIST: ' https://a.example/x , ,https://b.example/ ,' });

    expect(config.returnUrlAllowlist).toEqual(['https://a.example/x', 'https://b.example/']);
  });

  it('refuses an allow-list entry that is not a URL', () => {
    const error = misconfiguration({ ...awsEnv(), RETURN_URL_ALLOWLIST: 'https://a.example/,app.example.com' });

    expect(error.message).toContain('RETURN_URL_ALLOWLIST');
  });

  it('defaults and coerces the cache and state lifetimes', () => {
    expect(loadConfig(awsEnv())).toMatchObject({ secretsCacheSeconds: 300, oauthStateTtlSeconds: 600 });
    expect(loadConfig({ ...awsEnv(), SECRETS_CACHE_SECONDS: '60', OAUTH_STATE_TTL_SECONDS: '120' })).toMatchObject({
      secretsCacheSeconds: 60,
      oauthStateTtlSeconds: 120,
    });
  });

  it.each(['0', '-5', '1.5', 'ten'])('refuses OAUTH_STATE_TTL_SECONDS=%s', (value) => {
    const error = misconfiguration({ ...awsEnv(), OAUTH_STATE_TTL_SECONDS: value });

    expect(error.message).toContain('OAUTH_STATE_TTL_SECONDS');
  });

  it('returns a frozen configuration', () => {
    const config = loadConfig(awsEnv());

    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.returnUrlAllowlist)).toBe(true);
    expect(Object.isFrozen(config.recall)).toBe(true);
    expect(Object.isFrozen(config.reconcile)).toBe(true);
  });
});

describe('loadConfig: how Recall is called, and how long a callback may take', () => {
  it('defaults to bounded retries and timeouts, a 20 s callback deadline and a reconcile that only reports', () => {
    expect(loadConfig(awsEnv())).toMatchObject({
      recall: { timeoutMs: 5_000, maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 4_000 },
      callbackDeadlineMs: 20_000,
      reconcile: { fix: false, orphanGraceSeconds: 900 },
    });
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig({
      ...awsEnv(),
      RECALL_TIMEOUT_MS: '2500',
      RECALL_MAX_ATTEMPTS: '5',
      RECALL_BACKOFF_BASE_MS: '50',
      RECALL_BACKOFF_MAX_MS: '1000',
      CALLBACK_DEADLINE_MS: '15000',
      RECONCILE_FIX: 'true',
      RECONCILE_ORPHAN_GRACE_SECONDS: '600',
    });

    expect(config).toMatchObject({
      recall: { timeoutMs: 2_500, maxAttempts: 5, backoffBaseMs: 50, backoffMaxMs: 1_000 },
      callbackDeadlineMs: 15_000,
      reconcile: { fix: true, orphanGraceSeconds: 600 },
    });
  });

  // Every bounded variable of the settings table (functions/core/settings.ts), driven from the table itself.
  it.each(RUNTIME_VARIABLE_SETTINGS.map((setting) => [setting.variable, setting] as const))(
    'accepts %s within the bounds of the settings table, and nothing outside',
    (variable, setting) => {
      const inside = [setting.min, setting.max ?? setting.min + 1_000_000].map(String);
      for (const value of inside) expect(() => loadConfig({ ...awsEnv(), [variable]: value })).not.toThrow();
      const outside = [setting.min - 1, ...(setting.max === undefined ? [] : [setting.max + 1])].map(String);
      for (const value of [...outside, '1.5', 'many']) {
        expect(misconfiguration({ ...awsEnv(), [variable]: value }).message).toContain(variable);
      }
    },
  );

  it('keeps the callback deadline below the callback Lambda\'s 25 s timeout and API Gateway\'s 30 s', () => {
    expect(misconfiguration({ ...awsEnv(), CALLBACK_DEADLINE_MS: '25000' }).message).toContain('CALLBACK_DEADLINE_MS');
  });

  it.each(['yes', '1', 'TRUE'])('refuses RECONCILE_FIX=%s: only true or false', (value) => {
    expect(misconfiguration({ ...awsEnv(), RECONCILE_FIX: value }).message).toContain('RECONCILE_FIX');
  });
});
