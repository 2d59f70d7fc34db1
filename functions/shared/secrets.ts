import * as z from 'zod/mini';
import type { ServiceConfig } from './config.js';
import { MisconfiguredError } from './errors.js';

/** What the stack's placeholder secret holds until ops fill it in. */
export const SECRET_PLACEHOLDER = 'REPLACE_ME';

/** A signing key shorter than this is refused: HS256 wants at least 256 bits of key. */
export const MIN_SIGNING_KEY_LENGTH = 32;

/** A state key shorter than this is refused: it is the input keying material of a 256-bit AES key. */
export const MIN_STATE_KEY_LENGTH = 32;

export type SecretVersionStage = 'AWSCURRENT' | 'AWSPREVIOUS';

/** A generated key's versions: the current one, then the previous one while a rotation leaves one. */
export type RotatingKeys = readonly [current: string, ...previous: string[]];

/**
 * Reads one version of a Secrets Manager secret. Two implementations: `sdkSecretReader` (GetSecretValue through the
 * AWS SDK, in secrets-sdk.ts) and `extensionSecretReader` (the AWS Parameters and Secrets Lambda Extension over
 * localhost, in secrets-extension.ts), so a function that needs no other AWS service loads no AWS SDK at all.
 */
export interface SecretReader {
  /**
   * @param versionStage - `AWSCURRENT` when omitted
   * @returns the secret's string value, or `undefined` when that version does not exist (a secret never rotated
   *   has no `AWSPREVIOUS`)
   * @throws MisconfiguredError when the secret cannot be read for a reason ops must fix (access, decryption, no
   *   string value), naming the secret and never quoting a value; any other error is transient
   */
  read(secretId: string, versionStage?: SecretVersionStage): Promise<string | undefined>;
}

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
 * Manager call. The app secret, the signing keys and the state keys are loaded and cached independently: the
 * authorize step can verify a connect token (and so trust its return URL) even while the app secret is still a
 * placeholder. A failed load is not cached: the next invocation tries again.
 */
export class SecretStore {
  readonly #app: Cached<AppSecrets>;
  readonly #signingKeys: Cached<RotatingKeys>;
  readonly #stateKeys: Cached<RotatingKeys>;

  /**
   * @param reader - how the secrets-manager source is read; the environment source (local mode) needs none
   */
  constructor(
    private readonly config: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'>,
    private readonly reader?: SecretReader,
    now: () => number = Date.now,
  ) {
    const ttlMs = config.secretsCacheSeconds * 1000;
    this.#app = new Cached(() => this.#loadApp(), ttlMs, now);
    this.#signingKeys = new Cached(() => this.#loadSigningKeys(), ttlMs, now);
    this.#stateKeys = new Cached(() => this.#loadStateKeys(), ttlMs, now);
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
  signingKeys(options: { maxAgeMs?: number } = {}): Promise<RotatingKeys> {
    return this.#signingKeys.get(options.maxAgeMs);
  }

  /**
   * The keys that seal connect attempts in their cookies: the current one first (new attempts are sealed with
   * it), then the previous one while a rotation leaves one, so an attempt started just before a rotation can
   * still be finished.
   * @param options.maxAgeMs - reload when the cached keys are older than this (a cookie sealed with a key this
   *   container has not seen yet); the cache TTL otherwise
   * @throws MisconfiguredError when the function has no state key, or the current one is unreadable or too short
   */
  stateKeys(options: { maxAgeMs?: number } = {}): Promise<RotatingKeys> {
    return this.#stateKeys.get(options.maxAgeMs);
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
    this.#stateKeys.clear();
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
    const text = await this.#readCurrent(source.appSecretId);
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

  async #loadSigningKeys(): Promise<RotatingKeys> {
    const source = this.config.secrets;
    if (source.source === 'environment') return [source.signingKey];
    if (source.signingKeySecretId === undefined) {
      throw new MisconfiguredError('This function has no signing key (SIGNING_KEY_SECRET_ID is not set).', {
        fields: ['SIGNING_KEY_SECRET_ID'],
      });
    }
    return this.#loadRotatingKeys(source.signingKeySecretId, MIN_SIGNING_KEY_LENGTH);
  }

  async #loadStateKeys(): Promise<RotatingKeys> {
    const source = this.config.secrets;
    if (source.source === 'environment') {
      if (source.stateKey === undefined) {
        throw new MisconfiguredError('STATE_ENCRYPTION_KEY is not set: connect attempts cannot be sealed or opened.', {
          fields: ['STATE_ENCRYPTION_KEY'],
        });
      }
      if (source.stateKey.length < MIN_STATE_KEY_LENGTH) {
        throw new MisconfiguredError(`STATE_ENCRYPTION_KEY is shorter than ${MIN_STATE_KEY_LENGTH} characters.`, {
          fields: ['STATE_ENCRYPTION_KEY'],
        });
      }
      return [source.stateKey];
    }
    if (source.stateKeySecretId === undefined) {
      throw new MisconfiguredError('This function has no state key (STATE_KEY_SECRET_ID is not set).', {
        fields: ['STATE_KEY_SECRET_ID'],
      });
    }
    return this.#loadRotatingKeys(source.stateKeySecretId, MIN_STATE_KEY_LENGTH);
  }

  /** A generated key's `AWSCURRENT` version, and its `AWSPREVIOUS` one while a rotation leaves one. */
  async #loadRotatingKeys(secretId: string, minLength: number): Promise<RotatingKeys> {
    const reader = this.#reader();
    const [current, previous] = await Promise.all([
      reader.read(secretId, 'AWSCURRENT'),
      reader.read(secretId, 'AWSPREVIOUS'),
    ]);
    if (current === undefined) throw notFound(secretId);
    if (current.length < minLength) {
      throw new MisconfiguredError(`Secret ${secretId} is shorter than ${minLength} characters.`, { secret: secretId });
    }
    // The previous key only ever widens what opens or verifies for a while; one that could not be a key is left out.
    const usablePrevious = previous !== undefined && previous !== current && previous.length >= minLength;
    return usablePrevious ? [current, previous] : [current];
  }

  async #readCurrent(secretId: string): Promise<string> {
    const value = await this.#reader().read(secretId);
    if (value === undefined) throw notFound(secretId);
    return value;
  }

  #reader(): SecretReader {
    if (!this.reader) throw new MisconfiguredError('No secret reader was provided for the secrets-manager source.');
    return this.reader;
  }
}

const notFound = (secretId: string) =>
  new MisconfiguredError(
    `Secret ${secretId} cannot be read (ResourceNotFoundException: it does not exist, or has no AWSCURRENT version).`,
    { secret: secretId },
  );

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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
