import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import type { ServiceConfig } from './config.js';
import { MisconfiguredError } from './errors.js';

/** What the stack's placeholder secret holds until ops fill it in. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

const notPlaceholder = () =>
  z.string().check(
    z.minLength(1),
    z.refine((value) => value !== SECRET_PLACEHOLDER, 'still holds the placeholder'),
  );

/** The JSON secret ops fill in: `{"recallApiKey": "...", "zoomClientId": "...", "zoomWebhookSecretToken": "..."}`. */
export const AppSecretSchema = z.object({
  recallApiKey: notPlaceholder(),
  zoomClientId: notPlaceholder(),
  // Only the webhook needs it; unfilled (empty or the placeholder) means not set, never a key anyone could know.
  zoomWebhookSecretToken: z.pipe(
    z.optional(z.string()),
    z.transform((value) => (value && value !== SECRET_PLACEHOLDER ? value : undefined)),
  ),
});

export interface ServiceSecrets {
  recallApiKey: string;
  zoomClientId: string;
  zoomWebhookSecretToken?: string;
  /** Current signing key first; a rotation may add the previous one. Empty where the function has no key. */
  signingKeys: readonly string[];
}

/**
 * Loads the service secrets once and keeps them for `cacheSeconds`, so a warm invocation makes no Secrets Manager
 * call. A failed load is not cached: the next invocation tries again.
 */
export class SecretStore {
  #cached: { value: Promise<ServiceSecrets>; expiresAt: number } | undefined;

  constructor(
    private readonly config: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'>,
    private readonly client?: () => SecretsManagerClient,
    private readonly now: () => number = Date.now,
  ) {}

  get(): Promise<ServiceSecrets> {
    const now = this.now();
    if (this.#cached && this.#cached.expiresAt > now) return this.#cached.value;
    const value = this.#load();
    this.#cached = { value, expiresAt: now + this.config.secretsCacheSeconds * 1000 };
    value.catch(() => {
      if (this.#cached?.value === value) this.#cached = undefined;
    });
    return value;
  }

  /** Forget the cached secrets (tests, and after Recall rejects the API key so a rotated key is picked up). */
  clear(): void {
    this.#cached = undefined;
  }

  async #load(): Promise<ServiceSecrets> {
    const source = this.config.secrets;
    if (source.source === 'environment') {
      return {
        recallApiKey: source.recallApiKey,
        zoomClientId: source.zoomClientId,
        ...(source.zoomWebhookSecretToken ? { zoomWebhookSecretToken: source.zoomWebhookSecretToken } : {}),
        signingKeys: [source.signingKey],
      };
    }
    if (!this.client) throw new MisconfiguredError('No Secrets Manager client was provided.');
    const client = this.client();
    const [appSecret, signingKey] = await Promise.all([
      readSecretString(client, source.appSecretId),
      source.signingKeySecretId === undefined ? undefined : readSecretString(client, source.signingKeySecretId),
    ]);
    const parsed = AppSecretSchema.safeParse(parseJson(appSecret));
    if (!parsed.success) {
      // Field names only: the secret's values never reach an error message.
      const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new MisconfiguredError(`Secret ${source.appSecretId} is not filled in correctly (${fields.join('; ')}).`);
    }
    if (signingKey !== undefined && signingKey.length < 32) {
      throw new MisconfiguredError(`Secret ${source.signingKeySecretId} is shorter than 32 characters.`);
    }
    const { zoomWebhookSecretToken, ...required } = parsed.data;
    return {
      ...required,
      ...(zoomWebhookSecretToken ? { zoomWebhookSecretToken } : {}),
      signingKeys: signingKey === undefined ? [] : [signingKey],
    };
  }
}

async function readSecretString(client: SecretsManagerClient, secretId: string): Promise<string> {
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!SecretString) throw new MisconfiguredError(`Secret ${secretId} has no string value.`);
    return SecretString;
  } catch (error) {
    if (error instanceof MisconfiguredError) throw error;
    const name = error instanceof Error ? error.name : 'Error';
    if (name === 'ResourceNotFoundException' || name === 'AccessDeniedException') {
      throw new MisconfiguredError(`Secret ${secretId} cannot be read (${name}).`, { cause: error });
    }
    throw error;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
