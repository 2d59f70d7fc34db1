import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../../functions/shared/config.js';
import { MisconfiguredError } from '../../../functions/shared/errors.js';
import { SECRET_PLACEHOLDER, type SecretReader, SecretStore } from '../../../functions/shared/secrets.js';
import { sdkSecretReader } from '../../../functions/shared/secrets-sdk.js';

const APP_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/app-AbCdEf';
const SIGNING_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-key-GhIjKl';
const RECALL_API_KEY = 'recall-api-key-super-secret-0123456789';
const ZOOM_CLIENT_ID = 'zoomClientIdQwErTy';
const WEBHOOK_TOKEN = 'zoom-webhook-secret-token-zxcvb';
const SIGNING_KEY = 'signing-key-with-at-least-32-characters-0123456789abcdef';
const PREVIOUS_SIGNING_KEY = 'the-signing-key-before-the-last-rotation-0123456789';
const TTL_SECONDS = 300;

const awsConfig: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'> = {
  secrets: { source: 'secrets-manager', appSecretId: APP_SECRET_ID, signingKeySecretId: SIGNING_KEY_SECRET_ID },
  secretsCacheSeconds: TTL_SECONDS,
};

const secretsManager = mockClient(SecretsManagerClient);
const newClient = () => new SecretsManagerClient({});
/** The SDK reader, as every function but authorize reads secrets. */
const reader = sdkSecretReader(newClient);

const notFound = (what: string) =>
  new ResourceNotFoundException({ message: `Secrets Manager can't find the specified secret${what}.`, $metadata: {} });

/**
 * Secrets Manager as the stack leaves it: the app secret, and the signing key's `AWSCURRENT` version with an
 * `AWSPREVIOUS` one only when `previous` is given (a key never rotated has none).
 */
function answer(
  appSecret: string | undefined,
  { current = SIGNING_KEY, previous }: { current?: string; previous?: string } = {},
) {
  secretsManager.on(GetSecretValueCommand, { SecretId: APP_SECRET_ID }).resolves({ SecretString: appSecret });
  secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).callsFake((input: GetSecretValueCommandInput) => {
    if (input.VersionStage === 'AWSPREVIOUS') {
      if (previous === undefined) throw notFound(' value for staging label: AWSPREVIOUS');
      return { SecretString: previous };
    }
    return { SecretString: current };
  });
}

const filledAppSecret = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    recallApiKey: RECALL_API_KEY,
    zoomClientId: ZOOM_CLIENT_ID,
    zoomWebhookSecretToken: WEBHOOK_TOKEN,
    ...overrides,
  });

const requested = () =>
  secretsManager.commandCalls(GetSecretValueCommand).map(({ args }) => {
    const { SecretId, VersionStage } = args[0].input;
    return VersionStage ? `${SecretId}@${VersionStage}` : String(SecretId);
  });

async function misconfiguration(promise: Promise<unknown>): Promise<MisconfiguredError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(MisconfiguredError);
  return error as MisconfiguredError;
}

/** Every value a misconfiguration message must never quote. */
function expectNoSecretValue(error: Error): void {
  for (const value of [RECALL_API_KEY, ZOOM_CLIENT_ID, WEBHOOK_TOKEN, SIGNING_KEY, PREVIOUS_SIGNING_KEY]) {
    expect(error.message).not.toContain(value);
  }
}

/** A clock the test moves by hand. */
function clock(start = 1_796_061_600_000) {
  let current = start;
  return { now: () => current, advance: (ms: number) => (current += ms) };
}

beforeEach(() => {
  secretsManager.reset();
});

afterEach(() => {
  secretsManager.reset();
});

