import { createHash } from 'node:crypto';
import {
  ConnectError,
  MisconfiguredError,
  RecallOutcomeUnknownError,
  RecallRejectedError,
  RecallUnavailableError,
} from '../core/errors.js';
import type { IdentityLease, IdentityLock } from '../adapters/identity-lock.js';
import { type RecallClient, type RecallCredential, signalUntil, type ZoomIdentityFilter } from '../adapters/recall-client.js';
import { zoomIdentityOfConflict } from '../adapters/zoom-identity.js';

/**
 * The connect module: turns a one-time Zoom code into exactly one live Recall credential for that Zoom identity,
 * whatever Recall answers, however late, and whoever else is connecting the same identity at the same moment.
 * It knows Recall's rules and nothing of Lambda, HTTP or DynamoDB. The step order and why it is safe after a
 * crash between any two steps: docs/failure-handling.md.
 *
 * - Recall updates an existing credential in place when the same Zoom identity connects again (a 2xx carrying the
 *   existing id). Older behaviour, still in the API schema, answers 400 with `conflicting_zoom_account_id` or
 *   `conflicting_zoom_user_id`; then, holding the identity's lock, the old credential is found from the records
 *   (retrieved by id) or else by a filtered list (list allows 60 calls a minute), deleted by its Recall id (never by a Zoom id), and the create is tried again
 *   with the same code. A credential created in the last `FRESH_CREDENTIAL_MS` is adopted instead of deleted: it
 *   was made moments ago by another callback for the same identity, which may still be about to record it.
 * - Every create carries an `Idempotency-Key` derived from the attempt and its code (`createIdempotencyKey`): the
 *   same on every try of one exchange, so the client repeats a try whose answer was lost (a timeout, a dropped
 *   connection, a 5xx, a 409 while the first try still runs) and Recall answers with the first try's answer instead
 *   of performing it twice. A create after a conflict's delete is another request (the first one's answer was the
 *   conflict), so each conflict round has its own key.
 * - Only when those tries still give no usable answer before the deadline is the outcome unknown: the first try may
 *   have spent the one-time code and created a credential. The module then lists the OAuth app's credentials
 *   created since the attempt began. When none that no record knows exists, nothing was created and the create is
 *   tried once more (same key).
 *   When one does, whose it is cannot be proven from Recall's answers (adopting by time alone could give one
 *   customer another's Zoom account), so the user goes back to Zoom for a fresh code: Recall's one credential per
 *   identity then surfaces it (returned in place, or named by the conflict and adopted as fresh).
 * - A code Recall refuses after a conflict or an unknown outcome was most likely spent by that earlier attempt:
 *   the caller restarts at Zoom for a fresh one (once).
 */

export type CredentialStore = Pick<RecallClient, 'createCredential' | 'listCredentials' | 'deleteCredential' | 'getCredential'>;

export interface ExchangeInput {
  oauthApp: string;
  /** Names the attempt (the SHA-256 of its consumed state): with the code, it makes the create's idempotency key. */
  attemptId: string;
  code: string;
  /** Byte-identical to the one in the Zoom authorize URL. */
  redirectUri: string;
  codeVerifier: string;
  /** Everything this exchange does with Recall ends by then (epoch ms). */
  deadlineMs: number;
}

export interface ExchangeDeps {
  recall: CredentialStore;
  /** Serializes conflict resolution per Zoom identity. */
  lock: IdentityLock;
  /** Whether a connection record already points at this credential (then it is not the one a lost create made). */
  isRecorded: (credential: RecallCredential) => Promise<boolean>;
  /**
   * The credential ids the connection records know for a Zoom identity: a conflict is resolved from them first
   * (a retrieve each, 300 a minute at Recall), and only falls back to a filtered list (60 a minute per workspace)
   * when none of them still exists.
   */
  recordedCredentialsOf?: (zoomIdentity: string) => Promise<readonly string[]>;
  /**
   * Called holding the identity's lock, before its old credentials are deleted: the write-ahead step that keeps a
   * crash between the delete and the new record from leaving a `connected` record on a deleted credential.
   */
  beforeRetire?: (zoomIdentity: string, credentialIds: readonly string[]) => Promise<void>;
  now?: () => number;
  events?: ExchangeEvents;
}

export interface ExchangeEvents {
  onConflict?: (info: {
    key: 'account_id' | 'user_id';
    deleted: number;
    adopted: boolean;
    /** Where the conflicting credential was found: the records (by id) or a filtered list. */
    foundBy: 'records' | 'list';
  }) => void;
  onOutcomeUnknown?: (info: { unrecordedSinceAttempt: number }) => void;
}

export type ReauthorizeCause =
  /** Recall refused the code after a conflict: the attempt that found the conflict spent it. */
  | 'code_spent'
  /** A create's outcome is unknown and a credential no record knows was created meanwhile: it may be ours. */
  | 'outcome_unknown';

