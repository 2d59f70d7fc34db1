import { describe, expect, it } from 'vitest';
import type { ServiceConfig } from '../../../functions/core/config.js';
import * as secrets from '../../../functions/adapters/secrets.js';

type RotatingKeys = secrets.RotatingKeys;
const { KEY_REFRESH_MS, SecretStore } = secrets;
type SecretStore = secrets.SecretStore;

/** The key this container read first, and the one rotated in after that read. */
const [OLD_KEY, NEW_KEY] = ['the-key-this-container-read-first-0123456789', 'the-key-rotated-in-after-that-read-0123456789'];

const config: Pick<ServiceConfig, 'secrets' | 'secretsCacheSeconds'> = {
  secrets: { source: 'secrets-manager', secretIds: {}, signingKeySecretId: 'signing-key', stateKeySecretId: 'state-key' },
  secretsCacheSeconds: 300,
};

/** A reader serving each secret's current version from a map the test rotates, and counting the reads. */
function fakeReader(current: string) {
  const state = { current, reads: 0 };
  const reader: secrets.SecretReader = {
    read: async (_secretId, stage) => {
      state.reads++;
      return stage === 'AWSPREVIOUS' ? undefined : state.current;
    },
  };
  return { reader, state };
}

/** A clock the test moves by hand. */
function clock(start = 1_796_061_600_000) {
  let current = start;
  return { now: () => current, advance: (ms: number) => (current += ms) };
}

/** The "signature" check of these tests: only `NEW_KEY` fits. */
class MismatchError extends Error {}
const verifyWithNewKey = async (keys: RotatingKeys) => {
  if (!keys.includes(NEW_KEY)) throw new MismatchError('no key fits');
  return `verified with ${keys[0]}`;
};
const isMismatchError = (outcome: secrets.KeyUseOutcome<unknown>) => !outcome.ok && outcome.error instanceof MismatchError;

/** Both kinds of rotating key go through the same retry. */
const kinds = [
  ['signing keys', (store: SecretStore) => store.withSigningKeys.bind(store)],
  ['state keys', (store: SecretStore) => store.withStateKeys.bind(store)],
] as const;

describe.each(kinds)('SecretStore: using the %s, with one retry on fresh keys', (_kind, withKeys) => {
  /** A store that read `OLD_KEY` at the clock's start; the key is rotated to `NEW_KEY` right after. */
  async function rotatedAfterFirstRead() {
    const time = clock();
    const { reader, state } = fakeReader(OLD_KEY);
    const store = new SecretStore(config, reader, time.now);
    const use = withKeys(store);
    await use(async (keys) => keys, () => false);
    state.current = NEW_KEY;
    state.reads = 0;
    return { time, state, use };
  }

  it('returns the first success without reading the keys again', async () => {
    // Prepare
    const time = clock();
    const { reader, state } = fakeReader(NEW_KEY);
    const use = withKeys(new SecretStore(config, reader, time.now));

    // Act
    const result = await use(verifyWithNewKey, isMismatchError);

    // Assess: one read of the current and previous versions, no second one.
    expect(result).toBe(`verified with ${NEW_KEY}`);
    expect(state.reads).toBe(2);
  });

  it('on a mismatch, reads the keys again and tries once more with them', async () => {
    // Prepare
    const { time, state, use } = await rotatedAfterFirstRead();
    time.advance(KEY_REFRESH_MS);
    const tried: RotatingKeys[] = [];
    let retried = 0;

    // Act
    const result = await use(
      (keys) => {
        tried.push(keys);
        return verifyWithNewKey(keys);
      },
      isMismatchError,
      { onRetry: () => retried++ },
    );

    // Assess
    expect(result).toBe(`verified with ${NEW_KEY}`);
    expect(tried).toEqual([[OLD_KEY], [NEW_KEY]]);
    expect(state.reads).toBe(2);
    expect(retried).toBe(1);
  });

  it('tries at most twice: a second mismatch with the fresh keys is the answer', async () => {
    // Prepare: the value itself says "no key opened it", as a cookie that opens with no key does.
    const { time, use } = await rotatedAfterFirstRead();
    time.advance(KEY_REFRESH_MS);
    let attempts = 0;

    // Act
    const result = await use(
      async () => {
        attempts++;
        return { status: 'unreadable' as const, attempt: attempts };
      },
      (outcome) => outcome.ok && outcome.value.status === 'unreadable',
    );

    // Assess
    expect(attempts).toBe(2);
    expect(result).toEqual({ status: 'unreadable', attempt: 2 });
  });

  it('reads the keys again no more often than every KEY_REFRESH_MS', async () => {
    // Prepare: the first retry refreshes (to keys that still do not fit), then mismatches keep coming.
    const { time, state, use } = await rotatedAfterFirstRead();
    state.current = 'yet-another-key-that-fits-nothing-0123456789';
    time.advance(KEY_REFRESH_MS);
    await expect(use(verifyWithNewKey, isMismatchError)).rejects.toThrow(MismatchError);
    expect(state.reads).toBe(2);
    let attempts = 0;
    const counted = (keys: RotatingKeys) => {
      attempts++;
      return verifyWithNewKey(keys);
    };

    // Act: within the interval, no read and no second try
    time.advance(KEY_REFRESH_MS - 1);
    const soon = use(counted, isMismatchError);

    // Assess
    await expect(soon).rejects.toThrow(MismatchError);
    expect(state.reads).toBe(2);
    expect(attempts).toBe(1);

    // Act: once the interval has passed since the last read, one read and one more try
    state.current = NEW_KEY;
    time.advance(1);
    const later = await use(counted, isMismatchError);

    // Assess
    expect(later).toBe(`verified with ${NEW_KEY}`);
    expect(state.reads).toBe(4);
    expect(attempts).toBe(3);
  });

  it('does not retry on a mismatch when the cached keys were read within the interval', async () => {
    // Prepare: keys read just now, rotated since
    const { time, state, use } = await rotatedAfterFirstRead();
    time.advance(KEY_REFRESH_MS - 1);
    let attempts = 0;

    // Act
    const attempt = use((keys) => {
      attempts++;
      return verifyWithNewKey(keys);
    }, isMismatchError);

    // Assess: the first outcome stands
    await expect(attempt).rejects.toThrow(MismatchError);
    expect(attempts).toBe(1);
    expect(state.reads).toBe(0);
  });

  it('rethrows an error that is not a mismatch, without reading the keys again', async () => {
    // Prepare
    const { time, state, use } = await rotatedAfterFirstRead();
    time.advance(KEY_REFRESH_MS);
    const outage = new Error('something else went wrong');
    let attempts = 0;

    // Act
    const attempt = use(async () => {
      attempts++;
      throw outage;
    }, isMismatchError);

    // Assess
    await expect(attempt).rejects.toBe(outage);
    expect(attempts).toBe(1);
    expect(state.reads).toBe(0);
  });
});