describe('SecretStore: environment source (local mode)', () => {
  const environment = {
    secrets: {
      source: 'environment' as const,
      recallApiKey: RECALL_API_KEY,
      zoomClientId: ZOOM_CLIENT_ID,
      zoomWebhookSecretToken: WEBHOOK_TOKEN,
      signingKey: SIGNING_KEY,
    },
    secretsCacheSeconds: TTL_SECONDS,
  };

  it('returns environment values without any Secrets Manager call', async () => {
    const store = new SecretStore(environment, reader);

    expect(await store.app()).toEqual({
      recallApiKey: RECALL_API_KEY,
      zoomClientId: ZOOM_CLIENT_ID,
      zoomWebhookSecretToken: WEBHOOK_TOKEN,
    });
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    expect(await store.webhookSecretToken()).toBe(WEBHOOK_TOKEN);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('needs no client, and names the variable when the webhook token is not set', async () => {
    const { zoomWebhookSecretToken: _unset, ...withoutToken } = environment.secrets;
    const store = new SecretStore({ secrets: withoutToken, secretsCacheSeconds: TTL_SECONDS });

    expect(await store.app()).not.toHaveProperty('zoomWebhookSecretToken');
    const error = await misconfiguration(store.webhookSecretToken());
    expect(error.fields).toEqual(['ZOOM_WEBHOOK_SECRET_TOKEN']);
  });
});

describe('SecretStore: the app secret', () => {
  it('parses the JSON app secret, reading nothing else', async () => {
    answer(filledAppSecret());

    const app = await new SecretStore(awsConfig, reader).app();

    expect(app).toEqual({ recallApiKey: RECALL_API_KEY, zoomClientId: ZOOM_CLIENT_ID, zoomWebhookSecretToken: WEBHOOK_TOKEN });
    expect(requested()).toEqual([APP_SECRET_ID]);
  });

  it('accepts an app secret without the optional webhook token', async () => {
    answer(JSON.stringify({ recallApiKey: RECALL_API_KEY, zoomClientId: ZOOM_CLIENT_ID }));

    const app = await new SecretStore(awsConfig, reader).app();

    expect(app.recallApiKey).toBe(RECALL_API_KEY);
    expect(app.zoomWebhookSecretToken).toBeUndefined();
  });

  it('makes no further Secrets Manager call within the TTL', async () => {
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    await store.app();

    time.advance(TTL_SECONDS * 1000 - 1);
    const second = await store.app();

    expect(secretsManager.calls()).toHaveLength(1);
    expect(second.recallApiKey).toBe(RECALL_API_KEY);
  });

  it('shares one load between concurrent first calls', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, reader);

    await Promise.all([store.app(), store.app(), store.app()]);

    expect(secretsManager.calls()).toHaveLength(1);
  });

  it('fetches again once the TTL has passed and returns the new values', async () => {
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    await store.app();

    answer(filledAppSecret({ recallApiKey: 'rotated-recall-api-key-987654321' }));
    time.advance(TTL_SECONDS * 1000);
    const refreshed = await store.app();

    expect(secretsManager.calls()).toHaveLength(2);
    expect(refreshed.recallApiKey).toBe('rotated-recall-api-key-987654321');
  });

  it('fetches again after clear(), picking up a rotated Recall API key at once', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, reader);
    await store.app();

    answer(filledAppSecret({ recallApiKey: 'rotated-recall-api-key-987654321' }));
    store.clear();
    const app = await store.app();

    expect(secretsManager.calls()).toHaveLength(2);
    expect(app.recallApiKey).toBe('rotated-recall-api-key-987654321');
  });

  it('refuses a placeholder, naming the secret and the field but no secret value', async () => {
    // Prepare: ops filled in the API key but not the client id.
    answer(filledAppSecret({ zoomClientId: SECRET_PLACEHOLDER }));

    // Act
    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    // Assess
    expect(error.secret).toBe(APP_SECRET_ID);
    expect(error.fields).toEqual(['zoomClientId']);
    expect(error.message).toContain('zoomClientId');
    expect(error.message).toContain(APP_SECRET_ID);
    expectNoSecretValue(error);
  });

  it('names every field still holding the placeholder', async () => {
    answer(JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expect(error.fields).toEqual(['recallApiKey', 'zoomClientId']);
  });

  it('never hands out the placeholder as the Zoom webhook secret token, and names it when asked for it', async () => {
    // Prepare: ops filled in the Recall key and the Zoom client id, but not the webhook token the stack seeded with
    // REPLACE_ME. A webhook verified with that publicly known key would accept forged deauthorization events.
    answer(filledAppSecret({ zoomWebhookSecretToken: SECRET_PLACEHOLDER }));
    const store = new SecretStore(awsConfig, reader);

    // Act
    const app = await store.app();
    const error = await misconfiguration(store.webhookSecretToken());

    // Assess
    expect(app.zoomWebhookSecretToken).toBeUndefined();
    expect(error.secret).toBe(APP_SECRET_ID);
    expect(error.fields).toEqual(['zoomWebhookSecretToken']);
    expect(error.message).not.toContain(SECRET_PLACEHOLDER);
  });

  it('refuses a missing field, naming it', async () => {
    answer(JSON.stringify({ zoomClientId: ZOOM_CLIENT_ID, zoomWebhookSecretToken: WEBHOOK_TOKEN }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expect(error.fields).toEqual(['recallApiKey']);
    expectNoSecretValue(error);
  });

  it('refuses a field of the wrong type without echoing its value', async () => {
    answer(filledAppSecret({ recallApiKey: { nested: RECALL_API_KEY } }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expect(error.fields).toEqual(['recallApiKey']);
    expectNoSecretValue(error);
  });

  it('refuses invalid JSON without repeating the raw text', async () => {
    const raw = `{"recallApiKey": "${RECALL_API_KEY}", oops`;
    answer(raw);

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expectNoSecretValue(error);
    expect(error.message).not.toContain('oops');
    expect(error.message).toContain(APP_SECRET_ID);
    expect(error.secret).toBe(APP_SECRET_ID);
  });

  it('refuses a secret without a string value', async () => {
    answer(undefined);

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expect(error.message).toContain(APP_SECRET_ID);
  });

  it('turns ResourceNotFoundException into MisconfiguredError naming the secret', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: APP_SECRET_ID }).rejects(notFound(''));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).app());

    expect(error.secret).toBe(APP_SECRET_ID);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('lets a transient SDK error through unchanged', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    secretsManager.on(GetSecretValueCommand).rejects(throttled);

    const error = await new SecretStore(awsConfig, reader).app().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MisconfiguredError);
    expect((error as Error).name).toBe('ThrottlingException');
  });

  it('does not cache a failed load: the next call tries again and can succeed', async () => {
    // Prepare: the first load finds the placeholder.
    answer(filledAppSecret({ recallApiKey: SECRET_PLACEHOLDER }));
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    await misconfiguration(store.app());

    // Act: ops fill the secret in; the next invocation comes well within the TTL.
    answer(filledAppSecret());
    time.advance(1000);
    const app = await store.app();

    // Assess
    expect(app.recallApiKey).toBe(RECALL_API_KEY);
    expect(secretsManager.calls()).toHaveLength(2);
  });

  it('refuses the secrets-manager source without a reader', async () => {
    const error = await misconfiguration(new SecretStore(awsConfig).app());

    expect(error.message).toMatch(/reader/i);
    expect(secretsManager.calls()).toHaveLength(0);
  });
});