export type ExchangeResult =
  | {
      outcome: 'connected';
      credential: RecallCredential;
      replacedCredentialIds: string[];
      /** The credential was made by another callback moments ago (a conflict resolved by adopting it). */
      adopted: boolean;
      /** Held when a conflict was resolved: keep it while recording, then release it. */
      lease?: IdentityLease;
    }
  /** Send the user to Zoom for a fresh code. */
  | { outcome: 'reauthorize'; cause: ReauthorizeCause; replacedCredentialIds: string[]; zoomIdentity?: string };

/** Delete-and-recreate rounds before giving up. */
const MAX_CONFLICT_ROUNDS = 2;
/**
 * A credential younger than this may belong to a callback still running: the callback Lambda's timeout (25 s),
 * plus room for the clocks of Recall and of this service to disagree.
 */
export const FRESH_CREDENTIAL_MS = 60_000;
/** Recall's `created_at` and this service's clock may differ by this much; the unknown-outcome listing allows it. */
const CLOCK_SKEW_MS = 30_000;
/**
 * Time kept back from a create's deadline so that, when its outcome is unknown, there is still time to find out
 * (one list) and decide.
 */
const FIND_OUT_RESERVE_MS = 2_500;

/**
 * @throws ConnectError with a stable `reason` for every failure the user should see
 */
export async function exchangeCodeForCredential(input: ExchangeInput, deps: ExchangeDeps): Promise<ExchangeResult> {
  const now = deps.now ?? Date.now;
  const { recall } = deps;
  const replacedCredentialIds: string[] = [];
  let zoomIdentity: string | undefined;
  let lease: IdentityLease | undefined;
  /** Set once a create's outcome was unknown: the code may be spent, and a second unknown ends the attempt. */
  let outcomeWasUnknown = false;
  let conflictRounds = 0;
  const signal = () => signalUntil(input.deadlineMs, now());
  const reauthorize = (cause: ReauthorizeCause): ExchangeResult => ({
    outcome: 'reauthorize',
    cause,
    replacedCredentialIds,
    ...(zoomIdentity ? { zoomIdentity } : {}),
  });
  try {
    for (;;) {
      const attemptStartedAt = now();
      // A create that could not be followed by finding out its fate is not started at all.
      if (attemptStartedAt >= input.deadlineMs - FIND_OUT_RESERVE_MS) {
        throw new ConnectError('recall_unavailable', 'No time left before the deadline to create the credential safely.');
      }
      let created;
      try {
        created = await recall.createCredential(
          {
            oauthApp: input.oauthApp,
            code: input.code,
            redirectUri: input.redirectUri,
            codeVerifier: input.codeVerifier,
            idempotencyKey: createIdempotencyKey(input.attemptId, input.code, conflictRounds),
          },
          signalUntil(input.deadlineMs - FIND_OUT_RESERVE_MS, now()),
        );
      } catch (error) {
        if (!(error instanceof RecallOutcomeUnknownError) || outcomeWasUnknown) throw error;
        outcomeWasUnknown = true;
        const unrecorded = await unrecordedCredentialsSince(attemptStartedAt - CLOCK_SKEW_MS, input, deps, signal());
        deps.events?.onOutcomeUnknown?.({ unrecordedSinceAttempt: unrecorded.length });
        if (unrecorded.length > 0) {
          await releaseQuietly(lease);
          return reauthorize('outcome_unknown');
        }
        // Nothing new exists that nobody knows: the create did not create, so trying it again (with the same key)
        // spends nothing twice.
        continue;
      }
      if (created.kind === 'created') {
        return { outcome: 'connected', credential: created.credential, replacedCredentialIds, adopted: false, ...(lease ? { lease } : {}) };
      }
      if (created.kind === 'bad_request') {
        await releaseQuietly(lease);
        if (conflictRounds === 0 && !outcomeWasUnknown) {
          throw new ConnectError('code_rejected', `Recall rejected the authorization code: ${created.detail}`);
        }
        return reauthorize('code_spent');
      }
      if (conflictRounds >= MAX_CONFLICT_ROUNDS) {
        throw new ConnectError('conflict_unresolved', 'Recall kept reporting a conflicting credential.');
      }
      conflictRounds++;
      zoomIdentity = zoomIdentityOfConflict(created.conflict);
      // Waiting ends early enough to do the holder's work (a list, deletes, a create) after the wait; the lease
      // itself lasts past the deadline, over the record write and the move of the sharers.
      lease ??= await deps.lock.acquire(zoomIdentity, {
        deadlineMs: input.deadlineMs,
        waitUntilMs: input.deadlineMs - FIND_OUT_RESERVE_MS,
        signal: signal(),
      });
      if (!lease) {
        throw new ConnectError('conflict_unresolved', 'Another connect of this Zoom identity held its lock past the deadline.');
      }
      const key = 'user_id' in created.conflict ? 'user_id' : 'account_id';
      const { existing, foundBy } = await conflictingCredentials(created.conflict, zoomIdentity, input, deps, signal());
      const fresh = existing.find((credential) => isFresh(credential, now()));
      if (fresh) {
        deps.events?.onConflict?.({ key, deleted: 0, adopted: true, foundBy });
        return { outcome: 'connected', credential: fresh, replacedCredentialIds, adopted: true, lease };
      }
      const retiring = existing.map((credential) => credential.id);
      if (retiring.length > 0) await deps.beforeRetire?.(zoomIdentity, retiring);
      for (const id of retiring) await recall.deleteCredential(id, signal());
      replacedCredentialIds.push(...retiring);
      deps.events?.onConflict?.({ key, deleted: retiring.length, adopted: false, foundBy });
    }
  } catch (error) {
    await releaseQuietly(lease);
    throw asConnectError(error);
  }
}

