import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../../functions/shared/config.js';
import { MisconfiguredError } from '../../../functions/shared/errors.js';
import { SECRET_PLACEHOLDER, SecretStore } from '../../../functions/shared/secrets.js';

const APP_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/app-AbCdEf';
const SIGNING_KEY_SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-key-GhIjKl';
const RECALL_API_KEY = 'recall-api-key-super-secret-0123456789';
const ZOOM_CLIENT_ID = 'zoomClientIdQwErTy';
const WEBHOOK_TOKEN = 'zoom-webhook-secret-token-zxcvb';
const SIGNING_KEY = 'signing-key-with-at-least-32-characters-0123456789abcdef';
const TTL_SECONDS = 300;

const awsConfig: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'> = {
  secrets: { source: 'secrets-manager', appSecretId: APP_SECRET_ID, signingKeySecretId: SIGNING_KEY_SECRET_ID },
  secretsCacheSeconds: TTL_SECONDS,
};

const secretsManager = mockClient(SecretsManagerClient);
const newClient = () => new SecretsManagerClient({});

function answer(appSecret: string | undefined, signingKey: string | undefined = SIGNING_KEY) {
  secretsManager.on(GetSecretValueCommand, { SecretId: APP_SECRET_ID }).resolves({ SecretString: appSecret });
  secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).resolves({ SecretString: signingKey });
}

const filledAppSecret = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    recallApiKey: RECALL_API_KEY,
    zoomClientId: ZOOM_CLIENT_ID,
    zoomWebhookSecretToken: WEBHOOK_TOKEN,
    ...overrides,
  });

async function misconfiguration(promise: Promise<unknown>): Promise<MisconfiguredError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(MisconfiguredError);
  return error as MisconfiguredError;
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

