import { type AuthorizationSettings, beginZoomAuthorization } from './authorization.js';
import { bindingCookieName, clearedBindingCookie, readCookie } from './browser-binding.js';
import { type CredentialStore, type ExchangeResult, exchangeCodeForCredential } from './connect.js';
import type { ConnectionRepository } from './connection-repository.js';
import { markDeletedCredentials, type StatusWriter } from './credential-sharing.js';
import type { ConsumedStateRepository } from './consumed-state-repository.js';
import { sha256Hex } from './crypto.js';
import {
  ConnectError,
  MisconfiguredError,
  misconfigurationLogFields,
  misconfigurationOf,
  type OutcomeReason,
  RequestError,
} from './errors.js';
import type { IdentityLock } from './identity-lock.js';
import { type OAuthState, type OpenedOAuthState, openOAuthState } from './oauth-state.js';
import { type ConnectOutcome, withOutcome } from './return-url.js';
import type { RotatingKeys } from './secrets.js';
import { zoomIdentityOf } from './zoom-identity.js';

/** What Zoom sent back, as parsed at the edge. */
export interface ZoomCallback {
  state?: string | undefined;
  code?: string | undefined;
  error?: string | undefined;
  cookies?: readonly string[] | undefined;
}

export interface CallbackDeps {
  /** Where used states are recorded: the single-use guarantee. */
  consumedStates: Pick<ConsumedStateRepository, 'consume'>;
  /**
   * The state keys, current first (`SecretStore.stateKeys`); with `maxAgeMs`, read again when the cached ones are
   * older than that.
   */
  stateKeys: (options?: { maxAgeMs?: number }) => Promise<RotatingKeys>;
  /**
   * The records. Each status write carries its lifecycle event in the same write (the outbox); the outbox
   * publisher puts it on the bus and moves the identity's other records, so this flow never calls EventBridge.
   */
  connections: Pick<ConnectionRepository, 'recordConnected' | 'listByZoomIdentity'> & StatusWriter;
  recall: CredentialStore;
  /** Serializes conflict resolution per Zoom identity (`LOCK#<identity>` in the table). */
  lock: IdentityLock;
  authorization: Omit<AuthorizationSettings, 'zoomClientId' | 'stateKey'>;
  /** Read only for a re-authorize: the happy path does not need it. */
  zoomClientId: () => Promise<string>;
  oauthAppId: string;
  /** Absolute deadline (epoch ms) for everything this callback does with Recall. */
  deadlineMs: number;
  now: () => number;
  log: CallbackLog;
  /** Told of each conflicting credential set the connect module resolved (for metrics). */
  onConflictResolved?: (info: { key: 'account_id' | 'user_id'; deleted: number; adopted: boolean }) => void;
  /** Told when a create's outcome was unknown and the module had to find out (for metrics). */
  onOutcomeUnknown?: () => void;
}

export interface CallbackLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  correlate(correlationId: string): void;
}

export interface CallbackRedirect {
  location: string;
  cookies: string[];
  outcome: ConnectOutcome['zoom_connect'] | 'reauthorize';
  /** Why, when `outcome` is `error`: the `reason=` on the return URL. */
  reason?: OutcomeReason;
  /** The attempt's correlation id, from its state. */
  correlationId: string;
}

/**
 * A cookie none of the cached state keys opens may be sealed with a key rotated in after they were read: the keys
 * are read again, at most this often per container.
 */
const STATE_KEY_REFRESH_MS = 30_000;

/** What the user sees when no attempt of theirs can be found: nothing here says which of the causes it was. */
const UNUSABLE_STATE =
  'This Zoom sign-in has already been used, has expired, or was opened in another browser. Please start again from the app in the browser you began in.';

/**
 * Completes one connect attempt: opens the attempt sealed in this browser's cookie, uses its state once, exchanges
 * the code through the connect module, records the connection, and says where the browser goes next. Throws
 * `RequestError` only when there is no trustworthy return URL (no cookie for this state, one that does not open,
 * or a state already used); every later failure becomes a `zoom_connect=error&reason=` redirect.
 */
