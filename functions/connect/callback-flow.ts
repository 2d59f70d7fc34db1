import { type AuthorizationSettings, beginZoomAuthorization } from './authorization.js';
import { bindingCookieName, bindingCookiePath, bindingCookies, clearedBindingCookie, readCookie } from './browser-binding.js';
import { type CredentialStore, type ExchangeResult, exchangeCodeForCredential } from './credential-exchange.js';
import type { ConnectionRepository } from '../adapters/connection-repository.js';
import { markDeletedCredentials, type StatusWriter } from './credential-sharing.js';
import type { ConsumedStateRepository } from '../adapters/consumed-state-repository.js';
import { sha256Hex } from '../core/crypto.js';
import { ConnectError, MisconfiguredError, type OutcomeReason, RequestError } from '../core/errors.js';
import { logMisconfiguration } from '../core/logger.js';
import type { IdentityLock } from '../adapters/identity-lock.js';
import { type OAuthState, type OpenedOAuthState, openAnyOAuthState, openOAuthState } from './oauth-state.js';
import { allowedReturnUrl, type ConnectOutcome, withOutcome } from '../core/return-url.js';
import type { SecretStore } from '../adapters/secrets.js';
import { zoomIdentityOf } from '../adapters/zoom-identity.js';

/** What Zoom sent back, as parsed at the edge. */
export interface ZoomCallback {
  state?: string | undefined;
  code?: string | undefined;
  error?: string | undefined;
  cookies?: readonly string[] | undefined;
}

export interface CallbackDeps {
  /** Where used states and connect links are recorded: the single-use guarantee. */
  consumedStates: Pick<ConsumedStateRepository, 'consume' | 'consumeWithLink'>;
  /** Checked again at the callback: an attempt whose return URL was taken off the list since goes nowhere. */
  returnUrlAllowlist: readonly string[];
  /**
   * Where a Zoom Marketplace install (a code and no state) is sent with `zoom_connect=install`, allow-listed;
   * without it such a callback gets the 400 page.
   */
  installLandingUrl?: string | undefined;
  /**
   * The state keys, current first, with the store's one retry on keys read again for a cookie none of the cached
   * ones opens; and the Zoom client id, read only for a re-authorize (the happy path does not need it).
   */
  secrets: Pick<SecretStore, 'stateKeys' | 'withStateKeys' | 'zoomClientId'>;
  /**
   * The records. Each status write carries its lifecycle event in the same write (the outbox); the outbox
   * publisher puts it on the bus and moves the identity's other records, so this flow never calls EventBridge.
   */
  connections: Pick<ConnectionRepository, 'recordConnected' | 'recordUnhealthy' | 'listByZoomIdentity'> & StatusWriter;
  recall: CredentialStore;
  /** Serializes conflict resolution per Zoom identity (`LOCK#<identity>` in the table). */
  lock: IdentityLock;
  authorization: Omit<AuthorizationSettings, 'zoomClientId' | 'stateKey'>;
  oauthAppId: string;
  /** Absolute deadline (epoch ms) for everything this callback does with Recall. */
  deadlineMs: number;
  now: () => number;
  log: CallbackLog;
  /** Told of each conflicting credential set the connect module resolved (for metrics). */
  onConflictResolved?: (info: { key: 'account_id' | 'user_id'; deleted: number; adopted: boolean; foundBy: 'records' | 'list' }) => void;
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
  /** The attempt's correlation id, from its state (absent for a Marketplace install, which has no attempt). */
  correlationId?: string;
}

/** What the user sees when no attempt of theirs can be found: nothing here says which of the causes it was. */
const UNUSABLE_STATE =
  'This Zoom sign-in has already been used, has expired, or was opened in another browser. Please start again from the app in the browser you began in.';
const INCOMPLETE = 'This Zoom sign-in link is incomplete. Please start again from the app.';
/** A Marketplace install with nowhere configured to send it. */
const INSTALL_WITHOUT_LANDING =
  'Zoom sent this sign-in without a connect attempt (an install from the Zoom App Marketplace). Please connect Zoom from the app you use it with.';

