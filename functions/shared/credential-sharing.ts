import type { CredentialStore } from './connect.js';
import type { Connection, ConnectionRepository, ConnectionStatus } from './connection-repository.js';

/** Statuses in which a record still relies on its Recall credential. */
export const RELYING: ReadonlySet<Connection['status']> = new Set(['connected', 'unhealthy']);

/**
 * Several product users may share one Zoom identity and so one Recall credential. A credential is deleted at
 * Recall only when no other user's record still relies on it.
 * @returns whether the credential was deleted
 */
export async function releaseCredentialIfUnused(
  released: Pick<Connection, 'userId' | 'recallCredentialId' | 'zoomIdentity'>,
  connections: Pick<ConnectionRepository, 'listByZoomIdentity'>,
  recall: Pick<CredentialStore, 'deleteCredential'>,
  signal?: AbortSignal,
): Promise<boolean> {
  const sharing = await connections.listByZoomIdentity(released.zoomIdentity);
  const stillUsed = sharing.some(
    (other) =>
      other.userId !== released.userId &&
      other.recallCredentialId === released.recallCredentialId &&
      RELYING.has(other.status),
  );
  if (stillUsed) return false;
  await recall.deleteCredential(released.recallCredentialId, signal);
  return true;
}

/** A record `repointSharers` moved, as it is now, and the credential it was on. */
export interface RepointedConnection {
  connection: Connection;
  previousRecallCredentialId: string;
}

/**
 * Moves every other record of a Zoom identity onto `credentialId`. Recall keeps one credential per identity and
 * OAuth app, so once this one exists any other credential id recorded for the identity is gone.
 * @returns the records that moved (a record that changed meanwhile is not moved and not returned)
 */
export async function repointSharers(
  userId: string,
  zoomIdentity: string,
  credential: Parameters<ConnectionRepository['repoint']>[2],
  oauthAppId: string,
  connections: Pick<ConnectionRepository, 'listByZoomIdentity' | 'repoint'>,
  now: string,
): Promise<RepointedConnection[]> {
  const moved: RepointedConnection[] = [];
  for (const other of await connections.listByZoomIdentity(zoomIdentity)) {
    if (
      other.userId !== userId &&
      other.oauthAppId === oauthAppId &&
      other.recallCredentialId !== credential.id &&
      RELYING.has(other.status) &&
      (await connections.repoint(other.userId, other.recallCredentialId, credential, now))
    ) {
      moved.push({
        // What the conditional update wrote: the successor's id, `connected`, `now`.
        connection: { ...other, recallCredentialId: credential.id, status: 'connected', updatedAt: now },
        previousRecallCredentialId: other.recallCredentialId,
      });
    }
  }
  return moved;
}

/** Writes a status only while the record still points at its credential (and is in the expected status). */
export type StatusWriter = Pick<ConnectionRepository, 'setStatus'>;

/**
 * Marks the records that relied on credentials deleted during a conflict as `unhealthy` until the user's fresh
 * code replaces them, so no `connected` record points at a deleted credential.
 * @returns the records it marked, as written
 */
export async function markDeletedCredentials(
  zoomIdentity: string,
  deletedCredentialIds: readonly string[],
  connections: Pick<ConnectionRepository, 'listByZoomIdentity'> & StatusWriter,
  now: string,
): Promise<Connection[]> {
  if (deletedCredentialIds.length === 0) return [];
  const marked: Connection[] = [];
  for (const record of await connections.listByZoomIdentity(zoomIdentity)) {
    if (record.status === 'connected' && deletedCredentialIds.includes(record.recallCredentialId)) {
      const updated = await connections.setStatus(record.userId, 'unhealthy', record.recallCredentialId, now, [
        'connected',
      ]);
      if (updated) marked.push(updated);
    }
  }
  return marked;
}
