import type { CredentialStore } from '../../../functions/connect/credential-exchange.js';
import type {
  CreateCredentialInput,
  CreateCredentialResult,
  ListCredentialsFilter,
  RecallCredential,
} from '../../../functions/adapters/recall-client.js';
import { RecallUnavailableError } from '../../../functions/core/errors.js';
import { CredentialTable } from '../../../local/recall-model.js';

export type FakeRecallOperation = 'create' | 'list' | 'retrieve' | 'delete';
/** A scripted answer to a create: what the client returns, or what it throws. */
export type CreateStep = CreateCredentialResult | Error;

interface Failure {
  operation: FakeRecallOperation;
  error: Error;
  remaining: number;
  id: string | undefined;
}

/**
 * Recall as the use cases see it (the `RecallClient` methods they take): the credentials it holds, kept and filtered
 * by the same table as the sandbox and every other Recall stand-in (`local/recall-model.ts`), creates answered from a
 * script, every call recorded, and failures to inject.
 */
export class FakeRecall implements CredentialStore {
  readonly table = new CredentialTable<RecallCredential>();
  /** The live credentials by id. */
  readonly credentials = this.table.byId;
  readonly creates: CreateCredentialInput[] = [];
  readonly lists: ListCredentialsFilter[] = [];
  readonly retrieves: string[] = [];
  /** Credentials deleted, in order (a delete that failed is not here). */
  readonly deleted: string[] = [];
  /** The abort signal of every call, in order. */
  readonly signals: (AbortSignal | undefined)[] = [];
  /** Credentials a retrieve still finds although no list shows them (created after the listing, say). */
  readonly unlisted = new Map<string, RecallCredential>();
  /** Answers to the next lists, in order, instead of the filtered credentials (then an empty list). */
  listAnswers: RecallCredential[][] | undefined;
  /** A log shared with other fakes, to see the order of steps across them: `create`, `list`, `retrieve <id>`, `delete <id>`. */
  readonly log: string[];
  readonly #creates: CreateStep[];
  readonly #failures: Failure[] = [];

  /**
   * @param credentials - what Recall holds
   * @param options.creates - the answers to creates, in order (a create beyond them fails the test)
   * @param options.log - see `log`
   */
  constructor(
    credentials: readonly RecallCredential[] = [],
    options: { creates?: CreateStep[]; log?: string[] } = {},
  ) {
    this.add(...credentials);
    this.#creates = [...(options.creates ?? [])];
    this.log = options.log ?? [];
  }

  add(...credentials: RecallCredential[]): void {
    for (const credential of credentials) this.credentials.set(credential.id, credential);
  }

  /**
   * Makes calls of one operation throw: every call, or the next `times`; for retrieve and delete, only those of
   * credential `id` when given. Default error: Recall answered 503.
   */
  fail(operation: FakeRecallOperation, options: { error?: Error; times?: number; id?: string } = {}): void {
    const error = options.error ?? new RecallUnavailableError(`Recall ${operation} answered 503`, 503);
    this.#failures.push({ operation, error, remaining: options.times ?? Number.POSITIVE_INFINITY, id: options.id });
  }

  async createCredential(input: CreateCredentialInput, signal?: AbortSignal): Promise<CreateCredentialResult> {
    this.#called('create', signal);
    this.creates.push(input);
    this.#failIfSet('create');
    const step = this.#creates.shift();
    if (!step) throw new Error('create called more often than scripted');
    if (step instanceof Error) throw step;
    if (step.kind === 'created') this.add(step.credential);
    return step;
  }

  async listCredentials(filter: ListCredentialsFilter, signal?: AbortSignal): Promise<RecallCredential[]> {
    this.#called('list', signal);
    this.lists.push(filter);
    this.#failIfSet('list');
    if (this.listAnswers) return this.listAnswers.shift() ?? [];
    const { created_at_after: after, ...rest } = filter;
    return this.table.matching({ ...rest, ...(after === undefined ? {} : { created_at_after: Date.parse(after) }) });
  }

  async getCredential(id: string, signal?: AbortSignal): Promise<RecallCredential | undefined> {
    this.#called(`retrieve ${id}`, signal);
    this.retrieves.push(id);
    this.#failIfSet('retrieve', id);
    return this.credentials.get(id) ?? this.unlisted.get(id);
  }

  /** Already gone counts as deleted, as in the real client (a 404 is tolerated). */
  async deleteCredential(id: string, signal?: AbortSignal): Promise<void> {
    this.#called(`delete ${id}`, signal);
    this.#failIfSet('delete', id);
    this.credentials.delete(id);
    this.deleted.push(id);
  }

  #called(step: string, signal: AbortSignal | undefined): void {
    this.log.push(step);
    this.signals.push(signal);
  }

  #failIfSet(operation: FakeRecallOperation, id?: string): void {
    const failure = this.#failures.find(
      (candidate) => candidate.operation === operation && candidate.remaining > 0 && (candidate.id === undefined || candidate.id === id),
    );
    if (!failure) return;
    failure.remaining--;
    throw failure.error;
  }
}
