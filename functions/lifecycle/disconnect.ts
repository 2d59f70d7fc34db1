import type { CredentialStore } from '../connect/credential-exchange.js';
import type { Connection, ConnectionRepository } from '../adapters/connection-repository.js';
import { releaseCredentialIfUnused } from '../connect/credential-sharing.js';

export interface DisconnectDeps {
  connections: Pick<ConnectionRepository, 'get' | 'setStatus' | 'listByZoomIdentity'>;
  recall: Pick<CredentialStore, 'deleteCredential'>;
  now: () => number;
}

/**
 * Ends a user's connection. The record is marked first (its `disconnected` event in the same write) and the Recall
 * credential deleted second: a crash in between leaves an unused credential for reconciliation, never a `connected`
 * record without a credential.
 * @returns the ended connection, or `undefined` when the user never connected
 */
export async function disconnectUser(userId: string, deps: DisconnectDeps): Promise<Connection | undefined> {
  const current = await deps.connections.get(userId);
  if (!current || current.status === 'disconnected') return current;
  const now = new Date(deps.now()).toISOString();
  const ended = await deps.connections.setStatus(userId, 'disconnected', current.recallCredentialId, now);
  // A reconnect landed between the read and the write: that newer connection stands.
  if (!ended) return deps.connections.get(userId);
  if (current.status !== 'revoked') await releaseCredentialIfUnused(current, deps.connections, deps.recall);
  return ended;
}
