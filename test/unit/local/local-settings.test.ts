import { describe, expect, it } from 'vitest';
import { parseLinkRequest } from '../../../local/connect-link.js';
import {
  handlerEnvironment,
  LOCAL_DEFAULTS,
  LocalConfigError,
  parseLocalEnv,
  resolveLocalSettings,
} from '../../../local/local-settings.js';

/** Local mode's settings for `env`, on `port`. */
const settingsFor = (env: Record<string, string>, port = 3000) => resolveLocalSettings(parseLocalEnv(env), port);
/** What a real Recall needs besides where it is: a real key and OAuth app. */
const REAL_RECALL_ACCESS = { RECALL_API_KEY: 'k', RECALL_ZOOM_OAUTH_APP_ID: 'app' };

describe('local settings', () => {
  it('defaults everything to the sandboxes on the listening port', () => {
    const settings = settingsFor({}, 4321);
    expect(settings).toMatchObject({
      baseUrl: 'http://localhost:4321',
      zoomRedirectUri: 'http://localhost:4321/zoom/callback',
      zoomAuthorizeUrl: 'http://localhost:4321/sandbox/zoom/oauth/authorize',
      recall: { kind: 'sandbox', baseUrl: 'http://localhost:4321/sandbox/recall' },
      returnUrlAllowlist: 'http://localhost:4321/',
      healthSyncIntervalSeconds: 900,
      sandboxRecall: { conflictMode: 'conflict', spendCodeOnConflict: false, appKind: 'user_level' },
    });
    const env = handlerEnvironment(settings, 'http://127.0.0.1:9');
    expect(env).toMatchObject({ RECALL_API_BASE_URL: 'http://localhost:4321/sandbox/recall', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9' });
    expect(env).not.toHaveProperty('APP_SECRET_ID');
  });

  it('lets every variable override its default', () => {
    const settings = settingsFor({
      ZOOM_REDIRECT_URI: 'https://tunnel.example/zoom/callback/',
      RETURN_URL_ALLOWLIST: 'https://app.example/',
      SANDBOX_RECALL_CONFLICT_MODE: 'update',
      SANDBOX_RECALL_SPEND_CODE_ON_CONFLICT: 'true',
      HEALTH_SYNC_INTERVAL_SECONDS: '60',
      CONNECT_SIGNING_KEY: 'k'.repeat(40),
    });
    expect(settings).toMatchObject({
      zoomRedirectUri: 'https://tunnel.example/zoom/callback/',
      apiBaseUrl: 'https://tunnel.example',
      returnUrlAllowlist: 'https://app.example/',
      healthSyncIntervalSeconds: 60,
      connectSigningKey: 'k'.repeat(40),
      sandboxRecall: { conflictMode: 'update', spendCodeOnConflict: true },
    });
  });

  it('uses real Recall of a region set on its own, and then demands a real key and app', () => {
    expect(() => settingsFor({ RECALL_REGION: 'eu-central-1' })).toThrow(/RECALL_API_KEY and RECALL_ZOOM_OAUTH_APP_ID/);
    const settings = settingsFor({ RECALL_REGION: 'eu-central-1', ...REAL_RECALL_ACCESS });
    expect(settings.recall).toEqual({ kind: 'external', baseUrl: 'https://eu-central-1.recall.ai', chosenBy: 'RECALL_REGION' });
  });

  it('lets RECALL_API_BASE_URL win over RECALL_REGION', () => {
    const settings = settingsFor({ RECALL_REGION: 'eu-central-1', RECALL_API_BASE_URL: 'http://127.0.0.1:9999', ...REAL_RECALL_ACCESS });
    expect(settings.recall).toMatchObject({ baseUrl: 'http://127.0.0.1:9999', chosenBy: 'RECALL_API_BASE_URL' });
    expect(settings.recallRegion).toBe('eu-central-1');
  });

  it('points the handlers\' SQS and EventBridge at the local server, with its queue and bus', () => {
    const settings = settingsFor({}, 4321);
    expect(handlerEnvironment(settings, 'http://127.0.0.1:9')).toMatchObject({
      AWS_ENDPOINT_URL_SQS: 'http://localhost:4321/_local/sqs',
      AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://localhost:4321/_local/eventbridge',
      WEBHOOK_QUEUE_URL: 'http://localhost:4321/_local/sqs/123456789012/zoom-webhooks',
      EVENT_BUS_NAME: 'recall-zoom-connect-local',
      ZOOM_WEBHOOK_SECRET_TOKEN: LOCAL_DEFAULTS.zoomWebhookSecretToken,
    });
  });

  it('gives the handlers a fixed local state key, as long as a deployed one, which STATE_ENCRYPTION_KEY overrides', () => {
    const defaults = handlerEnvironment(settingsFor({}, 4321), 'http://127.0.0.1:9');
    const overridden = handlerEnvironment(
      settingsFor({ STATE_ENCRYPTION_KEY: 's'.repeat(40) }, 4321),
      'http://127.0.0.1:9',
    );

    expect(defaults.STATE_ENCRYPTION_KEY).toBe(LOCAL_DEFAULTS.stateEncryptionKey);
    expect(LOCAL_DEFAULTS.stateEncryptionKey.length).toBeGreaterThanOrEqual(32);
    expect(LOCAL_DEFAULTS.stateEncryptionKey).not.toBe(LOCAL_DEFAULTS.connectSigningKey);
    expect(overridden.STATE_ENCRYPTION_KEY).toBe('s'.repeat(40));
    expect(defaults).not.toHaveProperty('STATE_KEY_SECRET_ID');
  });

  it('allows reconcile repairs against a Recall other than the sandbox only with RECONCILE_FIX_EXTERNAL_RECALL', () => {
    const real = { RECALL_REGION: 'eu-central-1', ...REAL_RECALL_ACCESS };
    expect(settingsFor(real, 4321).reconcileFixExternalRecall).toBe(false);
    expect(settingsFor({ ...real, RECONCILE_FIX_EXTERNAL_RECALL: 'true' }, 4321).reconcileFixExternalRecall).toBe(true);
    expect(() => parseLocalEnv({ RECONCILE_FIX_EXTERNAL_RECALL: 'please' })).toThrow(/RECONCILE_FIX_EXTERNAL_RECALL/);
  });

  it('refuses a health sync interval that is not a whole number of seconds from 1 to 86400', () => {
    for (const value of ['0', '1.5', '86401', 'often']) {
      expect(() => parseLocalEnv({ HEALTH_SYNC_INTERVAL_SECONDS: value }), value).toThrow(/HEALTH_SYNC_INTERVAL_SECONDS/);
    }
    expect(parseLocalEnv({ HEALTH_SYNC_INTERVAL_SECONDS: '86400' }).HEALTH_SYNC_INTERVAL_SECONDS).toBe(86_400);
  });

  it('names malformed variables without echoing their values', () => {
    try {
      parseLocalEnv({ PORT: 'eighty', RECALL_API_BASE_URL: 'not-a-url-secret', SANDBOX_RECALL_CONFLICT_MODE: 'maybe' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(LocalConfigError);
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('RECALL_API_BASE_URL');
      expect(message).toContain('SANDBOX_RECALL_CONFLICT_MODE');
      expect(message).not.toContain('not-a-url-secret');
    }
  });
});

describe('connect-link arguments', () => {
  const local = ['--user', 'u1', '--return-to', 'http://localhost:3000/'];

  it('signs local links with the local key for the local server', () => {
    expect(parseLinkRequest(local, { PORT: '4000' })).toMatchObject({
      apiUrl: 'http://localhost:4000',
      ttlSeconds: 600,
      key: { source: 'value', value: LOCAL_DEFAULTS.connectSigningKey },
    });
  });

  it('reads the key from Secrets Manager for a deployed API, and never for a local link by accident', () => {
    expect(() => parseLinkRequest([...local, '--api-url', 'https://api.example'], {})).toThrow(/signing-key-secret-id/);
    expect(parseLinkRequest([...local, '--api-url', 'https://api.example'], { SIGNING_KEY_SECRET_ID: 'sk' })).toMatchObject({
      apiUrl: 'https://api.example',
      key: { source: 'secrets-manager', secretId: 'sk' },
    });
    expect(parseLinkRequest(local, { SIGNING_KEY_SECRET_ID: 'sk' })).toMatchObject({ key: { source: 'value' } });
  });

  it('refuses bad arguments with a usage error', () => {
    for (const argv of [
      ['--return-to', 'http://localhost:3000/'],
      ['--user', 'u1'],
      ['--user', 'u1', '--return-to', 'ftp://x/'],
      [...local, '--ttl', '0'],
      [...local, '--unknown'],
    ]) {
      expect(() => parseLinkRequest(argv, {}), argv.join(' ')).toThrow();
    }
  });
});
