import type { CredentialStore } from './credential-exchange.js';
import type { Connection, ConnectionRepository } from '../adapters/connection-repository.js';
import type { IdentityLock } from '../adapters/identity-lock.js';
import type { OutboxEntry } from '../adapters/outbox.js';

import { RELYING } from '../core/connection-status.js';

export { RELYING };

/**
 * Several product users may share one Zoom identity and so one Recall credential. A credential is deleted at
 * Recall only when no other user's record still relies on it (without `userId`, no record at all).
 * @returns whether the credential was deleted
 */
export async function releaseCredentialIfUnused(
  released: Pick<Connection, 'recallCredentialId' | 'zoomIdentity'> & { userId?: string },
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
  correlationId?: string,
): Promise<RepointedConnection[]> {
  const moved: RepointedConnection[] = [];
  for (const other of await connections.listByZoomIdentity(zoomIdentity)) {
    if (
      reliesOnAnother(other, userId, oauthAppId, credential.id) &&
      (await connections.repoint(other.userId, other.recallCredentialId, credential, now, correlationId))
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

/** Another user's record of the same OAuth app that still relies on a credential other than `credentialId`. */
const reliesOnAnother = (
  other: Pick<Connection, 'userId' | 'oauthAppId' | 'recallCredentialId' | 'status'>,
  userId: string,
  oauthAppId: string,
  credentialId: string,
): boolean =>
  other.userId !== userId &&
  other.oauthAppId === oauthAppId &&
  other.recallCredentialId !== credentialId &&
  RELYING.has(other.status);

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
  correlationId?: string,
): Promise<Connection[]> {
  if (deletedCredentialIds.length === 0) return [];
  const marked: Connection[] = [];
  for (const record of await connections.listByZoomIdentity(zoomIdentity)) {
    if (record.status === 'connected' && deletedCredentialIds.includes(record.recallCredentialId)) {
      const updated = await connections.setStatus(
        record.userId,
        'unhealthy',
        record.recallCredentialId,
        now,
        ['connected'],
        correlationId ? { correlationId } : {},
      );
      if (updated) marked.push(updated);
    }
  }
  return marked;
}

/** The identity's lock is held by someone else past the wait: the follow-up is retried later. */
export class IdentityBusyError extends Error {
  override readonly name = 'IdentityBusyError';
}

export interface ConnectFollowUpDeps {
  connections: Pick<ConnectionRepository, 'get' | 'listByZoomIdentity' | 'repoint'>;
  recall: Pick<CredentialStore, 'deleteCredential'>;
  lock: IdentityLock;
  now: () => number;
  log: { info(message: string, fields: Record<string, unknown>): void };
}

/**
 * Longest wait for, and hold of, an identity's lock in the follow-up. Short: a callback holds the lock only while it
 * resolves a conflict, and a busy lock only means the entry is retried (the stream, then the sweep); a long wait
 * would hold up every other entry behind it.
 */
const FOLLOW_UP_LOCK_WAIT_MS = 1_000;
const FOLLOW_UP_LOCK_HOLD_MS = 10_000;

/**
 * What a recorded connect leaves to do, off the user's request path (the outbox publisher runs it for every
 * `connected` entry, at least once; every step is safe to repeat):
 * - the identity's other records still on another credential move onto the connect's one. Recall keeps one
 *   credential per identity and OAuth app, so once the connect's exists any other recorded for the identity is gone
 *   (a conflict resolution deleted it, or one that crashed midway). Under the identity's lock, and only while the
 *   user's record still relies on the connect's credential: a later conflict that replaced it holds the same lock and
 *   marks its records before it deletes anything.
 * - when the user came from another Zoom identity, that identity's credential is deleted at Recall once no record
 *   relies on it.
 * @throws IdentityBusyError when the lock stays taken: the caller retries later
 */
export async function followUpConnect(entry: OutboxEntry, deps: ConnectFollowUpDeps): Promise<void> {
  if (entry.type !== 'connected' || !entry.zoomIdentity || !entry.oauthAppId) return;
  const { userId, zoomIdentity, oauthAppId, recallCredentialId } = entry;
  const others = await deps.connections.listByZoomIdentity(zoomIdentity);
  const stale = others.some((other) => reliesOnAnother(other, userId, oauthAppId, recallCredentialId));
  if (stale) {
    const startedAt = deps.now();
    const lease = await deps.lock.acquire(zoomIdentity, {
      deadlineMs: startedAt + FOLLOW_UP_LOCK_HOLD_MS,
      waitUntilMs: startedAt + FOLLOW_UP_LOCK_WAIT_MS,
    });
    if (!lease) throw new IdentityBusyError(`The lock of a Zoom identity stayed taken; moving its records waits.`);
    try {
      const current = await deps.connections.get(userId);
      if (current?.status === 'connected' && current.recallCredentialId === recallCredentialId) {
        const now = new Date(deps.now()).toISOString();
        const moved = await repointSharers(userId, zoomIdentity, { id: recallCredentialId }, oauthAppId, deps.connections, now, entry.correlationId);
        if (moved.length > 0) deps.log.info('Moved users of the same Zoom identity to the new credential', { moved: moved.length });
      }
    } finally {
      await lease.release().catch(() => undefined);
    }
  }
  const { priorRecallCredentialId, priorZoomIdentity } = entry;
  if (priorRecallCredentialId && priorZoomIdentity && priorZoomIdentity !== zoomIdentity && RELYING.has(entry.priorStatus as never)) {
    // No user excluded: should this user be back on that identity by now, their own record keeps the credential.
    const deleted = await releaseCredentialIfUnused(
      { recallCredentialId: priorRecallCredentialId, zoomIdentity: priorZoomIdentity },
      deps.connections,
      deps.recall,
    );
    deps.log.info('User switched Zoom identity', { previousCredentialId: priorRecallCredentialId, deleted });
  }
}
