import type { Connection, ConnectionRepository } from '../adapters/connection-repository.js';
import type { StatusWriter } from '../connect/credential-sharing.js';
import type { RecallClient } from '../adapters/recall-client.js';
import { zoomIdentityOf } from '../adapters/zoom-identity.js';

/**
 * Health sync: Recall marks a credential `unhealthy` (the user revoked the app, tokens stopped refreshing) but
 * sends no webhook for it, so a schedule asks. One run lists the OAuth app's unhealthy credentials once (the list
 * endpoint allows 60 calls a minute), marks the `connected` records on them `unhealthy`, then retrieves the
 * credentials of the records already `unhealthy` that the list no longer names: healthy → `connected` again;
 * gone (404) → they stay `unhealthy`, the user has to connect again.
 */

export interface HealthSyncLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface HealthSyncDeps {
  recall: Pick<RecallClient, 'listCredentials' | 'getCredential'>;
  connections: Pick<ConnectionRepository, 'listByStatus' | 'listByZoomIdentity'> & StatusWriter;
  oauthAppId: string;
  now: () => number;
  /** Absolute deadline (epoch ms): work not started by then waits for the next run. */
  deadlineMs: number;
  /** Credential retrieves per run, at most; the rest wait for the next run. @default 100 */
  maxRetrieves?: number;
  /** Orders the credentials to retrieve; injectable for tests. @default Math.random */
  random?: () => number;
  log: HealthSyncLog;
}

/** What one run saw and did. Counts are connection records unless they say credentials. */
export interface HealthSyncSummary {
  /** Credentials Recall lists as unhealthy for the OAuth app. */
  unhealthy: number;
  /** Records moved from `connected` to `unhealthy`. */
  markedUnhealthy: number;
  /** Records moved from `unhealthy` back to `connected`. */
  healthyAgain: number;
  /** `unhealthy` records whose credential Recall still reports unhealthy. */
  stillUnhealthy: number;
  /** `unhealthy` records whose credential Recall no longer has. */
  stillGone: number;
  /** Credentials or records this run could not handle (each one is logged); the next run tries again. */
  failed: number;
  /** Credentials left for the next run (the per-run bound or the deadline was reached). */
  deferred: number;
}

export const DEFAULT_MAX_RETRIEVES = 100;

/**
 * Runs one health sync. A failure with one credential or record is logged and counted, never thrown; only a
 * failure to read the inputs at all (the Recall list, the `unhealthy` records) fails the run.
 */
export async function syncCredentialHealth(deps: HealthSyncDeps): Promise<HealthSyncSummary> {
  const summary: HealthSyncSummary = {
    unhealthy: 0,
    markedUnhealthy: 0,
    healthyAgain: 0,
    stillUnhealthy: 0,
    stillGone: 0,
    failed: 0,
    deferred: 0,
  };
  const listed = await deps.recall.listCredentials(
    { oauth_app: deps.oauthAppId, status: 'unhealthy' },
    AbortSignal.timeout(remainingMs(deps)),
  );
  summary.unhealthy = listed.length;
  const unhealthyIds = new Set(listed.map((credential) => credential.id));

  for (const [index, credential] of listed.entries()) {
    if (remainingMs(deps) <= 0) {
      summary.deferred += listed.length - index;
      break;
    }
    await markUnhealthy(credential.id, zoomIdentityOf(credential), deps, summary);
  }

  // Records already `unhealthy` on a credential the list still names need no call: they stay as they are.
  const toCheck = groupByCredential(
    (await deps.connections.listByStatus('unhealthy')).filter((record) => !unhealthyIds.has(record.recallCredentialId)),
  );
  const credentialIds = shuffle([...toCheck.keys()], deps.random ?? Math.random);
  const maxRetrieves = deps.maxRetrieves ?? DEFAULT_MAX_RETRIEVES;
  for (const [index, credentialId] of credentialIds.entries()) {
    if (index >= maxRetrieves || remainingMs(deps) <= 0) {
      summary.deferred += credentialIds.length - index;
      break;
    }
    await recheck(credentialId, toCheck.get(credentialId) ?? [], deps, summary);
  }

  if (summary.deferred > 0) {
    deps.log.warn('Health sync reached its per-run bound; the remaining credentials wait for the next run', {
      deferred: summary.deferred,
      maxRetrieves,
    });
  }
  deps.log.info('Health sync finished', { ...summary });
  return summary;
}