describe('SecretStore: the signing keys', () => {
  it('reads the AWSCURRENT and AWSPREVIOUS versions of the signing key, and never the app secret', async () => {
    answer(filledAppSecret(), { previous: PREVIOUS_SIGNING_KEY });

    const keys = await new SecretStore(awsConfig, reader).signingKeys();

    // Current first: it is what tokens are minted with, and verification tries it first.
    expect(keys).toEqual([SIGNING_KEY, PREVIOUS_SIGNING_KEY]);
    expect(requested().sort()).toEqual([`${SIGNING_KEY_SECRET_ID}@AWSCURRENT`, `${SIGNING_KEY_SECRET_ID}@AWSPREVIOUS`]);
  });

  it('treats a key that was never rotated (no AWSPREVIOUS version) as normal', async () => {
    answer(filledAppSecret());

    expect(await new SecretStore(awsConfig, reader).signingKeys()).toEqual([SIGNING_KEY]);
  });

  it('lists a previous version equal to the current one once', async () => {
    answer(filledAppSecret(), { previous: SIGNING_KEY });

    expect(await new SecretStore(awsConfig, reader).signingKeys()).toEqual([SIGNING_KEY]);
  });

  it('leaves out a previous version too short to be a key', async () => {
    answer(filledAppSecret(), { previous: 'short-old-key' });

    expect(await new SecretStore(awsConfig, reader).signingKeys()).toEqual([SIGNING_KEY]);
  });

  it('refuses a previous version it may not read (its access is the same grant as the current one)', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).callsFake((input: GetSecretValueCommandInput) => {
      if (input.VersionStage === 'AWSPREVIOUS') throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      return { SecretString: SIGNING_KEY };
    });

    const error = await misconfiguration(new SecretStore(awsConfig, reader).signingKeys());

    expect(error.secret).toBe(SIGNING_KEY_SECRET_ID);
    expect(error.message).toContain('AWSPREVIOUS');
  });

  it('refuses a current signing key shorter than 32 characters without showing it', async () => {
    const shortKey = 'too-short-key-1234';
    answer(filledAppSecret(), { current: shortKey });

    const error = await misconfiguration(new SecretStore(awsConfig, reader).signingKeys());

    expect(error.secret).toBe(SIGNING_KEY_SECRET_ID);
    expect(error.message).not.toContain(shortKey);
  });

  it('refuses an unreadable signing key, naming it', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).rejects(notFound(''));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).signingKeys());

    expect(error.secret).toBe(SIGNING_KEY_SECRET_ID);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('serves the signing keys while the app secret is still a placeholder, and the other way round', async () => {
    // Prepare: the authorize step must be able to trust a token's return URL even before ops filled the app secret.
    answer(filledAppSecret({ recallApiKey: SECRET_PLACEHOLDER }));
    const store = new SecretStore(awsConfig, reader);

    // Act / Assess
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    await misconfiguration(store.app());

    secretsManager.reset();
    answer(filledAppSecret());
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).rejects(notFound(''));
    const other = new SecretStore(awsConfig, reader);
    expect((await other.app()).recallApiKey).toBe(RECALL_API_KEY);
    await misconfiguration(other.signingKeys());
  });

  it('refuses the signing keys in a function given no signing key secret', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(
      { secrets: { source: 'secrets-manager', appSecretId: APP_SECRET_ID }, secretsCacheSeconds: TTL_SECONDS },
      reader,
    );

    const error = await misconfiguration(store.signingKeys());

    expect(error.fields).toEqual(['SIGNING_KEY_SECRET_ID']);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('caches the keys for the TTL, but reads them again when asked for keys younger than maxAgeMs', async () => {
    // Prepare: keys read; then the key is rotated.
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    const before = await store.signingKeys();
    answer(filledAppSecret(), { current: 'the-new-signing-key-after-rotation-0123456789', previous: SIGNING_KEY });

    // Act
    time.advance(10_000);
    const tooSoon = await store.signingKeys({ maxAgeMs: 30_000 });
    const cached = await store.signingKeys();
    time.advance(25_000);
    const refreshed = await store.signingKeys({ maxAgeMs: 30_000 });

    // Assess: a forced refresh is bounded by maxAgeMs; after it the new keys are served from the cache.
    expect(tooSoon).toBe(before);
    expect(cached).toBe(before);
    expect(refreshed).toEqual(['the-new-signing-key-after-rotation-0123456789', SIGNING_KEY]);
    expect(await store.signingKeys()).toBe(refreshed);
    expect(secretsManager.calls()).toHaveLength(4);
  });
});

