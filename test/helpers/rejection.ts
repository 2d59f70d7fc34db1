import { expect } from 'vitest';

/**
 * Awaits a promise that must reject with an instance of `type`, and hands back the error for further assertions
 * (a test fails when the promise resolves, or rejects with anything else).
 */
export async function rejectionOf<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(type);
  return error as E;
}

/**
 * Runs `action`, which must throw an instance of `type`, and hands back the error for further assertions (a test
 * fails when it returns, or throws anything else).
 */
export function thrownBy<E extends Error>(action: () => unknown, type: abstract new (...args: never[]) => E): E {
  let error: unknown;
  try {
    action();
  } catch (thrown) {
    error = thrown;
  }
  expect(error).toBeInstanceOf(type);
  return error as E;
}