describe('SecretStore', () => {
  it('returns environment values without any Secrets Manager call', async () => {
    // Prepare
    const store = new SecretStore(
      {
        secrets: {
          source: 'environment',
          recallApiKey: RECALL_API_KEY,
          zoomClientId: ZOOM_CLIENT_ID,
          zoomWebhookSecretToken: WEBHOOK_TOKEN,
          signingKey: SIGNING_KEY,
        },
        secretsCacheSeconds: TTL_SECONDS,
      },
      newClient,
    );

    // Act
    const secrets = await store.get();

    // Assess
    expect(secrets).toEqual({
      recallApiKey: RECALL_API_KEY,
      zoomClientId: ZOOM_CLIENT_ID,
      zoomWebhookSecretToken: WEBHOOK_TOKEN,
      signingKeys: [SIGNING_KEY],
    });
    expect(secretsManager.calls()).toHaveLength(0);
  });

  it('needs no client for the environment source', async () => {
    const store = new SecretStore({
      secrets: { source: 'environment', recallApiKey: RECALL_API_KEY, zoomClientId: ZOOM_CLIENT_ID, signingKey: SIGNING_KEY },
      secretsCacheSeconds: TTL_SECONDS,
    });

    const secrets = await store.get();

    expect(secrets.signingKeys).toEqual([SIGNING_KEY]);
    expect(secrets).not.toHaveProperty('zoomWebhookSecretToken');
  });

  it('parses the JSON app secret and the signing key from Secrets Manager', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, newClient);

    const secrets = await store.get();

    expect(secrets).toEqual({
      recallApiKey: RECALL_API_KEY,
      zoomClientId: ZOOM_CLIENT_ID,
      zoomWebhookSecretToken: WEBHOOK_TOKEN,
      signingKeys: [SIGNING_KEY],
    });
    const requested = secretsManager.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId);
    expect(requested.sort()).toEqual([APP_SECRET_ID, SIGNING_KEY_SECRET_ID].sort());
  });

  it('reads only the app secret, with no signing keys, for a function not given a signing key id', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(
      { secrets: { source: 'secrets-manager', appSecretId: APP_SECRET_ID }, secretsCacheSeconds: TTL_SECONDS },
      newClient,
    );

    const secrets = await store.get();

    expect(secrets.recallApiKey).toBe(RECALL_API_KEY);
    expect(secrets.signingKeys).toEqual([]);
    const requested = secretsManager.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId);
    expect(requested).toEqual([APP_SECRET_ID]);
  });

  it('accepts an app secret without the optional webhook token', async () => {
    answer(JSON.stringify({ recallApiKey: RECALL_API_KEY, zoomClientId: ZOOM_CLIENT_ID }));

    const secrets = await new SecretStore(awsConfig, newClient).get();

    expect(secrets.recallApiKey).toBe(RECALL_API_KEY);
    expect(secrets.zoomWebhookSecretToken).toBeUndefined();
  });

  it('makes no further Secrets Manager call for a second get() within the TTL', async () => {
    // Prepare
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, newClient, time.now);
    await store.get();
    const callsAfterFirst = secretsManager.calls().length;

    // Act
    time.advance(TTL_SECONDS * 1000 - 1);
    const second = await store.get();

    // Assess
    expect(callsAfterFirst).toBe(2);
    expect(secretsManager.calls()).toHaveLength(2);
    expect(second.recallApiKey).toBe(RECALL_API_KEY);
  });

  it('shares one load between concurrent first calls', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, newClient);

    await Promise.all([store.get(), store.get(), store.get()]);

    expect(secretsManager.calls()).toHaveLength(2);
  });

  it('fetches again once the TTL has passed and returns the new values', async () => {
    answer(filledAppSecret());
    const time = clock();
    const store = new SecretStore(awsConfig, newClient, time.now);
    await store.get();

    answer(filledAppSecret({ recallApiKey: 'rotated-recall-api-key-987654321' }));
    time.advance(TTL_SECONDS * 1000);
    const refreshed = await store.get();

    expect(secretsManager.calls()).toHaveLength(4);
    expect(refreshed.recallApiKey).toBe('rotated-recall-api-key-987654321');
  });

  it('fetches again after clear()', async () => {
    answer(filledAppSecret());
    const store = new SecretStore(awsConfig, newClient);
    await store.get();

    store.clear();
    await store.get();

    expect(secretsManager.calls()).toHaveLength(4);
  });

  it('refuses a placeholder, naming the field but no secret value', async () => {
    // Prepare: ops filled in the API key but not the client id.
    answer(filledAppSecret({ zoomClientId: SECRET_PLACEHOLDER }));

    // Act
    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    // Assess
    expect(error.message).toContain('zoomClientId');
    expect(error.message).not.toContain(RECALL_API_KEY);
    expect(error.message).not.toContain(WEBHOOK_TOKEN);
    expect(error.message).not.toContain(SIGNING_KEY);
  });

  it('names every field still holding the placeholder', async () => {
    answer(JSON.stringify({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' }));

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain('recallApiKey');
    expect(error.message).toContain('zoomClientId');
  });

  it('never hands out the placeholder as the Zoom webhook secret token', async () => {
    // Prepare: ops filled in the Recall key and the Zoom client id, but not the webhook token the stack seeded with
    // REPLACE_ME. A webhook verified with that publicly known key would accept forged deauthorization events.
    answer(filledAppSecret({ zoomWebhookSecretToken: SECRET_PLACEHOLDER }));

    // Act
    const outcome = await new SecretStore(awsConfig, newClient).get().then(
      (secrets) => ({ token: secrets.zoomWebhookSecretToken }),
      (error: unknown) => ({ error }),
    );

    // Assess: either refused by name, or treated as not set; never returned as a usable key.
    if ('error' in outcome) {
      expect(outcome.error).toBeInstanceOf(MisconfiguredError);
      expect((outcome.error as Error).message).toContain('zoomWebhookSecretToken');
    } else {
      expect(outcome.token).not.toBe(SECRET_PLACEHOLDER);
    }
  });

  it('refuses a missing field, naming it', async () => {
    answer(JSON.stringify({ zoomClientId: ZOOM_CLIENT_ID, zoomWebhookSecretToken: WEBHOOK_TOKEN }));

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain('recallApiKey');
    expect(error.message).not.toContain(WEBHOOK_TOKEN);
  });

  it('refuses a field of the wrong type without echoing its value', async () => {
    answer(filledAppSecret({ recallApiKey: { nested: RECALL_API_KEY } }));

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain('recallApiKey');
    expect(error.message).not.toContain(RECALL_API_KEY);
  });

  it('refuses invalid JSON without repeating the raw text', async () => {
    const raw = `{"recallApiKey": "${RECALL_API_KEY}", oops`;
    answer(raw);

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).not.toContain(RECALL_API_KEY);
    expect(error.message).not.toContain('oops');
    expect(error.message).toContain(APP_SECRET_ID);
  });

  it('refuses a signing key shorter than 32 characters without showing it', async () => {
    const shortKey = 'too-short-key-1234';
    answer(filledAppSecret(), shortKey);

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain(SIGNING_KEY_SECRET_ID);
    expect(error.message).not.toContain(shortKey);
  });

  it('refuses a secret without a string value', async () => {
    answer(undefined);

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain(APP_SECRET_ID);
  });

  it('turns ResourceNotFoundException into MisconfiguredError naming the secret', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: APP_SECRET_ID }).rejects(
      new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
    );
    secretsManager.on(GetSecretValueCommand, { SecretId: SIGNING_KEY_SECRET_ID }).resolves({ SecretString: SIGNING_KEY });

    const error = await misconfiguration(new SecretStore(awsConfig, newClient).get());

    expect(error.message).toContain(APP_SECRET_ID);
    expect(error.message).toContain('ResourceNotFoundException');
  });

  it('lets a transient SDK error through unchanged', async () => {
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    secretsManager.on(GetSecretValueCommand).rejects(throttled);

    const error = await new SecretStore(awsConfig, newClient).get().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(MisconfiguredError);
    expect((error as Error).name).toBe('ThrottlingException');
  });

  it('does not cache a failed load: the next get() tries again and can succeed', async () => {
    // Prepare: the first load finds the placeholder.
    answer(filledAppSecret({ recallApiKey: SECRET_PLACEHOLDER }));
    const time = clock();
    const store = new SecretStore(awsConfig, newClient, time.now);
    await misconfiguration(store.get());

    // Act: ops fill the secret in; the next invocation comes well within the TTL.
    answer(filledAppSecret());
    time.advance(1000);
    const secrets = await store.get();

    // Assess
    expect(secrets.recallApiKey).toBe(RECALL_API_KEY);
    expect(secretsManager.calls()).toHaveLength(4);
  });

  it('refuses the secrets-manager source without a client', async () => {
    const error = await misconfiguration(new SecretStore(awsConfig).get());

    expect(error.message).toMatch(/client/i);
    expect(secretsManager.calls()).toHaveLength(0);
  });
});
