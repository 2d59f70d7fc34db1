import type { Connection, ConnectionRepository } from '../adapters/connection-repository.js';
import type { RecallClient, RecallCredential, ZoomIdentityFilter } from '../adapters/recall-client.js';
import type { AppDeauthorization } from '../adapters/zoom-webhook.js';
import { zoomIdentityOf, zoomIdentityOfConflict } from '../adapters/zoom-identity.js';

/**
 * What `app_deauthorized` means here. The Zoom user (user-level app) or account (account-level app) removed the
 * app, so every connection through that identity ends `revoked`, the Recall credential is deleted (a later
 * reconnect then meets no conflict), and without explicit data retention the Zoom ids are removed from the
 * records, as Zoom's data-compliance rules require.
 *
 * Safe to run any number of times for one event (Zoom retries, SQS redelivers), even after the user connected
 * again: only connections and credentials from before the deauthorization are touched. No Lambda types here.
 */

export interface DeauthorizationDeps {
  connections: Pick<ConnectionRepository, 'listByZoomIdentity' | 'revoke' | 'scrubZoomData'>;
  recall: Pick<RecallClient, 'listCredentials' | 'deleteCredential'>;
  /** The Recall Zoom OAuth App this deployment serves; records of any other app are not this event's. */
  oauthAppId: string;
  now: () => number;
  log: DeauthorizationLog;
  signal?: AbortSignal;
}

export interface DeauthorizationLog {
  info(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface DeauthorizationResult {
  /** Users whose connection this run moved to `revoked`. */
  revokedUserIds: string[];
  /** Records whose Zoom ids this run removed (revoked ones included). */
  scrubbed: number;
  /** Recall credential ids this run deleted (or found already gone). */
  deletedCredentialIds: string[];
  /**
   * Credentials left alone: a connection made after the deauthorization uses them, Recall dates them after it,
   * or their record changed while this ran.
   */
  keptCredentialIds: string[];
}

/** Statuses in which a record still relies on its Recall credential. */
const RELYING: ReadonlySet<Connection['status']> = new Set(['connected', 'unhealthy']);

/**
 * Applies one deauthorization. Records first, credentials second: a crash in between leaves a credential that
 * the next delivery (or the Recall listing) still finds, never a `connected` record without a credential.
 */
export async function applyDeauthorization(
  deauth: AppDeauthorization,
  deps: DeauthorizationDeps,
): Promise<DeauthorizationResult> {
  // Records are keyed by what the credential carries (user_id for user-level apps, account_id for account-level
  // ones), so asking for both finds exactly those of the app's kind.
  const filters: ZoomIdentityFilter[] = [
    ...(deauth.zoomUserId ? [{ user_id: deauth.zoomUserId }] : []),
    ...(deauth.zoomAccountId ? [{ account_id: deauth.zoomAccountId }] : []),
  ];
  const identities = new Set(filters.map(zoomIdentityOfConflict));
  const cutoff = deauth.deauthorizedAt;
  const cutoffMs = Date.parse(cutoff);
  const now = new Date(deps.now()).toISOString();

  const records = await recordsOf(identities, deps);
  const isFresh = (record: Connection) => Date.parse(record.connectedAt) > cutoffMs;
  // A credential a connection made after the deauthorization relies on belongs to a new authorization.
  const freshCredentials = new Set(
    records.filter((record) => RELYING.has(record.status) && isFresh(record)).map((record) => record.recallCredentialId),
  );
  const affected = records.filter((record) => !isFresh(record) && !freshCredentials.has(record.recallCredentialId));

  const revoked: Connection[] = [];
  // Records that changed between the query and the write (a reconnect, say): their credential may be live again.
  const contested = new Set<string>();
  let scrubbed = 0;
  for (const record of affected) {
    if (RELYING.has(record.status)) {
      const updated = await deps.connections.revoke(record.userId, record.recallCredentialId, now, {
        scrubZoomData: !deauth.userDataRetention,
        connectedNoLaterThan: cutoff,
      });
      if (updated) {
        revoked.push(updated);
        if (!deauth.userDataRetention) scrubbed++;
      } else {
        contested.add(record.recallCredentialId);
      }
    } else if (!deauth.userDataRetention && record.zoomIdentity) {
      const updated = await deps.connections.scrubZoomData(record.userId, record.zoomIdentity, now, {
        connectedNoLaterThan: cutoff,
      });
      if (updated) scrubbed++;
    }
  }
  // Recall's own listing finds what no record names: a credential whose records were already scrubbed by an
  // earlier delivery, or one a crashed callback never recorded.
  const listed = await listCredentials(filters, identities, deps);
  const keptCredentialIds = new Set(freshCredentials);
  // A disconnected record's credential was released when it was disconnected: nothing to delete for it here.
  const toDelete = new Set(
    affected.filter((record) => record.status !== 'disconnected').map((record) => record.recallCredentialId),
  );
  for (const credential of listed) {
    // One no revoked record names and Recall dates after the deauthorization is a new authorization (a connect
    // still in flight, say). A credential a revoked record names goes, whatever Recall's clock says.
    if (toDelete.has(credential.id)) continue;
    if (createdAfter(credential, cutoffMs)) keptCredentialIds.add(credential.id);
    else toDelete.add(credential.id);
  }
  for (const id of contested) keptCredentialIds.add(id);
  for (const id of keptCredentialIds) toDelete.delete(id);
  for (const id of toDelete) await deps.recall.deleteCredential(id, deps.signal);

  return {
    revokedUserIds: revoked.map((record) => record.userId),
    scrubbed,
    deletedCredentialIds: [...toDelete],
    keptCredentialIds: [...keptCredentialIds],
  };
}

/** The records of these identities that belong to this deployment's OAuth app, each user once. */
async function recordsOf(identities: ReadonlySet<string>, deps: DeauthorizationDeps): Promise<Connection[]> {
  const byUser = new Map<string, Connection>();
  for (const identity of identities) {
    for (const record of await deps.connections.listByZoomIdentity(identity)) {
      if (record.oauthAppId === deps.oauthAppId) byUser.set(record.userId, record);
    }
  }
  return [...byUser.values()];
}

/**
 * Recall's credentials for the identity. Listing by `account_id` in a user-level app also returns the other
 * users of that Zoom account, so only credentials whose own identity matches are kept.
 */
async function listCredentials(
  filters: readonly ZoomIdentityFilter[],
  identities: ReadonlySet<string>,
  deps: DeauthorizationDeps,
): Promise<RecallCredential[]> {
  const found = new Map<string, RecallCredential>();
  for (const filter of filters) {
    for (const credential of await deps.recall.listCredentials({ oauth_app: deps.oauthAppId, ...filter }, deps.signal)) {
      if (identities.has(zoomIdentityOf(credential))) found.set(credential.id, credential);
    }
  }
  return [...found.values()];
}

/** Created after the deauthorization: a new authorization, not the one Zoom revoked. Unknown counts as before. */
function createdAfter(credential: RecallCredential, cutoffMs: number): boolean {
  const created = credential.created_at ? Date.parse(credential.created_at) : NaN;
  return Number.isFinite(created) && created > cutoffMs;
}
