import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  type Connection,
  connectionItem,
  ConnectionRepository,
  type ConnectionStatus,
  type RevokeOptions,
} from '../../../functions/adapters/connection-repository.js';
import type { RecallCredential } from '../../../functions/adapters/recall-client.js';
import { inMemoryServiceTable } from './dynamodb-table.js';
import { TEST_OAUTH_APP, TEST_ZOOM_ACCOUNT, TEST_ZOOM_USER } from './fixtures.js';

export { TEST_OAUTH_APP } from './fixtures.js';

/** One call of a method the use cases use, with its arguments by name (an absent optional one is undefined). */
export type ConnectionCall =
  | { method: 'listByZoomIdentity'; zoomIdentity: string | null }
  | { method: 'listByStatus'; status: ConnectionStatus }
  | { method: 'repoint'; userId: string; from: string; to: Pick<RecallCredential, 'id'>; now: string; correlationId?: string | undefined }
  | {
      method: 'setStatus';
      userId: string;
      status: ConnectionStatus;
      credentialId: string;
      now: string;
      fromStatuses?: readonly ConnectionStatus[] | undefined;
      correlationId?: string | undefined;
    }
  | { method: 'revoke'; userId: string; credentialId: string; now: string; options: RevokeOptions }
  | { method: 'scrubZoomData'; userId: string; zoomIdentity: string; now: string; connectedNoLaterThan?: string | undefined };
type ConnectionMethod = ConnectionCall['method'];
type CallOf<M extends ConnectionMethod> = Omit<Extract<ConnectionCall, { method: M }>, 'method'>;

/**
 * The connection table for use-case tests: the real `ConnectionRepository` over the service table in memory (its
 * own conditional writes, evaluated as DynamoDB evaluates them), with what a test needs around it: seeding records,
 * reading them back at once, a log of the calls and of the writes that took effect, and failures to inject.
 */
export class FakeConnections extends ConnectionRepository {
  /** Every call of the methods the use cases use, in order. */
  readonly calls: ConnectionCall[] = [];
  /** The writes that took effect, in order: `repoint <user> <from>-><to>`, `status <user> <status>`, `revoke <user>[ scrub]`, `scrub <user>`. */
  readonly writes: string[] = [];
  /** Users whose next conditional writes lose a race: their record changed between the use case's read and its write. */
  readonly losesRace = new Set<string>();
  /** Users whose writes fail (DynamoDB unavailable). */
  readonly failWritesFor = new Set<string>();
  /** Identity lookups fail (DynamoDB unavailable). */
  failIdentityLookups = false;
  /**
   * Changes that land while the use case works (a reconnect, a disconnect), each run once at its moment: just
   * before the next identity query, or just after the next identity or status query has read its records.
   */
  readonly meanwhile: Partial<Record<'beforeIdentityQuery' | 'afterIdentityQuery' | 'afterStatusQuery', () => Promise<void> | void>> = {};
  readonly #records = new Map<string, Connection>();

  /** A table holding `records`. */
  static async create(records: readonly Connection[] = []): Promise<FakeConnections> {
    const { client, tableName } = await inMemoryServiceTable();
    const connections = new FakeConnections(client, tableName);
    for (const record of records) await connections.put(record);
    return connections;
  }

  private constructor(
    private readonly tableClient: Awaited<ReturnType<typeof inMemoryServiceTable>>['client'],
    private readonly table: string,
  ) {
    super(tableClient, table);
  }

  /** The records as the table holds them now, by user (kept in step with every write made through this fake). */
  get records(): ReadonlyMap<string, Connection> {
    return this.#records;
  }

  statusOf(userId: string): ConnectionStatus | undefined {
    return this.#records.get(userId)?.status;
  }

  /** Every call of one method, in order, with its arguments by name. */
  callsOf<M extends ConnectionMethod>(method: M): CallOf<M>[] {
    const calls = this.calls.filter((call): call is Extract<ConnectionCall, { method: M }> => call.method === method);
    return calls.map(({ method: _, ...args }) => args as unknown as CallOf<M>);
  }

