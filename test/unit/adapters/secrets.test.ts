import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../../functions/core/config.js';
import { MisconfiguredError } from '../../../functions/core/errors.js';
import { SECRET_PLACEHOLDER, type SecretReader, SecretStore } from '../../../functions/adapters/secrets.js';
import { FILLED_SECRET_NAMES, type FilledSecret } from '../../../functions/core/filled-secrets.js';
import { sdkSecretReader } from '../../../functions/adapters/secrets-sdk.js';

const RECALL_API_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/recall-api-key-AbCdEf';
const ZOOM_CLIENT_ID_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/zoom-client-id-AbCdEf';
const WEBHOOK_TOKEN_SECRET_ID =
  'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/zoom-webhook-secret-token-AbCdEf';
const SECRET_IDS: Record<FilledSecret, string> = {
  recallApiKey: RECALL_API_KEY_SECRET_ID,
  zoomClientId: ZOOM_CLIENT_ID_SECRET_ID,
  zoomWebhookSecretToken: WEBHOOK_TOKEN_SECRET_ID,
};
const SIGNING_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-key-GhIjKl';
const RECALL_API_KEY = 'recall-api-key-super-secret-0123456789';
const ZOOM_CLIENT_ID = 'zoomClientIdQwErTy';
const WEBHOOK_TOKEN = 'zoom-webhook-secret-token-zxcvb';
const SIGNING_KEY = 'signing-key-with-at-least-32-characters-0123456789abcdef';
const PREVIOUS_SIGNING_KEY = 'the-signing-key-before-the-last-rotation-0123456789';
const TTL_SECONDS = 300;

const awsConfig: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'> = {
  secrets: { source: 'secrets-manager', secretIds: SECRET_IDS, signingKeySecretId: SIGNING_KEY_SECRET_ID },
  secretsCacheSeconds: TTL_SECONDS,
};

const secretsManager = mockClient(SecretsManagerClient);
const newClient = () => new SecretsManagerClient({});
/** The SDK reader, as every function but authorize reads secrets. */
const reader = sdkSecretReader(newClient);

const notFound = (what: string) =>
  new ResourceNotFoundException({ message: `Secrets Manager can't find the specified secret${what}.`, $metadata: {} });

/**
 * Secrets Manager as the stack leaves it once ops filled it in: the three filled secrets (a value left `undefined` has
 * no string value), and the signing key's `AWSCURRENT` version with an `AWSPREVIOUS` one only when `previous` is given
 * (a key never rotated has none).
 */
function answer(
  filled: Partial<Record<FilledSecret, string | undefined>>,
  { current = SIGNING_KEY, previous }: { current?: string; previous?: string } = {},
) {
  for (const name of FILLED_SECRET_NAMES) {
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_IDS[name] }).resolves({ SecretString: filled[name] });
  }
  secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).callsFake((input: GetSecretValueCommandInput) => {
    if (input.VersionStage === 'AWSPREVIOUS') {
      if (previous === undefined) throw notFound(' value for staging label: AWSPREVIOUS');
      return { SecretString: previous };
    }
    return { SecretString: current };
  });
}

const filledAppSecret = (overrides: Partial<Record<FilledSecret, string | undefined>> = {}) => ({
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

    expect(await store.recallApiKey()).toBe(RECALL_API_KEY);
    expect(await store.zoomClientId()).toBe(ZOOM_CLIENT_ID);
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    expect(await store.webhookSecretToken()).toBe(WEBHOOK_TOKEN);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('needs no client, and names the variable when the webhook token is not set', async () => {
    const { zoomWebhookSecretToken: _unset, ...withoutToken } = environment.secrets;
    const store = new SecretStore({ secrets: withoutToken, secretsCacheSeconds: TTL_SECONDS });

    expect(await store.recallApiKey()).toBe(RECALL_API_KEY);
    const error = await misconfiguration(store.webhookSecretToken());
    expect(error.fields).toEqual(['ZOOM_WEBHOOK_SECRET_TOKEN']);
  });
});

