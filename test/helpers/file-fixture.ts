import { afterAll, beforeAll } from 'vitest';

/**
 * A stand-in for a value that exists only once a `beforeAll` has made it: every property read, write or method call
 * goes to the current value. It lets a test file write `const { server } = useLocalService()` at its top, as if the
 * server were already running, and use `server` in its tests and helpers unchanged.
 * @param what - what the value is, for the error when it is used before its `beforeAll` ran (or after a failed one)
 * @param current - the value once made, `undefined` before
 */
export function lateBound<T extends object>(what: string, current: () => T | undefined): T {
  const target = (): T => {
    const value = current();
    if (value === undefined) throw new Error(`${what} is started in beforeAll: use it inside a test or a hook.`);
    return value;
  };
  return new Proxy({} as T, {
    get(_, key) {
      const value = target();
      const property: unknown = Reflect.get(value, key, value);
      // Methods run on the real object, so classes with private fields work through the stand-in.
      return typeof property === 'function' ? property.bind(value) : property;
    },
    set: (_, key, property) => Reflect.set(target(), key, property),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor(_, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key);
      // The proxy's own target has none of these properties: report them as configurable, as the Proxy rules require.
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}

/**
 * Starts a resource once for the test file (or the `describe` it is called in), before its tests, and closes it
 * after them, even when a test failed.
 * @param start - starts it; it must clean up after itself when it fails half-way
 * @param timeoutMs - the hook's timeout, for starts that bundle or install (default: the configured hookTimeout)
 * @returns the started resource, `undefined` before `beforeAll` and after `afterAll`
 */
export function startForFile<T extends { close(): Promise<void> }>(start: () => Promise<T>, timeoutMs?: number): () => T | undefined {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  }, timeoutMs);
  afterAll(async () => {
    await started?.close();
    started = undefined;
  });
  return () => started;
}

/**
 * `startForFile`, as a stand-in (`lateBound`) a test file can use from its top.
 * @param what - what it is, for the error when it is used outside a test
 */
export function useFileFixture<T extends { close(): Promise<void> }>(what: string, start: () => Promise<T>, timeoutMs?: number): T {
  return lateBound(what, startForFile(start, timeoutMs));
}
