import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from 'zod/mini';
import type { ServiceConfig } from './config.js';
import { MisconfiguredError } from './errors.js';

/** What the stack's placeholder secret holds until ops fill it in. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

/** A signing key shorter than this is refused: HS256 wants at least 256 bits of key. */
export const MIN_SIGNING_KEY_LENGTH = 32;

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

/** The app secret, parsed. */
export interface AppSecrets {
  recallApiKey: string;
  zoomClientId: string;
  zoomWebhookSecretToken?: string;
}

/**
 * Loads the service's secrets lazily and keeps each for `cacheSeconds`, so a warm invocation makes no Secrets
 * Manager call. The app secret and the signing key are loaded and cached independently: the authorize step can
 * verify a connect token (and so trust its return URL) even while the app secret is still a placeholder. A failed
 * load is not cached: the next invocation tries again.
 */
export class SecretStore {
  readonly #app: Cached<AppSecrets>;
  readonly #signingKeys: Cached<readonly string[]>;

  constructor(
    private readonly config: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'>,
    private readonly client?: () => SecretsManagerClient,
    now: () => number = Date.now,
  ) {
    const ttlMs = config.secretsCacheSeconds * 1000;
    this.#app = new Cached(() => this.#loadApp(), ttlMs, now);
    this.#signingKeys = new Cached(() => this.#loadSigningKeys(), ttlMs, now);
  }

  /**
   * The app secret (`recallApiKey`, `zoomClientId`, `zoomWebhookSecretToken`).
   * @throws MisconfiguredError naming the secret and its fields when it is unreadable or not filled in
   */
  app(): Promise<AppSecrets> {
    return this.#app.get();
  }

  /**
   * The connect-token signing keys: the current one first, then the previous one while a rotation leaves one
   * (Secrets Manager's `AWSCURRENT` and `AWSPREVIOUS` stages), so tokens minted just before a rotation still verify.
   * @param options.maxAgeMs - reload when the cached keys are older than this (a token signed with a key this
   *   container has not seen yet, right after a rotation); the cache TTL otherwise
   * @throws MisconfiguredError when the function has no signing key, or the current one is unreadable or too short
   */
  signingKeys(options: { maxAgeMs?: number } = {}): Promise<readonly string[]> {
    return this.#signingKeys.get(options.maxAgeMs);
  }

  /**
   * The Zoom app's Secret Token, for webhook signatures.
   * @throws MisconfiguredError naming the secret and field while it is not filled in
   */
  async webhookSecretToken(): Promise<string> {
    const { zoomWebhookSecretToken } = await this.app();
    if (zoomWebhookSecretToken) return zoomWebhookSecretToken;
    const source = this.config.secrets;
    throw new MisconfiguredError(
      source.source === 'secrets-manager'
        ? `Secret ${source.appSecretId} has no zoomWebhookSecretToken (the Zoom app's Secret Token): every webhook is refused until it is set.`
        : 'ZOOM_WEBHOOK_SECRET_TOKEN is not set: every webhook is refused until it is.',
      source.source === 'secrets-manager'
        ? { secret: source.appSecretId, fields: ['zoomWebhookSecretToken'] }
        : { fields: ['ZOOM_WEBHOOK_SECRET_TOKEN'] },
    );
  }

  /** Forget the cached secrets (tests, and after Recall rejects the API key so a rotated key is picked up). */
  clear(): void {
    this.#app.clear();
    this.#signingKeys.clear();
  }

  async #loadApp(): Promise<AppSecrets> {
    const source = this.config.secrets;
    if (source.source === 'environment') {
      return {
        recallApiKey: source.recallApiKey,
        zoomClientId: source.zoomClientId,
        ...(source.zoomWebhookSecretToken ? { zoomWebhookSecretToken: source.zoomWebhookSecretToken } : {}),
      };
    }
    const text = await readSecretString(this.#client(), source.appSecretId);
    const json = parseJson(text);
    if (json === undefined) {
      throw new MisconfiguredError(`Secret ${source.appSecretId} is not JSON; it must be an object with recallApiKey and zoomClientId.`, {
        secret: source.appSecretId,
      });
    }
    const parsed = AppSecretSchema.safeParse(json);
    if (!parsed.success) {
      // Field names and zod's own wording only: the secret's values never reach an error message.
      const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(root)'))];
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
      throw new MisconfiguredError(`Secret ${source.appSecretId} is not filled in correctly (${problems.join('; ')}).`, {
        secret: source.appSecretId,
        fields,
      });
    }
    const { zoomWebhookSecretToken, ...required } = parsed.data;
    return { ...required, ...(zoomWebhookSecretToken ? { zoomWebhookSecretToken } : {}) };
  }