describe('SecretStore: the state keys', () => {
  const STATE_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:state-key-MnOpQr';
  const STATE_KEY = 'state-cookie-key-with-at-least-32-characters-0123456789';
  const PREVIOUS_STATE_KEY = 'the-state-key-before-the-last-rotation-0123456789ab';
  const withStateKey: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'> = {
    secrets: { ...awsConfig.secrets, stateKeySecretId: STATE_KEY_SECRET_ID } as ServiceConfig['secrets'],
    secretsCacheSeconds: TTL_SECONDS,
  };
  const stateKeyVersions = (current: string, previous?: string) =>
    secretsManager.on(GetSecretValueCommand, { SecretId: STATE_KEY_SECRET_ID }).callsFake((input: GetSecretValueCommandInput) => {
      if (input.VersionStage !== 'AWSPREVIOUS') return { SecretString: current };
      if (previous === undefined) throw notFound(' value for staging label: AWSPREVIOUS');
      return { SecretString: previous };
    });

  it('reads the current and previous versions, current first, and nothing else', async () => {
    stateKeyVersions(STATE_KEY, PREVIOUS_STATE_KEY);

    const keys = await new SecretStore(withStateKey, reader).stateKeys();

    expect(keys).toEqual([STATE_KEY, PREVIOUS_STATE_KEY]);
    expect(requested().sort()).toEqual([`${STATE_KEY_SECRET_ID}@AWSCURRENT`, `${STATE_KEY_SECRET_ID}@AWSPREVIOUS`]);
  });

  it('treats a key never rotated as normal, and caches the keys for the TTL', async () => {
    stateKeyVersions(STATE_KEY);
    const time = clock();
    const store = new SecretStore(withStateKey, reader, time.now);

    const first = await store.stateKeys();
    time.advance(TTL_SECONDS * 1000 - 1);
    const second = await store.stateKeys();

    expect(first).toEqual([STATE_KEY]);
    expect(second).toBe(first);
    expect(secretsManager.calls()).toHaveLength(2);
  });

  it('reads the keys again when asked for keys younger than maxAgeMs, and forgets them on clear()', async () => {
    stateKeyVersions(STATE_KEY);
    const time = clock();
    const store = new SecretStore(withStateKey, reader, time.now);
    const before = await store.stateKeys();
    stateKeyVersions('the-state-key-after-the-rotation-0123456789abcdef', STATE_KEY);

    time.advance(31_000);
    const refreshed = await store.stateKeys({ maxAgeMs: 30_000 });
    store.clear();
    await store.stateKeys();

    expect(before).toEqual([STATE_KEY]);
    expect(refreshed).toEqual(['the-state-key-after-the-rotation-0123456789abcdef', STATE_KEY]);
    expect(secretsManager.calls()).toHaveLength(6);
  });

  it('refuses a current state key shorter than 32 characters, without showing it, and leaves out a short previous one', async () => {
    stateKeyVersions('short-state-key', PREVIOUS_STATE_KEY);
    const error = await misconfiguration(new SecretStore(withStateKey, reader).stateKeys());
    expect(error.secret).toBe(STATE_KEY_SECRET_ID);
    expect(error.message).not.toContain('short-state-key');

    secretsManager.reset();
    stateKeyVersions(STATE_KEY, 'short-old-key');
    expect(await new SecretStore(withStateKey, reader).stateKeys()).toEqual([STATE_KEY]);
  });

  it('refuses an unreadable state key, naming it', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: STATE_KEY_SECRET_ID }).rejects(notFound(''));

    const error = await misconfiguration(new SecretStore(withStateKey, reader).stateKeys());

    expect(error.secret).toBe(STATE_KEY_SECRET_ID);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('refuses the state keys in a function given no state key secret, without a call', async () => {
    const error = await misconfiguration(new SecretStore(awsConfig, reader).stateKeys());

    expect(error.fields).toEqual(['STATE_KEY_SECRET_ID']);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('serves STATE_ENCRYPTION_KEY in local mode, and names it when unset or too short', async () => {
    const environment = (stateKey?: string) => ({
      secrets: {
        source: 'environment' as const,
        recallApiKey: RECALL_API_KEY,
        zoomClientId: ZOOM_CLIENT_ID,
        signingKey: SIGNING_KEY,
        ...(stateKey === undefined ? {} : { stateKey }),
      },
      secretsCacheSeconds: TTL_SECONDS,
    });

    expect(await new SecretStore(environment(STATE_KEY)).stateKeys()).toEqual([STATE_KEY]);
    expect((await misconfiguration(new SecretStore(environment()).stateKeys())).fields).toEqual(['STATE_ENCRYPTION_KEY']);
    const short = await misconfiguration(new SecretStore(environment('short')).stateKeys());
    expect(short.fields).toEqual(['STATE_ENCRYPTION_KEY']);
    expect(short.message).not.toContain('short.');
    expect(secretsManager.calls()).toHaveLength(0);
  });
});

