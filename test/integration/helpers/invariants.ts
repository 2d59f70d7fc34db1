import { expect } from 'vitest';
import { RELYING } from '../../../functions/connect/credential-sharing.js';
import { connectionKey, TABLE_SCHEMA } from '../../../functions/core/table-schema.js';
import type { RecallAppKind } from '../../../local/local-settings.js';
import type {
  RecallOperation,
  RecordedRequest,
  SandboxCredential,
  SandboxRecall,
} from '../../../local/sandbox-recall.js';
import type { LocalServer } from '../../../local/server.js';
import { TestBrowser } from './browser.js';
import { type FlowResult, getConnection, runConnectFlow } from './connect-flow.js';
import { busEvents, settleOutbox } from './lifecycle.js';
import { tableOf } from './local-service.js';

/**
 * The invariants every fault, race and crash test ends on (docs/design.md, invariants 4 and 6; docs/failure-handling.md), checked
 * against the sandbox Recall's credentials and the service's table, plus Recall call counting and timing.
 */

/** A Zoom identity as the consent page takes it, or its table key (`user#<zoom user>`, `account#<zoom account>`). */
export type IdentityRef = { accountId: string; userId: string } | string;

export interface IdentityInvariantOptions {
  /**
   * `connected` (default): exactly one live credential for the identity and every listed user `connected` on it.
   * `none`: no credential for the identity and no listed user `connected` (a first connect that failed cleanly).
   */
  expect?: 'connected' | 'none';
  /** The credential the identity must end on (e.g. the one adopted), when the test knows it. */
  credentialId?: string;
  /** How a `{accountId, userId}` identity is matched; default: the sandbox's current app kind. */
  appKind?: RecallAppKind;
  /** Where no `connected` record may point at a missing credential; default `table` (every record). */
  danglingScope?: 'table' | 'identity';
  /** The Recall the server talks to, when it is not its built-in sandbox (RECALL_API_BASE_URL). */
  recall?: SandboxRecall;
}

/** A connection record as stored (the attributes the invariants need). */
export interface StoredRecord {
  userId: string;
  status: string;
  recallCredentialId: string | undefined;
  zoomIdentity: string | undefined;
}

export interface IdentityState {
  /** The identity's one live credential (`expect: 'connected'`). */
  credential: SandboxCredential | undefined;
  /** Every record of the identity in the table. */
  records: StoredRecord[];
}

/** The identity's table key, as the service derives it from a credential (`zoomIdentityOf`). */
export function identityKey(identity: IdentityRef, appKind: RecallAppKind): string {
  if (typeof identity === 'string') return identity;
  return appKind === 'user_level' ? `user#${identity.userId}` : `account#${identity.accountId}`;
}

/** Live credentials of one identity key in the server's OAuth app, as Recall would match them. */
export function credentialsOfIdentity(
  server: LocalServer,
  key: string,
  recall: SandboxRecall = server.sandboxRecall,
): SandboxCredential[] {
  const [kind, id] = splitKey(key);
  return [...recall.state.credentials.values()].filter(
    (credential) =>
      credential.oauth_app === server.settings.recallOAuthAppId &&
      (kind === 'user' ? credential.user_id === id : credential.user_id === null && credential.account_id === id),
  );
}

/**
 * Asserts the invariants for one Zoom identity: one live credential (or none), every listed user's record
 * `connected` on it (read over `GET /connections/{userId}`), no `connected` record pointing at a credential that
 * does not exist (dangling), no credential of the identity that no `connected` or `unhealthy` record points at
 * (orphan).
 * @returns the live credential and the identity's records, for further assertions
 */
export async function assertIdentityInvariants(
  server: LocalServer,
  identity: IdentityRef,
  userIds: readonly string[],
  options: IdentityInvariantOptions = {},
): Promise<IdentityState> {
  const recall = options.recall ?? server.sandboxRecall;
  const key = identityKey(identity, options.appKind ?? recall.behaviour.appKind);
  // What the callbacks left to the outbox publisher (moving the identity's other records) is done first.
  const ofIdentity = (await readConnectionRecords(server)).filter((record) => record.zoomIdentity === key);
  await settleOutbox(server, [...userIds, ...ofIdentity.map((record) => record.userId)]);
  const credentials = credentialsOfIdentity(server, key, recall);
  const records = await readConnectionRecords(server);
  const identityRecords = records.filter((record) => record.zoomIdentity === key);
  const connected = records.filter((record) => record.status === 'connected');
  const context = `identity ${key}: credentials ${JSON.stringify(credentials.map((c) => c.id))}, records ${JSON.stringify(identityRecords)}`;

  const live = recall.state.credentials;
  const dangling = (options.danglingScope === 'identity' ? connected.filter((r) => r.zoomIdentity === key) : connected)
    .filter((record) => record.recallCredentialId === undefined || !live.has(record.recallCredentialId))
    .map((record) => record.userId);
  expect(dangling, `connected records on a credential that does not exist (${context})`).toEqual([]);

  // A credential an `unhealthy` record still relies on is known to the table (reconcile's rule): not an orphan.
  const relying = records.filter((record) => (RELYING as ReadonlySet<string>).has(record.status));
  const orphans = credentials
    .filter((credential) => !relying.some((record) => record.recallCredentialId === credential.id))
    .map((credential) => credential.id);
  expect(orphans, `credentials no connected or unhealthy record points at (${context})`).toEqual([]);

  if (options.expect === 'none') {
    expect(credentials, context).toEqual([]);
    for (const userId of userIds) {
      const { connection } = await getConnection(server, userId);
      expect(connection?.status, `user ${userId} (${context})`).not.toBe('connected');
    }
    return { credential: undefined, records: identityRecords };
  }

  expect(credentials, `exactly one live credential (${context})`).toHaveLength(1);
  const credential = credentials[0] as SandboxCredential;
  if (options.credentialId !== undefined) expect(credential.id, context).toBe(options.credentialId);
  for (const userId of userIds) {
    const { status, connection } = await getConnection(server, userId);
    expect(status, `GET /connections/${userId} (${context})`).toBe(200);
    expect(
      { status: connection?.status, recallCredentialId: connection?.recallCredentialId },
      `user ${userId} (${context})`,
    ).toEqual({ status: 'connected', recallCredentialId: credential.id });
  }
  return { credential, records: identityRecords };
}