/** A lease that cannot be given back runs out by itself: that is no reason to change the user's outcome. */
const releaseQuietly = (lease: IdentityLease | undefined): Promise<void> =>
  lease ? lease.release().catch(() => undefined) : Promise.resolve();

/**
 * The `Idempotency-Key` of one exchange's create: a digest of the attempt and its code (never the code itself), so
 * every try of the exchange sends the same key and a fresh code after a re-authorize (a new attempt) another one.
 * `round` counts the conflicts resolved so far: the create after a delete is a new request, whose answer must not
 * be the replayed conflict.
 */
export function createIdempotencyKey(attemptId: string, code: string, round: number): string {
  const digest = createHash('sha256').update(`recall-zoom-connect/create/v1\n${attemptId}\n${code}`).digest('base64url');
  return round === 0 ? digest : `${digest}.${round}`;
}

/**
 * The conflicting credentials of one Zoom identity: the ones the records know, retrieved by id (they must still
 * exist and still belong to the identity); when none does, a filtered list. The list is the fallback because
 * Recall allows 60 of them a minute per workspace, and a burst of reconnects would spend that in seconds.
 */
async function conflictingCredentials(
  conflict: ZoomIdentityFilter,
  zoomIdentity: string,
  input: ExchangeInput,
  deps: ExchangeDeps,
  signal: AbortSignal,
): Promise<{ existing: RecallCredential[]; foundBy: 'records' | 'list' }> {
  const known = deps.recordedCredentialsOf ? await deps.recordedCredentialsOf(zoomIdentity) : [];
  const existing: RecallCredential[] = [];
  for (const id of new Set(known)) {
    const credential = await deps.recall.getCredential(id, signal);
    if (credential && belongsTo(credential, conflict, input)) existing.push(credential);
  }
  if (existing.length > 0) return { existing, foundBy: 'records' };
  return { existing: await credentialsOf(conflict, input, deps.recall, signal), foundBy: 'list' };
}

/** Trust but verify: never touch a credential of another Zoom identity or OAuth app. */
const belongsTo = (credential: RecallCredential, conflict: ZoomIdentityFilter, input: ExchangeInput): boolean =>
  (credential.oauth_app === undefined || credential.oauth_app === input.oauthApp) &&
  ('user_id' in conflict ? credential.user_id === conflict.user_id : credential.account_id === conflict.account_id);

/** The credentials of one Zoom identity in this OAuth app, by a filtered list (never a scan). */
async function credentialsOf(
  conflict: ZoomIdentityFilter,
  input: ExchangeInput,
  recall: CredentialStore,
  signal: AbortSignal,
): Promise<RecallCredential[]> {
  const listed = await recall.listCredentials({ oauth_app: input.oauthApp, ...conflict }, signal);
  return listed.filter((credential) => belongsTo(credential, conflict, input));
}

/** Credentials of the OAuth app created since `sinceMs` that no connection record points at. */
async function unrecordedCredentialsSince(
  sinceMs: number,
  input: ExchangeInput,
  deps: ExchangeDeps,
  signal: AbortSignal,
): Promise<RecallCredential[]> {
  const listed = await deps.recall.listCredentials(
    { oauth_app: input.oauthApp, created_at_after: new Date(sinceMs).toISOString() },
    signal,
  );
  const unrecorded: RecallCredential[] = [];
  for (const credential of listed) {
    if (credential.oauth_app !== undefined && credential.oauth_app !== input.oauthApp) continue;
    if (!(await deps.isRecorded(credential))) unrecorded.push(credential);
  }
  return unrecorded;
}

/** Made moments ago (and not known to be broken): another callback's credential, to adopt rather than delete. */
function isFresh(credential: RecallCredential, nowMs: number): boolean {
  return credential.status !== 'unhealthy' && ageMs(credential, nowMs) < FRESH_CREDENTIAL_MS;
}

/** Age by Recall's `created_at`; 0 when it is missing or unreadable. */
function ageMs(credential: RecallCredential, nowMs: number): number {
  const createdAt = credential.created_at ? Date.parse(credential.created_at) : Number.NaN;
  return Number.isNaN(createdAt) ? 0 : nowMs - createdAt;
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