describe('SecretStore with any SecretReader', () => {
  /** A reader that answers from a table of `<id>@<stage>` and records what it was asked. */
  function tableReader(values: Record<string, string | Error>) {
    const asked: string[] = [];
    const read: SecretReader['read'] = async (secretId, versionStage) => {
      const key = `${secretId}@${versionStage ?? '-'}`;
      asked.push(key);
      const value = values[key];
      if (value instanceof Error) throw value;
      return value;
    };
    return { asked, reader: { read } satisfies SecretReader };
  }

  it('reads the app secret without a version stage, the keys with both', async () => {
    const { asked, reader: table } = tableReader({
      [`${APP_SECRET_ID}@-`]: filledAppSecret(),
      [`${SIGNING_KEY_SECRET_ID}@AWSCURRENT`]: SIGNING_KEY,
    });
    const store = new SecretStore(awsConfig, table);

    expect((await store.app()).recallApiKey).toBe(RECALL_API_KEY);
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    expect(asked.sort()).toEqual([`${APP_SECRET_ID}@-`, `${SIGNING_KEY_SECRET_ID}@AWSCURRENT`, `${SIGNING_KEY_SECRET_ID}@AWSPREVIOUS`]);
  });

  it('turns a current version that does not exist (undefined) into MisconfiguredError naming the secret', async () => {
    const { reader: table } = tableReader({});
    const store = new SecretStore(awsConfig, table);

    expect((await misconfiguration(store.app())).secret).toBe(APP_SECRET_ID);
    expect((await misconfiguration(store.signingKeys())).secret).toBe(SIGNING_KEY_SECRET_ID);
  });

  it('passes a reader\'s MisconfiguredError and transient errors through, and caches neither', async () => {
    const denied = new MisconfiguredError('Secret x cannot be read (AccessDeniedException).', { secret: APP_SECRET_ID });
    const values: Record<string, string | Error> = { [`${APP_SECRET_ID}@-`]: denied };
    const { asked, reader: table } = tableReader(values);
    const store = new SecretStore(awsConfig, table);

    await expect(store.app()).rejects.toBe(denied);
    values[`${APP_SECRET_ID}@-`] = new Error('socket hang up');
    await expect(store.app()).rejects.toThrow('socket hang up');
    values[`${APP_SECRET_ID}@-`] = filledAppSecret();
    expect((await store.app()).zoomClientId).toBe(ZOOM_CLIENT_ID);
    expect(asked).toHaveLength(3);
  });
});