  async #loadSigningKeys(): Promise<readonly string[]> {
    const source = this.config.secrets;
    if (source.source === 'environment') return [source.signingKey];
    const secretId = source.signingKeySecretId;
    if (secretId === undefined) {
      throw new MisconfiguredError('This function has no signing key (SIGNING_KEY_SECRET_ID is not set).', {
        fields: ['SIGNING_KEY_SECRET_ID'],
      });
    }
    const client = this.#client();
    const [current, previous] = await Promise.all([
      readSecretString(client, secretId, 'AWSCURRENT'),
      readPreviousVersion(client, secretId),
    ]);
    if (current.length < MIN_SIGNING_KEY_LENGTH) {
      throw new MisconfiguredError(`Secret ${secretId} is shorter than ${MIN_SIGNING_KEY_LENGTH} characters.`, {
        secret: secretId,
      });
    }
    // The previous key only ever widens what verifies for a while; one that could not be a key is left out.
    const usablePrevious = previous !== undefined && previous !== current && previous.length >= MIN_SIGNING_KEY_LENGTH;
    return usablePrevious ? [current, previous] : [current];
  }

  #client(): SecretsManagerClient {
    if (!this.client) throw new MisconfiguredError('No Secrets Manager client was provided.');
    return this.client();
  }
}

/** A value loaded on first use and kept for `ttlMs`; a failed load is forgotten at once. */
class Cached<T> {
  #entry: { value: Promise<T>; loadedAt: number } | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  get(maxAgeMs = this.ttlMs): Promise<T> {
    const now = this.now();
    const entry = this.#entry;
    if (entry && now - entry.loadedAt < Math.min(maxAgeMs, this.ttlMs)) return entry.value;
    const fresh = { value: this.load(), loadedAt: now };
    this.#entry = fresh;
    fresh.value.catch(() => {
      if (this.#entry === fresh) this.#entry = undefined;
    });
    return fresh.value;
  }

  clear(): void {
    this.#entry = undefined;
  }
}

/** The version a rotation moved out of `AWSCURRENT`; none (never rotated) is normal. */
async function readPreviousVersion(client: SecretsManagerClient, secretId: string): Promise<string | undefined> {
  try {
    return await readSecretString(client, secretId, 'AWSPREVIOUS');
  } catch (error) {
    if (error instanceof MisconfiguredError && errorName(error.cause) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

async function readSecretString(
  client: SecretsManagerClient,
  secretId: string,
  versionStage?: 'AWSCURRENT' | 'AWSPREVIOUS',
): Promise<string> {
  const label = versionStage === 'AWSPREVIOUS' ? ` (${versionStage})` : '';
  try {
    const { SecretString } = await client.send(
      new GetSecretValueCommand({ SecretId: secretId, ...(versionStage ? { VersionStage: versionStage } : {}) }),
    );
    if (!SecretString) throw new MisconfiguredError(`Secret ${secretId}${label} has no string value.`, { secret: secretId });
    return SecretString;
  } catch (error) {
    if (error instanceof MisconfiguredError) throw error;
    const name = errorName(error);
    if (name === 'ResourceNotFoundException' || name === 'AccessDeniedException' || name === 'DecryptionFailure') {
      throw new MisconfiguredError(`Secret ${secretId}${label} cannot be read (${name}).`, { secret: secretId, cause: error });
    }
    throw error;
  }
}

const errorName = (error: unknown): string => (error instanceof Error ? error.name : 'Error');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