describe('SecretStore: the secrets ops fill in, one value each', () => {
  it.each([
    ['recallApiKey', RECALL_API_KEY_SECRET_ID, RECALL_API_KEY],
    ['zoomClientId', ZOOM_CLIENT_ID_SECRET_ID, ZOOM_CLIENT_ID],
    ['webhookSecretToken', WEBHOOK_TOKEN_SECRET_ID, WEBHOOK_TOKEN],
  ] as const)('%s reads its own secret, the bare value, and nothing else', async (getter, secretId, value) => {
    answer(filledAppSecret());

    expect(await new SecretStore(awsConfig, reader)[getter]()).toBe(value);
    expect(requested()).toEqual([secretId]);
  });

  it('tolerates a trailing newline, as `--secret-string file://` of an edited file leaves one', async () => {
    answer(filledAppSecret({ recallApiKey: `${RECALL_API_KEY}\n` }));

    expect(await new SecretStore(awsConfig, reader).recallApiKey()).toBe(RECALL_API_KEY);
  });

  it('makes no further Secrets Manager call within the TTL', async () => {
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    await store.recallApiKey();

    time.advance(TTL_SECONDS * 1000 - 1);
    const second = await store.recallApiKey();

    expect(secretsManager.calls()).toHaveLength(1);
    expect(second).toBe(RECALL_API_KEY);
  });

  it('shares one load between concurrent first calls', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, reader);

    await Promise.all([store.recallApiKey(), store.recallApiKey(), store.recallApiKey()]);

    expect(secretsManager.calls()).toHaveLength(1);
  });

  it('fetches again once the TTL has passed and returns the new value', async () => {
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, reader, time.now);
    await store.recallApiKey();

    answer(filledAppSecret({ recallApiKey: 'rotated-recall-api-key-987654321' }));
    time.advance(TTL_SECONDS * 1000);

    expect(await store.recallApiKey()).toBe('rotated-recall-api-key-987654321');
    expect(secretsManager.calls()).toHaveLength(2);
  });

  it('fetches again after clear(), picking up a rotated Recall API key at once', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, reader);
    await store.recallApiKey();

    answer(filledAppSecret({ recallApiKey: 'rotated-recall-api-key-987654321' }));
    store.clear();

    expect(await store.recallApiKey()).toBe('rotated-recall-api-key-987654321');
    expect(secretsManager.calls()).toHaveLength(2);
  });

  it.each([
    ['recallApiKey', 'recallApiKey', RECALL_API_KEY_SECRET_ID],
    ['zoomClientId', 'zoomClientId', ZOOM_CLIENT_ID_SECRET_ID],
    // A webhook verified with the publicly known placeholder would accept forged deauthorization events.
    ['webhookSecretToken', 'zoomWebhookSecretToken', WEBHOOK_TOKEN_SECRET_ID],
  ] as const)('%s refuses the placeholder, naming the secret and the value but quoting none', async (getter, name, secretId) => {
    // Prepare: ops filled in the others.
    answer(filledAppSecret({ [name]: SECRET_PLACEHOLDER }));
    const store = new SecretStore(awsConfig, reader);

    // Act
    const error = await misconfiguration(store[getter]());

    // Assess
    expect(error.secret).toBe(secretId);
    expect(error.fields).toEqual([name]);
    expect(error.message).toContain(secretId);
    expect(error.message).toContain('placeholder');
    expectNoSecretValue(error);
    // Each is independent: the others are served all the same.
    for (const other of (['recallApiKey', 'zoomClientId', 'webhookSecretToken'] as const).filter((g) => g !== getter)) {
      await expect(store[other]()).resolves.toEqual(expect.any(String));
    }
  });

  it('refuses an empty value or blanks', async () => {
    answer(filledAppSecret({ zoomClientId: '  \n' }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).zoomClientId());

    expect(error.message).toContain('is empty');
    expect(error.fields).toEqual(['zoomClientId']);
  });

  it('refuses JSON (the shape of the former single app secret) without echoing it', async () => {
    answer(filledAppSecret({ recallApiKey: JSON.stringify({ recallApiKey: RECALL_API_KEY }) }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).recallApiKey());

    expect(error.message).toContain('bare string');
    expectNoSecretValue(error);
  });

  it('refuses a secret without a string value', async () => {
    answer(filledAppSecret({ recallApiKey: undefined }));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).recallApiKey());

    expect(error.message).toContain(RECALL_API_KEY_SECRET_ID);
  });

  it('turns ResourceNotFoundException into MisconfiguredError naming the secret', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: RECALL_API_KEY_SECRET_ID }).rejects(notFound(''));

    const error = await misconfiguration(new SecretStore(awsConfig, reader).recallApiKey());

    expect(error.secret).toBe(RECALL_API_KEY_SECRET_ID);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('refuses a secret the function was not given, naming the variable, without a call', async () => {
    const store = new SecretStore(
      { secrets: { source: 'secrets-manager', secretIds: { zoomWebhookSecretToken: WEBHOOK_TOKEN_SECRET_ID } }, secretsCacheSeconds: TTL_SECONDS },
      reader,
    );

    expect((await misconfiguration(store.recallApiKey())).fields).toEqual(['RECALL_API_KEY_SECRET_ID']);
    expect((await misconfiguration(store.zoomClientId())).fields).toEqual(['ZOOM_CLIENT_ID_SECRET_ID']);
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('lets a transient SDK error through unchanged', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    secretsManager.on(GetSecretValueCommand).rejects(throttled);

    const error = await new SecretStore(awsConfig, reader).recallApiKey().then(
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
    await misconfiguration(store.recallApiKey());

    // Act: ops fill the secret in; the next invocation comes well within the TTL.
    answer(filledAppSecret());
    time.advance(1000);

    // Assess
    expect(await store.recallApiKey()).toBe(RECALL_API_KEY);
    expect(secretsManager.calls()).toHaveLength(2);
  });

  it('refuses the secrets-manager source without a reader', async () => {
    const error = await misconfiguration(new SecretStore(awsConfig).recallApiKey());

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

  it.each([
    ['refused', Object.assign(new Error('denied'), { name: 'AccessDeniedException' })],
    ['throttled', Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })],
  ])('treats a previous version that cannot be read (%s) as no previous key, never as a failure', async (_case, failure) => {
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).callsFake((input: GetSecretValueCommandInput) => {
      if (input.VersionStage === 'AWSPREVIOUS') throw failure;
      return { SecretString: SIGNING_KEY };
    });

    expect(await new SecretStore(awsConfig, reader).signingKeys()).toEqual([SIGNING_KEY]);
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

  it('serves the signing keys while the Zoom client id is still a placeholder, and the other way round', async () => {
    // Prepare: the authorize step must be able to trust a token's return URL even before ops filled the secrets in.
    answer(filledAppSecret({ zoomClientId: SECRET_PLACEHOLDER }));
    const store = new SecretStore(awsConfig, reader);

    // Act / Assess
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    await misconfiguration(store.zoomClientId());

    secretsManager.reset();
    answer(filledAppSecret());
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).rejects(notFound(''));
    const other = new SecretStore(awsConfig, reader);
    expect(await other.zoomClientId()).toBe(ZOOM_CLIENT_ID);
    await misconfiguration(other.signingKeys());
  });

  it('refuses the signing keys in a function given no signing key secret', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(
      { secrets: { source: 'secrets-manager', secretIds: SECRET_IDS }, secretsCacheSeconds: TTL_SECONDS },
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

  it('reads a filled secret without a version stage, the keys with both', async () => {
    const { asked, reader: table } = tableReader({
      [`${RECALL_API_KEY_SECRET_ID}@-`]: RECALL_API_KEY,
      [`${SIGNING_KEY_SECRET_ID}@AWSCURRENT`]: SIGNING_KEY,
    });
    const store = new SecretStore(awsConfig, table);

    expect(await store.recallApiKey()).toBe(RECALL_API_KEY);
    expect(await store.signingKeys()).toEqual([SIGNING_KEY]);
    expect(asked.sort()).toEqual(
      [`${RECALL_API_KEY_SECRET_ID}@-`, `${SIGNING_KEY_SECRET_ID}@AWSCURRENT`, `${SIGNING_KEY_SECRET_ID}@AWSPREVIOUS`].sort(),
    );
  });

  it('turns a current version that does not exist (undefined) into MisconfiguredError naming the secret', async () => {
    const { reader: table } = tableReader({});
    const store = new SecretStore(awsConfig, table);

    expect((await misconfiguration(store.recallApiKey())).secret).toBe(RECALL_API_KEY_SECRET_ID);
    expect((await misconfiguration(store.signingKeys())).secret).toBe(SIGNING_KEY_SECRET_ID);
  });

  it('passes a reader\'s MisconfiguredError and transient errors through, and caches neither', async () => {
    const key = `${ZOOM_CLIENT_ID_SECRET_ID}@-`;
    const denied = new MisconfiguredError('Secret x cannot be read (AccessDeniedException).', { secret: ZOOM_CLIENT_ID_SECRET_ID });
    const values: Record<string, string | Error> = { [key]: denied };
    const { asked, reader: table } = tableReader(values);
    const store = new SecretStore(awsConfig, table);

    await expect(store.zoomClientId()).rejects.toBe(denied);
    values[key] = new Error('socket hang up');
    await expect(store.zoomClientId()).rejects.toThrow('socket hang up');
    values[key] = ZOOM_CLIENT_ID;
    expect(await store.zoomClientId()).toBe(ZOOM_CLIENT_ID);
    expect(asked).toHaveLength(3);
  });
});

describe('sdkSecretReader', () => {
  it('sends VersionStage only when asked for one, and returns undefined for a version that does not exist', async () => {
    answer(filledAppSecret());

    expect(await reader.read(SIGNING_KEY_SECRET_ID, 'AWSPREVIOUS')).toBeUndefined();
    expect(await reader.read(SIGNING_KEY_SECRET_ID, 'AWSCURRENT')).toBe(SIGNING_KEY);
    expect(await reader.read(RECALL_API_KEY_SECRET_ID)).toBe(RECALL_API_KEY);
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: SIGNING_KEY_SECRET_ID, VersionStage: 'AWSPREVIOUS' },
      { SecretId: SIGNING_KEY_SECRET_ID, VersionStage: 'AWSCURRENT' },
      { SecretId: RECALL_API_KEY_SECRET_ID },
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
    await lazy.read(RECALL_API_KEY_SECRET_ID);
    expect(created).toBe(1);
  });
});