/** Marks the `connected` records on a credential Recall lists as unhealthy (each write carries its `unhealthy` event). */
async function markUnhealthy(
  credentialId: string,
  zoomIdentity: string,
  deps: HealthSyncDeps,
  summary: HealthSyncSummary,
): Promise<void> {
  let records: Connection[];
  try {
    // Records are keyed by the identity the credential carries; its id then picks the ones on this credential.
    records = await deps.connections.listByZoomIdentity(zoomIdentity);
  } catch (error) {
    summary.failed++;
    deps.log.error('Health sync could not look up the records of an unhealthy credential', {
      recallCredentialId: credentialId,
      error,
    });
    return;
  }
  const now = new Date(deps.now()).toISOString();
  const marked = await transition(
    records.filter((record) => record.status === 'connected' && record.recallCredentialId === credentialId),
    { from: 'connected', to: 'unhealthy' },
    now,
    deps,
    summary,
  );
  summary.markedUnhealthy += marked.length;
}

/** Asks Recall about one credential that `unhealthy` records point at and the unhealthy list no longer names. */
async function recheck(
  credentialId: string,
  records: readonly Connection[],
  deps: HealthSyncDeps,
  summary: HealthSyncSummary,
): Promise<void> {
  let credential;
  try {
    credential = await deps.recall.getCredential(credentialId, AbortSignal.timeout(remainingMs(deps)));
  } catch (error) {
    summary.failed++;
    deps.log.error('Health sync could not retrieve a credential', { recallCredentialId: credentialId, error });
    return;
  }
  if (!credential) {
    summary.stillGone += records.length;
    return;
  }
  if (credential.status !== 'healthy') {
    summary.stillUnhealthy += records.length;
    return;
  }
  const now = new Date(deps.now()).toISOString();
  const restored = await transition(records, { from: 'unhealthy', to: 'connected' }, now, deps, summary);
  summary.healthyAgain += restored.length;
}

/**
 * Writes each record's new status, on the condition that it still points at the same credential and is still in
 * `from` (a reconnect or disconnect meanwhile wins). One record's failure is logged and the others go on.
 * @returns the records written, as written
 */
async function transition(
  records: readonly Connection[],
  change: { from: Connection['status']; to: Connection['status'] },
  now: string,
  deps: HealthSyncDeps,
  summary: HealthSyncSummary,
): Promise<Connection[]> {
  const written: Connection[] = [];
  for (const record of records) {
    try {
      const updated = await deps.connections.setStatus(record.userId, change.to, record.recallCredentialId, now, [
        change.from,
      ]);
      if (updated) written.push(updated);
    } catch (error) {
      summary.failed++;
      deps.log.error('Health sync could not update a connection', {
        userId: record.userId,
        recallCredentialId: record.recallCredentialId,
        to: change.to,
        error,
      });
    }
  }
  return written;
}

function groupByCredential(records: readonly Connection[]): Map<string, Connection[]> {
  const groups = new Map<string, Connection[]>();
  for (const record of records) {
    const group = groups.get(record.recallCredentialId);
    if (group) group.push(record);
    else groups.set(record.recallCredentialId, [record]);
  }
  return groups;
}

/**
 * A random order, so that when more credentials wait than one run may retrieve, the ones left over get their
 * turn on later runs instead of being crowded out by credentials that stay gone.
 */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const remainingMs = (deps: Pick<HealthSyncDeps, 'deadlineMs' | 'now'>) => Math.max(0, deps.deadlineMs - deps.now());