export async function completeZoomConnect(callback: ZoomCallback, deps: CallbackDeps): Promise<CallbackRedirect> {
  if (!callback.state) {
    throw new RequestError(400, 'This Zoom sign-in link is incomplete. Please start again from the app.');
  }
  const stateId = sha256Hex(callback.state);
  // No cookie: another browser (a forwarded link, cookies blocked), an attempt already finished (its cookie was
  // cleared), or a state this service never issued. They cannot be told apart, and none of them may go on.
  const sealed = readCookie(callback.cookies, bindingCookieName(stateId));
  const opened: OpenedOAuthState = sealed === undefined ? { status: 'unreadable' } : await openAttempt(sealed, stateId, deps);
  if (opened.status !== 'opened') {
    deps.log.warn('Callback with an unknown or already used state', {
      problem: sealed === undefined ? 'no_cookie' : opened.status,
    });
    throw new RequestError(400, UNUSABLE_STATE);
  }
  const { state } = opened;
  const cookies = [clearedBindingCookie(stateId, new URL(deps.authorization.zoomRedirectUri).pathname)];
  const { correlationId } = state;
  const fail = (reason: OutcomeReason): CallbackRedirect => ({
    location: withOutcome(state.returnTo, { zoom_connect: 'error', reason }),
    cookies,
    outcome: 'error',
    reason,
    correlationId,
  });

  if (state.expiresAt <= Math.floor(deps.now() / 1000)) {
    deps.log.correlate(correlationId);
    deps.log.info('Connect attempt expired before Zoom returned', { reason: 'state_expired' });
    return fail('state_expired');
  }
  // The single-use guarantee: one conditional write; a replay (even with the cookie) fails it and never reaches
  // Recall.
  if (!(await deps.consumedStates.consume(stateId, state.expiresAt))) {
    deps.log.warn('Callback with an unknown or already used state', { problem: 'already_used' });
    throw new RequestError(400, UNUSABLE_STATE);
  }
  deps.log.correlate(correlationId);
  if (!callback.code) {
    deps.log.info('User did not authorize at Zoom', { zoomError: callback.error?.slice(0, 64) ?? 'no code' });
    return { location: withOutcome(state.returnTo, { zoom_connect: 'denied' }), cookies, outcome: 'denied', correlationId };
  }

  let result: ExchangeResult;
  try {
    result = await exchangeCodeForCredential(
      {
        oauthApp: deps.oauthAppId,
        code: callback.code,
        redirectUri: deps.authorization.zoomRedirectUri,
        codeVerifier: state.codeVerifier,
        deadlineMs: deps.deadlineMs,
      },
      {
        recall: deps.recall,
        lock: deps.lock,
        now: deps.now,
        isRecorded: async (credential) =>
          (await deps.connections.listByZoomIdentity(zoomIdentityOf(credential))).some(
            (record) => record.recallCredentialId === credential.id,
          ),
        // The write-ahead step: records on the credentials about to be deleted turn `unhealthy` (each with its
        // event), so none stays `connected` on a deleted credential; the connect's follow-up moves them onto the
        // new one.
        beforeRetire: async (zoomIdentity, credentialIds) => {
          const now = new Date(deps.now()).toISOString();
          await markDeletedCredentials(zoomIdentity, credentialIds, deps.connections, now, correlationId);
        },
        events: {
          onConflict: (info) => {
            deps.log.info(info.adopted ? 'Adopted the credential another callback just made' : 'Resolved a conflicting Recall credential', info);
            deps.onConflictResolved?.(info);
          },
          onOutcomeUnknown: (info) => {
            deps.log.warn('A Recall create ended without a usable answer; listed the credentials made since', info);
            deps.onOutcomeUnknown?.();
          },
        },
      },
    );
  } catch (error) {
    return fail(logFailure(error, deps.log));
  }

  if (result.outcome === 'reauthorize') {
    if (state.reauthCount >= 1) {
      // Once back at Zoom is enough: a second round would only hide a real problem behind redirects.
      const reason = result.cause === 'outcome_unknown' ? 'recall_unavailable' : 'code_rejected';
      deps.log.warn('Recall could not use a fresh code either after a re-authorization', { reason, cause: result.cause });
      return fail(reason);
    }
    deps.log.info('Sending the user back to Zoom for a fresh code', { cause: result.cause });
    try {
      const [stateKey] = await deps.stateKeys();
      const next = await beginZoomAuthorization(
        { userId: state.userId, returnTo: state.returnTo, correlationId, reauthCount: 1 },
        { ...deps.authorization, zoomClientId: await deps.zoomClientId(), stateKey },
        deps.now(),
      );
      return { location: next.location, cookies: [...cookies, next.cookie], outcome: 'reauthorize', correlationId };
    } catch (error) {
      return fail(logFailure(error, deps.log));
    }
  }

  try {
    const recorded = await recordConnection(state, result, deps);
    deps.log.info(recorded ? 'Zoom account connected' : 'A newer attempt of this user already recorded its connection', {
      recallCredentialId: result.credential.id,
      replaced: result.replacedCredentialIds.length,
      adopted: result.adopted,
    });
    return {
      location: withOutcome(state.returnTo, { zoom_connect: 'connected' }),
      cookies,
      outcome: 'connected',
      correlationId,
    };
  } catch (error) {
    return fail(logFailure(error, deps.log));
  } finally {
    await result.lease?.release().catch((error: unknown) => deps.log.warn('Could not release an identity lock; its lease will run out', { error }));
  }
}

