import type { AcquireOptions, IdentityLease, IdentityLock } from '../../../functions/adapters/identity-lock.js';

/**
 * The identity lock for use-case tests: free, unless an identity is `busy` (held by someone else past the wait) or
 * the whole lock is `unavailable`. Records every acquire with its options, and who held and released what.
 */
export class FakeLock implements IdentityLock {
  /** Every acquire, granted or not, with its options. */
  readonly acquired: ({ identity: string } & AcquireOptions)[] = [];
  /** Identities granted, in order. */
  readonly held: string[] = [];
  /** Identities released, in order. */
  readonly released: string[] = [];
  /** Identities another holder keeps. */
  readonly busy = new Set<string>();
  /** Every identity is held by someone else. */
  unavailable = false;

  /** @param log - a log shared with other fakes, to see the order of steps across them (`lock <id>`, `release <id>`) */
  constructor(private readonly log: string[] = []) {}

  async acquire(identity: string, options: AcquireOptions): Promise<IdentityLease | undefined> {
    this.log.push(`lock ${identity}`);
    this.acquired.push({ identity, deadlineMs: options.deadlineMs, waitUntilMs: options.waitUntilMs, signal: options.signal });
    if (this.unavailable || this.busy.has(identity)) return undefined;
    this.held.push(identity);
    return {
      identity,
      release: async () => {
        this.released.push(identity);
        this.log.push(`release ${identity}`);
      },
    };
  }
}