/**
 * Completes one connect attempt: opens the attempt sealed in this browser's cookie, uses its state once, exchanges
 * the code through the connect module, records the connection, and says where the browser goes next. Throws
 * `RequestError` only when there is no trustworthy return URL (no cookie for this state, one that does not open,
 * or a state already used); every later failure becomes a `zoom_connect=error&reason=` redirect.
 */
export async function completeZoomConnect(callback: ZoomCallback, deps: CallbackDeps): Promise<CallbackRedirect> {
  if (!callback.state) return withoutState(callback, deps);
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
  // The allow-list may have changed since the attempt began: a return URL taken off it is no longer trusted.
  if (!allowedReturnUrl(state.returnTo, deps.returnUrlAllowlist)) {
    deps.log.warn('Callback whose sealed return URL is no longer on the allow-list', { problem: 'return_to_not_allowed' });
    throw new RequestError(400, UNUSABLE_STATE);
  }
  const cookies = [clearedBindingCookie(stateId, bindingCookiePath(deps.authorization.zoomRedirectUri))];
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
  // Recall. An attempt that will reach Recall uses up its connect link in the same write (one link, one
  // connection), unless it is a re-authorize this service started: that continues the link's one use.
  const link = callback.code && state.reauthCount === 0 ? state.link : undefined;
  const consumed = link
    ? await deps.consumedStates.consumeWithLink(stateId, state.expiresAt, link)
    : (await deps.consumedStates.consume(stateId, state.expiresAt))
      ? 'consumed'
      : 'state_used';
  if (consumed === 'state_used') {
    deps.log.warn('Callback with an unknown or already used state', { problem: 'already_used' });
    throw new RequestError(400, UNUSABLE_STATE);
  }
  deps.log.correlate(correlationId);
  if (consumed === 'link_used') {
    deps.log.warn('Connect link already completed a connection', { reason: 'link_used' });
    return fail('link_used');
  }
  if (!callback.code) {
    deps.log.info('User did not authorize at Zoom', { zoomError: callback.error?.slice(0, 64) ?? 'no code' });
    return { location: withOutcome(state.returnTo, { zoom_connect: 'denied' }), cookies, outcome: 'denied', correlationId };
  }

  let result: ExchangeResult;
  try {
    result = await exchangeCodeForCredential(
      {
        oauthApp: deps.oauthAppId,
        attemptId: stateId,
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
        recordedCredentialsOf: async (zoomIdentity) =>
          (await deps.connections.listByZoomIdentity(zoomIdentity)).map((record) => record.recallCredentialId),
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
      const [stateKey] = await deps.secrets.stateKeys();
      const next = await beginZoomAuthorization(
        { userId: state.userId, returnTo: state.returnTo, correlationId, reauthCount: 1, ...(state.link ? { link: state.link } : {}) },
        { ...deps.authorization, zoomClientId: await deps.secrets.zoomClientId(), stateKey },
        deps.now(),
      );
      return { location: next.location, cookies: [...cookies, next.cookie], outcome: 'reauthorize', correlationId };
    } catch (error) {
      return fail(logFailure(error, deps.log));
    }
  }

  if (result.credential.status === 'unhealthy') {
    // Recall returned a credential whose Zoom tokens it cannot use: recorded as what it is, never as connected. Its
    // `unhealthy` event rides on the same write (the outbox), like every other transition's.
    try {
      const now = new Date(deps.now()).toISOString();
      await deps.connections.recordUnhealthy(state.userId, result.credential, deps.oauthAppId, now, state.startedAtMs, correlationId);
      deps.log.warn('Recall returned the credential as unhealthy', { recallCredentialId: result.credential.id, reason: 'credential_unhealthy' });
      return fail('credential_unhealthy');
    } catch (error) {
      return fail(logFailure(error, deps.log));
    } finally {
      await result.lease?.release().catch(() => undefined);
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
  if (!(reason === 'misconfigured' && logMisconfiguration(error, log))) log.error('Connect attempt failed', { reason, error });
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
  state: Pick<OAuthState, 'userId' | 'correlationId' | 'startedAtMs'>,
  result: Extract<ExchangeResult, { outcome: 'connected' }>,
  deps: CallbackDeps,
): Promise<boolean> {
  const now = new Date(deps.now()).toISOString();
  // The attempt's start (ms, sealed in it) orders a user's attempts: of two begun in the same second, the newer wins.
  const recorded = await deps.connections.recordConnected(
    state.userId,
    result.credential,
    deps.oauthAppId,
    now,
    state.startedAtMs,
    state.correlationId,
  );
  // A superseded attempt's credential is left alone: another user of the identity may be recording it this moment;
  // if nobody does, reconcile finds it as an orphan once it is old enough.
  return recorded.status === 'recorded';
}

/**
 * A callback without a state: Zoom's decline (`error`, perhaps without `state`: Zoom's format is undocumented) or
 * an install started from the Zoom Marketplace (a `code` and no state). A state-less code is never exchanged:
 * nothing binds it to a product user, and it has no PKCE. Recall is not called either way.
 */
async function withoutState(callback: ZoomCallback, deps: CallbackDeps): Promise<CallbackRedirect> {
  if (callback.code) {
    if (!deps.installLandingUrl) {
      deps.log.info('Callback with a code and no state (a Marketplace install) and no install landing URL', { problem: 'install_without_landing' });
      throw new RequestError(400, INSTALL_WITHOUT_LANDING);
    }
    deps.log.info('Sent a Marketplace install to the install landing page', { outcome: 'install' });
    return { location: withOutcome(deps.installLandingUrl, { zoom_connect: 'install' }), cookies: [], outcome: 'install' };
  }
  if (!callback.error) throw new RequestError(400, INCOMPLETE);
  // A decline is only attributable when this browser has exactly one attempt under way.
  const now = Math.floor(deps.now() / 1000);
  const keys = await deps.secrets.stateKeys();
  const live: OAuthState[] = [];
  for (const { name, value } of bindingCookies(callback.cookies)) {
    const state = await openAnyOAuthState(value, keys);
    if (state && bindingCookieName(state.stateId) === name && state.expiresAt > now) live.push(state);
  }
  const [state] = live;
  if (live.length !== 1 || !state || !allowedReturnUrl(state.returnTo, deps.returnUrlAllowlist)) {
    deps.log.warn('Zoom declined without a state, and the browser holds no single attempt', { attempts: live.length });
    throw new RequestError(400, INCOMPLETE);
  }
  // Used up like any other state, so that the attempt cannot also be completed afterwards.
  if (!(await deps.consumedStates.consume(state.stateId, state.expiresAt))) {
    deps.log.warn('Callback with an unknown or already used state', { problem: 'already_used' });
    throw new RequestError(400, UNUSABLE_STATE);
  }
  deps.log.correlate(state.correlationId);
  deps.log.info('User did not authorize at Zoom', { zoomError: callback.error.slice(0, 64), state: 'absent' });
  return {
    location: withOutcome(state.returnTo, { zoom_connect: 'denied' }),
    cookies: [clearedBindingCookie(state.stateId, bindingCookiePath(deps.authorization.zoomRedirectUri))],
    outcome: 'denied',
    correlationId: state.correlationId,
  };
}

/**
 * Opens the cookie with the cached keys; when none opens it (it may be sealed with a key rotated in after they were
 * read), once more with keys read again, as `SecretStore.withStateKeys` bounds it.
 */
function openAttempt(sealed: string, stateId: string, deps: CallbackDeps): Promise<OpenedOAuthState> {
  return deps.secrets.withStateKeys(
    (keys) => openOAuthState(sealed, stateId, keys),
    (outcome) => outcome.ok && outcome.value.status === 'unreadable',
  );
}

function reasonOf(error: unknown): OutcomeReason {
  if (error instanceof ConnectError) return error.reason;
  if (error instanceof MisconfiguredError) return 'misconfigured';
  return 'internal';
}
