import { ConnectError, MisconfiguredError, RecallRejectedError, RecallUnavailableError } from './errors.js';
import type { RecallClient, RecallCredential, ZoomIdentityFilter } from './recall-client.js';
import { zoomIdentityOfConflict } from './zoom-identity.js';

/**
 * The connect module: turns a one-time Zoom code into exactly one live Recall credential for that Zoom identity.
 * It knows Recall's rules and nothing of Lambda, HTTP or DynamoDB.
 *
 * Recall now updates an existing credential in place when the same Zoom identity connects again (a 2xx carrying
 * the existing id). Older behaviour, still in the API schema, answers 400 with `conflicting_zoom_account_id` or
 * `conflicting_zoom_user_id`; then the old credential is found by listing (filtered: list allows 60 calls a
 * minute), deleted by its Recall id (never by a Zoom id), and the create is tried again with the same code.
 * If Recall has already spent the code on the conflicting attempt, the caller restarts at Zoom for a fresh one.
 */

export type CredentialStore = Pick<RecallClient, 'createCredential' | 'listCredentials' | 'deleteCredential'>;

export interface ExchangeInput {
  oauthApp: string;
  code: string;
  /** Byte-identical to the one in the Zoom authorize URL. */
  redirectUri: string;
  codeVerifier: string;
  /** Aborts every Recall call when the callback's deadline passes. */
  signal?: AbortSignal;
}

export type ExchangeResult =
  | { outcome: 'connected'; credential: RecallCredential; replacedCredentialIds: string[] }
  /** The conflicting credential is gone but the code is spent: send the user to Zoom for a fresh code. */
  | { outcome: 'reauthorize'; replacedCredentialIds: string[]; zoomIdentity: string };

export interface ExchangeEvents {
  onConflict?: (info: { key: 'account_id' | 'user_id'; deleted: number }) => void;
}

/** Delete-and-recreate rounds before giving up: a second conflict means another callback raced us. */
const MAX_CONFLICT_ROUNDS = 2;

/**
 * @throws ConnectError with a stable `reason` for every failure the user should see
 */
export async function exchangeCodeForCredential(
  input: ExchangeInput,
  recall: CredentialStore,
  events: ExchangeEvents = {},
): Promise<ExchangeResult> {
  const replacedCredentialIds: string[] = [];
  let zoomIdentity: string | undefined;
  try {
    for (let round = 0; ; round++) {
      const created = await recall.createCredential(
        {
          oauthApp: input.oauthApp,
          code: input.code,
          redirectUri: input.redirectUri,
          codeVerifier: input.codeVerifier,
        },
        input.signal,
      );
      if (created.kind === 'created') {
        return { outcome: 'connected', credential: created.credential, replacedCredentialIds };
      }
      if (created.kind === 'bad_request') {
        if (round === 0) {
          throw new ConnectError('code_rejected', `Recall rejected the authorization code: ${created.detail}`);
        }
        // After a conflict the code was most likely spent by the attempt that found it.
        return { outcome: 'reauthorize', replacedCredentialIds, zoomIdentity: zoomIdentity ?? 'unknown' };
      }
      if (round >= MAX_CONFLICT_ROUNDS) {
        throw new ConnectError('conflict_unresolved', 'Recall kept reporting a conflicting credential.');
      }
      zoomIdentity = zoomIdentityOfConflict(created.conflict);
      const deleted = await deleteConflicting(input, created.conflict, recall);
      replacedCredentialIds.push(...deleted);
      events.onConflict?.({ key: 'user_id' in created.conflict ? 'user_id' : 'account_id', deleted: deleted.length });
    }
  } catch (error) {
    throw asConnectError(error);
  }
}

async function deleteConflicting(
  input: ExchangeInput,
  conflict: ZoomIdentityFilter,
  recall: CredentialStore,
): Promise<string[]> {
  const existing = await recall.listCredentials({ oauth_app: input.oauthApp, ...conflict }, input.signal);
  // Trust but verify the filter: never delete a credential of another Zoom identity or OAuth app.
  const matching = existing.filter(
    (credential) =>
      (credential.oauth_app === undefined || credential.oauth_app === input.oauthApp) &&
      ('user_id' in conflict ? credential.user_id === conflict.user_id : credential.account_id === conflict.account_id),
  );
  for (const credential of matching) await recall.deleteCredential(credential.id, input.signal);
  return matching.map((credential) => credential.id);
}

function asConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof RecallUnavailableError) {
    return new ConnectError('recall_unavailable', error.message, { cause: error });
  }
  if (error instanceof RecallRejectedError) {
    return new ConnectError('recall_rejected', error.message, { cause: error });
  }
  if (error instanceof MisconfiguredError) {
    return new ConnectError('misconfigured', error.message, { cause: error });
  }
  return new ConnectError('internal', 'Unexpected failure while talking to Recall.', { cause: error });
}
