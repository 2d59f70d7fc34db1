import type { RecallCredential, ZoomIdentityFilter } from './recall-client.js';

/**
 * The Zoom identity Recall allows one credential for (per OAuth app): a user-level app's credential carries
 * `user_id`, an account-level app's only `account_id`. Records are indexed by this key.
 */
export function zoomIdentityOf(credential: Pick<RecallCredential, 'id' | 'user_id' | 'account_id'>): string {
  if (credential.user_id) return `user#${credential.user_id}`;
  if (credential.account_id) return `account#${credential.account_id}`;
  return `credential#${credential.id}`;
}

/** The same key, from the `conflicting_zoom_*` field of Recall's 400. */
export const zoomIdentityOfConflict = (conflict: ZoomIdentityFilter): string =>
  'user_id' in conflict ? `user#${conflict.user_id}` : `account#${conflict.account_id}`;