describe('sdkSecretReader', () => {
  it('sends VersionStage only when asked for one, and returns undefined for a version that does not exist', async () => {
    answer(filledAppSecret());

    expect(await reader.read(SIGNING_KEY_SECRET_ID, 'AWSPREVIOUS')).toBeUndefined();
    expect(await reader.read(SIGNING_KEY_SECRET_ID, 'AWSCURRENT')).toBe(SIGNING_KEY);
    expect(await reader.read(APP_SECRET_ID)).toBe(filledAppSecret());
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: SIGNING_KEY_SECRET_ID, VersionStage: 'AWSPREVIOUS' },
      { SecretId: SIGNING_KEY_SECRET_ID, VersionStage: 'AWSCURRENT' },
      { SecretId: APP_SECRET_ID },
    ]);
  });

  it.each(['AccessDeniedException', 'DecryptionFailure'])('turns %s into MisconfiguredError naming the secret and stage', async (name) => {
    secretsManager.on(GetSecretValueCommand).rejects(Object.assign(new Error('nope'), { name }));

    const error = await misconfiguration(reader.read(SIGNING_KEY_SECRET_ID, 'AWSPREVIOUS'));

    expect(error.secret).toBe(SIGNING_KEY_SECRET_ID);
    expect(error.message).toContain(name);
    expect(error.message).toContain('AWSPREVIOUS');
  });

  it('creates the client only when it first reads', async () => {
    let created = 0;
    const lazy = sdkSecretReader(() => {
      created++;
      return newClient();
    });
    expect(created).toBe(0);
    answer(filledAppSecret());
    await lazy.read(APP_SECRET_ID);
    expect(created).toBe(1);
  });
});