  /** Writes a record as it stands, whatever its state (a seed, or a change that lands meanwhile). */
  async put(record: Connection): Promise<void> {
    await this.tableClient.send(new PutItemCommand({ TableName: this.table, Item: connectionItem(record) }));
    await this.#refresh(record.userId);
  }

  override async listByZoomIdentity(...args: Parameters<ConnectionRepository['listByZoomIdentity']>): Promise<Connection[]> {
    this.calls.push({ method: 'listByZoomIdentity', zoomIdentity: args[0] });
    await this.#happen('beforeIdentityQuery');
    if (this.failIdentityLookups) throw new Error('DynamoDB unavailable');
    const found = await super.listByZoomIdentity(...args);
    await this.#happen('afterIdentityQuery');
    return found;
  }

  override async listByStatus(...args: Parameters<ConnectionRepository['listByStatus']>): Promise<Connection[]> {
    this.calls.push({ method: 'listByStatus', status: args[0] });
    const found = await super.listByStatus(...args);
    await this.#happen('afterStatusQuery');
    return found;
  }

  async #happen(moment: keyof FakeConnections['meanwhile']): Promise<void> {
    const change = this.meanwhile[moment];
    delete this.meanwhile[moment];
    await change?.();
  }

  override repoint(...args: Parameters<ConnectionRepository['repoint']>): Promise<boolean> {
    const [userId, from, to, now, correlationId] = args;
    this.calls.push({ method: 'repoint', userId, from, to, now, correlationId });
    return this.#write(userId, false, () => super.repoint(...args), `repoint ${userId} ${from}->${to.id}`);
  }

  override setStatus(...args: Parameters<ConnectionRepository['setStatus']>): Promise<Connection | undefined> {
    const [userId, status, credentialId, now, fromStatuses, options] = args;
    this.calls.push({ method: 'setStatus', userId, status, credentialId, now, fromStatuses, correlationId: options?.correlationId });
    return this.#write(userId, undefined, () => super.setStatus(...args), `status ${userId} ${status}`);
  }

  override revoke(...args: Parameters<ConnectionRepository['revoke']>): Promise<Connection | undefined> {
    const [userId, credentialId, now, options] = args;
    this.calls.push({ method: 'revoke', userId, credentialId, now, options });
    return this.#write(userId, undefined, () => super.revoke(...args), `revoke ${userId}${options.scrubZoomData ? ' scrub' : ''}`);
  }

  override scrubZoomData(...args: Parameters<ConnectionRepository['scrubZoomData']>): Promise<Connection | undefined> {
    const [userId, zoomIdentity, now, options] = args;
    this.calls.push({ method: 'scrubZoomData', userId, zoomIdentity, now, connectedNoLaterThan: options?.connectedNoLaterThan });
    return this.#write(userId, undefined, () => super.scrubZoomData(...args), `scrub ${userId}`);
  }

  /** One conditional write: failed or lost as the test set up, else the repository's own, logged when it took effect. */
  async #write<R>(userId: string, lost: R, write: () => Promise<R>, description: string): Promise<R> {
    if (this.failWritesFor.has(userId)) throw new Error('DynamoDB unavailable');
    if (this.losesRace.has(userId)) return lost;
    const result = await write();
    if (result) {
      this.writes.push(description);
      await this.#refresh(userId);
    }
    return result;
  }

  async #refresh(userId: string): Promise<void> {
    const record = await this.get(userId);
    if (record) this.#records.set(userId, record);
    else this.#records.delete(userId);
  }
}

/**
 * A connection record of Zoom user `zu-1` (account `za-1`, identity `user#zu-1`) in `TEST_OAUTH_APP`, connected and
 * last changed on 2026-11-01; `extra` overrides any field.
 */
export const connectionRecord = (
  userId: string,
  status: ConnectionStatus,
  recallCredentialId: string,
  extra: Partial<Connection> = {},
): Connection => ({
  userId,
  status,
  recallCredentialId,
  zoomAccountId: TEST_ZOOM_ACCOUNT,
  zoomUserId: TEST_ZOOM_USER,
  zoomIdentity: `user#${TEST_ZOOM_USER}`,
  oauthAppId: TEST_OAUTH_APP,
  connectedAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
  ...extra,
});