/**
 * Asserts that the last transition of each user's record has its event on the bus (the outbox delivered it), after
 * the outbox publisher has settled: the latest event about the user names the record's status and credential.
 * Each event id is delivered once here, and every duplicate of an id (at least once) carries the same detail.
 */
export async function assertTransitionsPublished(server: LocalServer, userIds: readonly string[]): Promise<void> {
  await settleOutbox(server, userIds);
  const events = await busEvents(server, userIds);
  const byId = new Map<string, string>();
  for (const { detail } of events) {
    const seen = byId.get(detail.eventId);
    if (seen !== undefined) expect(JSON.stringify(detail), `redelivery of ${detail.eventId}`).toBe(seen);
    byId.set(detail.eventId, JSON.stringify(detail));
  }
  const records = await readConnectionRecords(server);
  for (const userId of userIds) {
    const record = records.find((candidate) => candidate.userId === userId);
    const last = events.filter(({ detail }) => detail.userId === userId).at(-1)?.detail;
    if (!record) {
      expect(last, `user ${userId} has no record, so no event`).toBeUndefined();
      continue;
    }
    expect(
      { status: last?.status, recallCredentialId: last?.recallCredentialId },
      `the last event about ${userId} describes its record`,
    ).toEqual({ status: record.status, recallCredentialId: record.recallCredentialId });
  }
}

/** Every connection record (items under a `connectionKey`) in the server's table, read directly from dynalite. */
export async function readConnectionRecords(server: LocalServer): Promise<StoredRecord[]> {
  const table = tableOf(server);
  const userPrefix = connectionKey('');
  try {
    return (await table.scan())
      // A user item without a status is no connection.
      .filter((item) => item[TABLE_SCHEMA.partitionKey]?.S?.startsWith(userPrefix) && item.status?.S !== undefined)
      .map((item) => ({
        userId: (item[TABLE_SCHEMA.partitionKey]?.S as string).slice(userPrefix.length),
        status: item.status?.S as string,
        recallCredentialId: item.recallCredentialId?.S,
        zoomIdentity: item[TABLE_SCHEMA.zoomIdentityIndex.partitionKey]?.S,
      }));
  } finally {
    await table.close();
  }
}

/** A position in the sandbox Recall's request log. */
export interface RecallMark {
  index: number;
}

const API_OPERATIONS: ReadonlySet<RecallOperation> = new Set(['create', 'list', 'retrieve', 'delete']);

/** Marks the sandbox Recall's request log now: later calls are counted from here. */
export const markRecall = (server: LocalServer): RecallMark => ({ index: server.sandboxRecall.state.requests.length });

/** The credential API calls (create, list, retrieve, delete) made since `mark`, in the order they were answered. */
export function recallCallsSince(server: LocalServer, mark: RecallMark, operation?: RecallOperation): RecordedRequest[] {
  return server.sandboxRecall.state.requests
    .slice(mark.index)
    .filter((request) => API_OPERATIONS.has(request.operation) && (!operation || request.operation === operation));
}

/** The calls since `mark` as `'<operation> <status>'`, e.g. `['create 503', 'list 200', 'create 201']`. */
export const recallSequenceSince = (server: LocalServer, mark: RecallMark): string[] =>
  recallCallsSince(server, mark).map((request) => `${request.operation} ${request.status}`);

/** How many calls of each operation since `mark` (operations not called are absent). */
export function recallCountsSince(server: LocalServer, mark: RecallMark): Partial<Record<RecallOperation, number>> {
  const counts: Partial<Record<RecallOperation, number>> = {};
  for (const { operation } of recallCallsSince(server, mark)) counts[operation] = (counts[operation] ?? 0) + 1;
  return counts;
}

export interface TimedAttempt {
  flow: FlowResult;
  /** Wall time of the whole flow (authorize, consents, callbacks), in ms. */
  ms: number;
  /** Recall's request log as the flow began. */
  mark: RecallMark;
}

/** Connects `userId` as `zoomUser` through the demo page in a new browser, however it ends, timed and marked. */
export async function timedConnectAttempt(
  server: LocalServer,
  userId: string,
  zoomUser: { accountId: string; userId: string },
): Promise<TimedAttempt> {
  const mark = markRecall(server);
  const demoUrl = `${server.url}/demo/connect?user=${encodeURIComponent(userId)}`;
  const { result: flow, ms } = await timed(() => runConnectFlow(server, new TestBrowser(), demoUrl, zoomUser));
  return { flow, ms, mark };
}

/** Runs `flow` and measures its wall time. */
export async function timed<T>(flow: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  const result = await flow();
  return { result, ms: performance.now() - started };
}

function splitKey(key: string): ['user' | 'account', string] {
  const separator = key.indexOf('#');
  const kind = key.slice(0, separator);
  if (separator < 0 || (kind !== 'user' && kind !== 'account')) {
    throw new Error(`Not a Zoom identity key: ${key} (expected user#<id> or account#<id>).`);
  }
  return [kind, key.slice(separator + 1)];
}
