import type { ServiceConfig } from '../core/config.js';
import { MisconfiguredError } from '../core/errors.js';
import { FILLED_SECRETS, type FilledSecret } from '../core/filled-secrets.js';

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
 * How often, at most, a container reads rotating keys again because none of its cached ones fitted (a connect token
 * or an attempt's cookie signed or sealed with a key rotated in after they were read): a rotation needs no wait for
 * the cache to expire, and a stream of forged tokens cannot turn into a stream of secret reads.
 */
export const KEY_REFRESH_MS = 30_000;

/** What one use of the keys came to: a value, or the error it threw. */
export type KeyUseOutcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Says whether an outcome means "none of these keys fits" (a signature that verifies with no key, a cookie no key
 * opens), the one outcome worth a second try with keys read again.
 */
export type KeyMismatch<T> = (outcome: KeyUseOutcome<T>) => boolean;

export interface KeyRetryOptions {
  /** Told when the keys were read again and are about to be used once more (for a debug line). */
  onRetry?: () => void;
}

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

/** The local-mode variable that carries each filled secret's value itself. */
const LOCAL_VARIABLES: Record<FilledSecret, string> = {
  recallApiKey: 'RECALL_API_KEY',
  zoomClientId: 'ZOOM_CLIENT_ID',
  zoomWebhookSecretToken: 'ZOOM_WEBHOOK_SECRET_TOKEN',
};

/**
 * Loads the service's secrets lazily and keeps each for `cacheSeconds`, so a warm invocation makes no Secrets
 * Manager call. Each filled secret, the signing keys and the state keys are loaded and cached independently: the
 * authorize step can verify a connect token (and so trust its return URL) even while the Zoom client id is still a
 * placeholder. A failed load is not cached: the next invocation tries again.
 */
export class SecretStore {
  readonly #filled: Record<FilledSecret, Cached<string>>;
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
    this.#filled = {
      recallApiKey: new Cached(() => this.#loadFilled('recallApiKey'), ttlMs, now),
      zoomClientId: new Cached(() => this.#loadFilled('zoomClientId'), ttlMs, now),
      zoomWebhookSecretToken: new Cached(() => this.#loadFilled('zoomWebhookSecretToken'), ttlMs, now),
    };
    this.#signingKeys = new Cached(() => this.#loadSigningKeys(), ttlMs, now);
    this.#stateKeys = new Cached(() => this.#loadStateKeys(), ttlMs, now);
  }

  /**
   * The Recall API key (functions that call Recall).
   * @throws MisconfiguredError naming the secret when it is unreadable, not filled in, or not given to this function
   */
  recallApiKey(): Promise<string> {
    return this.#filled.recallApiKey.get();
  }

  /**
   * The Zoom app's client id (the two connect steps).
   * @throws MisconfiguredError naming the secret when it is unreadable, not filled in, or not given to this function
   */
  zoomClientId(): Promise<string> {
    return this.#filled.zoomClientId.get();
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
   * Uses the signing keys (`signingKeys`) and, when `isMismatch` says none of them fitted, uses keys read again
   * once more (see `withFreshKeysOnMismatch`).
   */
  withSigningKeys<T>(use: (keys: RotatingKeys) => Promise<T>, isMismatch: KeyMismatch<T>, options?: KeyRetryOptions): Promise<T> {
    return withFreshKeysOnMismatch((maxAgeMs) => this.#signingKeys.get(maxAgeMs), use, isMismatch, options);
  }

  /** Uses the state keys (`stateKeys`) like `withSigningKeys` uses the signing keys. */
  withStateKeys<T>(use: (keys: RotatingKeys) => Promise<T>, isMismatch: KeyMismatch<T>, options?: KeyRetryOptions): Promise<T> {
    return withFreshKeysOnMismatch((maxAgeMs) => this.#stateKeys.get(maxAgeMs), use, isMismatch, options);
  }

  /**
   * The Zoom app's Secret Token, for webhook signatures (the webhook only).
   * @throws MisconfiguredError naming the secret while it is not filled in
   */
  webhookSecretToken(): Promise<string> {
    return this.#filled.zoomWebhookSecretToken.get();
  }

  /** Forget the cached secrets (tests, and after Recall rejects the API key so a rotated key is picked up). */
  clear(): void {
    for (const cached of Object.values(this.#filled)) cached.clear();
    this.#signingKeys.clear();
    this.#stateKeys.clear();
  }

  async #loadFilled(name: FilledSecret): Promise<string> {
    const source = this.config.secrets;
    const { variable, what } = FILLED_SECRETS[name];
    if (source.source === 'environment') {
      const value = source[name];
      if (value) return value;
      const local = LOCAL_VARIABLES[name];
      throw new MisconfiguredError(`${local} is not set: ${what} is needed here.`, { fields: [local] });
    }
    const secretId = source.secretIds[name];
    if (secretId === undefined) {
      throw new MisconfiguredError(`This function has no ${what} (${variable} is not set).`, { fields: [variable] });
    }
    const value = (await this.#readCurrent(secretId)).trim();
    // Names and fixed wording only: the secret's value never reaches an error message.
    if (value === '' || value === SECRET_PLACEHOLDER) {
      const state = value === '' ? 'is empty' : `still holds the placeholder ${SECRET_PLACEHOLDER}`;
      throw new MisconfiguredError(`Secret ${secretId} is not filled in: it ${state} instead of ${what}.`, {
        secret: secretId,
        fields: [name],
      });
    }
    if (value.startsWith('{')) {
      throw new MisconfiguredError(`Secret ${secretId} holds JSON; it must hold ${what} alone, as a bare string.`, {
        secret: secretId,
        fields: [name],
      });
    }
    return value;
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
      // A previous version only ever widens what verifies or opens for a while, and how a reader answers a stage that
      // does not exist is not documented (the extension's answer varies): any failure to read it means "no previous
      // key". The current version, read alongside with the same grant, reports a real problem on its own.
      reader.read(secretId, 'AWSPREVIOUS').catch(() => undefined),
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

/**
 * The key-rotation retry: `use` the cached keys; when the outcome is a mismatch, read the keys again (only when the
 * cached ones are older than `KEY_REFRESH_MS`, so at most once per interval per container) and `use` the fresh
 * ones once more. The first outcome that is not a mismatch is returned (or its error rethrown); a mismatch with
 * keys that could not be refreshed yet is returned as it was.
 * @param keys - the cached keys; with `maxAgeMs`, read again when the cached ones are older than that
 */
export async function withFreshKeysOnMismatch<T>(
  keys: (maxAgeMs?: number) => Promise<RotatingKeys>,
  use: (keys: RotatingKeys) => Promise<T>,
  isMismatch: KeyMismatch<T>,
  options: KeyRetryOptions = {},
): Promise<T> {
  const cached = await keys();
  const first = await use(cached).then(
    (value): KeyUseOutcome<T> => ({ ok: true, value }),
    (error: unknown): KeyUseOutcome<T> => ({ ok: false, error }),
  );
  if (isMismatch(first)) {
    const fresh = await keys(KEY_REFRESH_MS);
    if (fresh !== cached) {
      options.onRetry?.();
      return use(fresh);
    }
  }
  if (first.ok) return first.value;
  throw first.error;
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
