import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { type Connection, type ConnectionStatus, connectionFromItem, connectionItem } from '../../functions/adapters/connection-repository.js';
import { AWS_FUNCTION_ENV } from './env.js';

/** When the tests' records were connected, unless a test says otherwise. */
export const CONNECTED_AT = '2026-11-01T00:00:00.000Z';

/** A connection record: `userId` connected through `cred-1` for Zoom user `zu-1` (account `za-1`), unless overridden. */
export const aConnection = (userId: string, overrides: Partial<Connection> = {}): Connection => ({
  userId,
  status: 'connected',
  recallCredentialId: 'cred-1',
  zoomAccountId: 'za-1',
  zoomUserId: 'zu-1',
  zoomIdentity: 'user#zu-1',
  oauthAppId: AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID,
  connectedAt: CONNECTED_AT,
  updatedAt: CONNECTED_AT,
  ...overrides,
});

/** The stored item of `aConnection(userId, ...)` in `status` on `recallCredentialId`, as the repository writes it. */
export const recordItem = (
  userId: string,
  status: ConnectionStatus = 'connected',
  recallCredentialId = 'cred-1',
  overrides: Partial<Connection> = {},
): Record<string, AttributeValue> => connectionItem(aConnection(userId, { status, recallCredentialId, ...overrides }));

/** The connection a stored item holds; fails the test when the item is not a connection record. */
export function storedConnection(item: Record<string, AttributeValue> | undefined): Connection {
  const connection = item && connectionFromItem(item);
  if (!connection) throw new Error(`Not a connection record: ${JSON.stringify(item)}`);
  return connection;
}