/** Logs a failed attempt once (a misconfiguration as the one line every function writes) and names its reason. */
function logFailure(error: unknown, log: CallbackLog): OutcomeReason {
  const reason = reasonOf(error);
  const misconfigured = reason === 'misconfigured' ? misconfigurationOf(error) : undefined;
  if (misconfigured) log.error('Service misconfigured', misconfigurationLogFields(misconfigured));
  else log.error('Connect attempt failed', { reason, error });
  return reason;
}

/**
 * Records the user's connection (unless a newer attempt of theirs already did) in one conditional write that also
 * holds its `connected` event (and, when it replaced a credential the record relied on, `replaced`). What a connect
 * leaves to do, moving the identity's other records onto this credential and releasing one the user left on another
 * Zoom identity, is the outbox publisher's follow-up (`followUpConnect`): it costs the user no wait.
 * @returns false when a newer attempt's record stays (this older attempt changes nothing)
 */
async function recordConnection(
  state: Pick<OAuthState, 'userId' | 'correlationId' | 'expiresAt'>,
  result: Extract<ExchangeResult, { outcome: 'connected' }>,
  deps: CallbackDeps,
): Promise<boolean> {
  const now = new Date(deps.now()).toISOString();
  // The attempt's expiry orders a user's attempts: a later attempt's state expires later.
  const recorded = await deps.connections.recordConnected(
    state.userId,
    result.credential,
    deps.oauthAppId,
    now,
    state.expiresAt,
    state.correlationId,
  );
  // A superseded attempt's credential is left alone: another user of the identity may be recording it this moment;
  // if nobody does, reconcile finds it as an orphan once it is old enough.
  return recorded.status === 'recorded';
}

/** Opens the cookie with the cached keys; when none opens it, once more with keys read again (bounded). */
async function openAttempt(sealed: string, stateId: string, deps: CallbackDeps): Promise<OpenedOAuthState> {
  const keys = await deps.stateKeys();
  const opened = await openOAuthState(sealed, stateId, keys);
  if (opened.status !== 'unreadable') return opened;
  const fresh = await deps.stateKeys({ maxAgeMs: STATE_KEY_REFRESH_MS });
  return fresh === keys ? opened : openOAuthState(sealed, stateId, fresh);
}

function reasonOf(error: unknown): OutcomeReason {
  if (error instanceof ConnectError) return error.reason;
  if (error instanceof MisconfiguredError) return 'misconfigured';
  return 'internal';
}
