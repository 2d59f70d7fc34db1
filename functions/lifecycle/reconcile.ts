import type { Connection, ConnectionRepository, ConnectionStatus } from '../adapters/connection-repository.js';
import { RELYING } from '../connect/credential-sharing.js';
import type { IdentityLock } from '../adapters/identity-lock.js';
import { type RecallClient, type RecallCredential, signalUntil } from '../adapters/recall-client.js';
import { zoomIdentityOf } from '../adapters/zoom-identity.js';

/**
 * Reconcile: holds Recall and the table to invariant 4 after the fact. One run lists the OAuth app's live credentials
 * at Recall once, reads the records that rely on a credential (`connected` and `unhealthy`, by the status index),
 * and compares:
 * - an **orphan** is a live credential no relying record points at, older than the grace period (a younger one may
 *   belong to a callback still running). Fix: under the identity lock, and only if still no record needs it, delete
 *   it at Recall.
 * - a **dangling record** is a relying record whose credential Recall no longer has (confirmed by retrieving it).
 *   Fix: under the identity lock, move it to the identity's one live credential when there is exactly one; else
 *   mark a `connected` one `unhealthy` (the user must connect again), so no `connected` record stays on a deleted
 *   credential.
 * It also reports identities with more than one live credential (Recall keeps one per identity and OAuth app, so
 * a human should look) and records of another OAuth app (ignored).
 *
 * Recall's list endpoint allows 60 calls a minute per workspace, shared with the callbacks: a run lists once (the
 * client follows `next`, and is expected to pace its pages, see `RECONCILE_LISTS_PER_MINUTE`), and every other
 * call is a retrieve or a delete (300 a minute). Nothing here waits for the list budget while holding a lock.
 */

/** List calls per minute a reconcile process makes at most: half of Recall's 60, so live callbacks keep headroom. */
export const RECONCILE_LISTS_PER_MINUTE = 30;

/** A record changed this close to the listing may reflect a connect the listing did not see yet (clock skew). */
export const LISTING_SKEW_MS = 60_000;

/** Longest hold of one identity's lock: a callback that waits for it still ends inside its own deadline. */
export const LOCK_HOLD_MS = 10_000;
/** Longest wait for a busy identity's lock (a callback holds it): the rest of the hold is left for the work. */
export const LOCK_WAIT_MS = 3_000;

/** Credential retrieves per run, at most, to confirm dangling records; the rest wait for the next run. */
export const DEFAULT_MAX_RETRIEVES = 100;

export interface ReconcileLog {
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}

export interface ReconcileDeps {
  recall: Pick<RecallClient, 'listCredentials' | 'getCredential' | 'deleteCredential'>;
  connections: Pick<ConnectionRepository, 'listByStatus' | 'listByZoomIdentity' | 'repoint' | 'setStatus'>;
  lock: IdentityLock;
  oauthAppId: string;
  /** Repair what is found; without it the run only reports and changes nothing. */
  fix: boolean;
  now: () => number;
  /** A live credential younger than this is never an orphan. */
  orphanGraceMs: number;
  /** Absolute deadline (epoch ms): work not started by then is reported as deferred or skipped. */
  deadlineMs: number;
  /** @default DEFAULT_MAX_RETRIEVES */
  maxRetrieves?: number;
  log: ReconcileLog;
}

export interface OrphanCredential {
  recallCredentialId: string;
  zoomIdentity: string;
  /** As Recall reports it; `null` when it reports none (such a credential counts as old). */
  createdAt: string | null;
}

export interface DanglingRecord {
  userId: string;
  status: ConnectionStatus;
  /** The credential Recall no longer has. */
  recallCredentialId: string;
  zoomIdentity: string | null;
  /** What a fix does, as the listing stands: move it to `repointTo`, or mark it `unhealthy`. */
  repair: 'repoint' | 'mark_unhealthy';
  repointTo?: string;
}

export interface DuplicateIdentity {
  zoomIdentity: string;
  recallCredentialIds: string[];
}

export type SkipReason =
  /** Another holder (a callback, most likely) kept the identity's lock. */
  | 'lock_busy'
  /** Under the lock, a relying record points at the credential after all. */
  | 'in_use'
  /** Under the lock, a record of the identity is on a credential Recall no longer lists: it may belong here. */
  | 'awaits_repoint'
  /** The record no longer points at the credential, or changed status: something else repaired it. */
  | 'changed_meanwhile'
  /** An `unhealthy` record whose repoint target is gone too: it waits for the user to connect again. */
  | 'no_live_credential'
  /** The run's deadline came first; the next run tries again. */
  | 'out_of_time';

export type ReconcileAction =
  | { kind: 'deleted'; recallCredentialId: string; zoomIdentity: string }
  | { kind: 'repointed'; userId: string; fromCredentialId: string; toCredentialId: string }
  | { kind: 'marked_unhealthy'; userId: string; recallCredentialId: string }
  | { kind: 'skipped'; userId?: string; recallCredentialId: string; reason: SkipReason };

export interface ReconcileFailure {
  /** `check`: the finding could not be confirmed; `repair`: it was found but not repaired. */
  stage: 'check' | 'repair';
  userId?: string;
  recallCredentialId: string;
  /** The error's name and message (Recall errors carry no key or code). */
  error: string;
}

/** What one run found and, with `fix`, did. Ids only: user ids, credential ids, Zoom identities. */
export interface ReconcileReport {
  fix: boolean;
  oauthAppId: string;
  /** When the listing of Recall's credentials started (ISO). */
  listedAt: string;
  liveCredentials: number;
  relyingRecords: number;
  orphans: OrphanCredential[];
  danglingRecords: DanglingRecord[];
  duplicateIdentities: DuplicateIdentity[];
  /** Relying records of another OAuth app: not this app's credentials, left alone. */
  otherAppRecords: { userId: string; oauthAppId: string }[];
  /** `unhealthy` records whose credential is gone with nothing to move them to: the user has to connect again. */
  awaitingReconnect: string[];
  /** Left for a later run: credentials inside the grace period, records changed since shortly before the listing. */
  notYetChecked: { youngCredentials: string[]; recentRecords: string[] };
  actions: ReconcileAction[];
  failures: ReconcileFailure[];
  /** Suspected dangling records not confirmed this run (the retrieve bound or the deadline came first). */
  deferred: number;
  /** Findings that need repair or a human, plus what could not be checked: 0 means clean. */
  problems: number;
  /** What remains of `problems` after this run: equal to it without `fix`. */
  unresolved: number;
}

interface Suspect {
  record: Connection;
  repair: DanglingRecord['repair'];
  target?: RecallCredential;
}

/**
 * Runs one reconcile. A failure with one credential or record is reported and counted, never thrown; only a
 * failure to read the inputs at all (Recall's listing, the records) fails the run.
 */
export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const listedAtMs = deps.now();
  const listed = await deps.recall.listCredentials(
    { oauth_app: deps.oauthAppId },
    signalUntil(deps.deadlineMs, listedAtMs),
  );
  // Listed after the credentials: a record written after the listing started is then never judged by it alone.
  const records = (await Promise.all([...RELYING].map((status) => deps.connections.listByStatus(status)))).flat();

  const live = listed.filter((credential) => (credential.oauth_app ?? deps.oauthAppId) === deps.oauthAppId);
  const liveIds = new Set(live.map((credential) => credential.id));
  const liveByIdentity = groupBy(live, zoomIdentityOf);
  const ours = records.filter((record) => record.oauthAppId === deps.oauthAppId);

  const report: ReconcileReport = {
    fix: deps.fix,
    oauthAppId: deps.oauthAppId,
    listedAt: new Date(listedAtMs).toISOString(),
    liveCredentials: live.length,
    relyingRecords: records.length,
    orphans: [],
    danglingRecords: [],
    duplicateIdentities: [...liveByIdentity]
      .filter(([, credentials]) => credentials.length > 1)
      .map(([zoomIdentity, credentials]) => ({ zoomIdentity, recallCredentialIds: credentials.map(({ id }) => id) })),
    otherAppRecords: records
      .filter((record) => record.oauthAppId !== deps.oauthAppId)
      .map(({ userId, oauthAppId }) => ({ userId, oauthAppId })),
    awaitingReconnect: [],
    notYetChecked: { youngCredentials: [], recentRecords: [] },
    actions: [],
    failures: [],
    deferred: 0,
    problems: 0,
    unresolved: 0,
  };

  const suspects: Suspect[] = [];
  for (const record of ours) {
    if (liveIds.has(record.recallCredentialId)) continue;
    if (!(Date.parse(record.updatedAt) < listedAtMs - LISTING_SKEW_MS)) {
      report.notYetChecked.recentRecords.push(record.userId);
      continue;
    }
    const candidates = record.zoomIdentity ? (liveByIdentity.get(record.zoomIdentity) ?? []) : [];
    const [only] = candidates;
    if (candidates.length === 1 && only) suspects.push({ record, repair: 'repoint', target: only });
    else if (record.status === 'connected') suspects.push({ record, repair: 'mark_unhealthy' });
    else report.awaitingReconnect.push(record.userId);
  }
  report.danglingRecords = await confirmDangling(suspects, deps, report);

  // An identity with a record on a credential Recall no longer lists may need its live credential (that record's
  // repoint target): never an orphan while so.
  const awaitingRepoint = identitiesAwaitingRepoint(ours, liveIds);
  const referenced = new Set(records.map((record) => record.recallCredentialId));
  for (const credential of live) {
    const zoomIdentity = zoomIdentityOf(credential);
    if (referenced.has(credential.id) || awaitingRepoint.has(zoomIdentity)) continue;
    const createdAt = Date.parse(credential.created_at ?? '');
    if (createdAt > listedAtMs - deps.orphanGraceMs) {
      report.notYetChecked.youngCredentials.push(credential.id);
      continue;
    }
    report.orphans.push({ recallCredentialId: credential.id, zoomIdentity, createdAt: credential.created_at ?? null });
  }

  if (deps.fix) {
    // Records first: moving a record onto its identity's live credential is what keeps that credential from being
    // an orphan.
    for (const [zoomIdentity, group] of groupBy(report.danglingRecords, (record) => record.zoomIdentity)) {
      await repairIdentity(zoomIdentity, group, deps, report);
    }
    for (const orphan of report.orphans) await deleteOrphan(orphan, liveIds, deps, report);
  }

  const checkFailures = report.failures.filter((failure) => failure.stage === 'check').length;
  report.problems =
    report.orphans.length +
    report.danglingRecords.length +
    report.duplicateIdentities.length +
    checkFailures +
    report.deferred;
  report.unresolved = deps.fix ? unresolvedAfterFix(report, checkFailures) : report.problems;
  return report;
}

/**
 * Retrieves each suspected credential once (several users may share it): only a credential Recall answers 404 for
 * makes its records dangling. One it still has was created after the listing, or the listing was cut short.
 */
async function confirmDangling(suspects: Suspect[], deps: ReconcileDeps, report: ReconcileReport): Promise<DanglingRecord[]> {
  const dangling: DanglingRecord[] = [];
  const maxRetrieves = deps.maxRetrieves ?? DEFAULT_MAX_RETRIEVES;
  let retrieves = 0;
  for (const [credentialId, group] of groupBy(suspects, (suspect) => suspect.record.recallCredentialId)) {
    if (retrieves >= maxRetrieves || deps.now() >= deps.deadlineMs) {
      report.deferred += group.length;
      continue;
    }
    retrieves++;
    try {
      if (await deps.recall.getCredential(credentialId, signalUntil(deps.deadlineMs, deps.now()))) continue;
    } catch (error) {
      for (const { record } of group) fail(report, deps, 'check', error, credentialId, record.userId);
      continue;
    }
    for (const { record, repair, target } of group) {
      dangling.push({
        userId: record.userId,
        status: record.status,
        recallCredentialId: record.recallCredentialId,
        zoomIdentity: record.zoomIdentity,
        repair,
        ...(target ? { repointTo: target.id } : {}),
      });
    }
  }
  return dangling;
}

/**
 * Repairs the dangling records of one Zoom identity under its lock. The repoint target comes from the listing and is
 * retrieved again under the lock; each write is conditional on the record still pointing at the gone credential.
 * A record without an identity (its Zoom data removed) can only be marked, which needs no lock.
 */
async function repairIdentity(
  zoomIdentity: string | null,
  records: DanglingRecord[],
  deps: ReconcileDeps,
  report: ReconcileReport,
): Promise<void> {
  const skipAll = (reason: SkipReason) => {
    for (const { userId, recallCredentialId } of records) report.actions.push({ kind: 'skipped', userId, recallCredentialId, reason });
  };
  if (deps.now() >= deps.deadlineMs) return skipAll('out_of_time');
  const repair = async (signal?: AbortSignal) => {
    const targetId = records[0]?.repointTo;
    const target = targetId ? await deps.recall.getCredential(targetId, signal) : undefined;
    const now = new Date(deps.now()).toISOString();
    for (const record of records) {
      const { userId, recallCredentialId } = record;
      try {
        if (target) {
          const moved = await deps.connections.repoint(userId, recallCredentialId, target, now);
          report.actions.push(
            moved
              ? { kind: 'repointed', userId, fromCredentialId: recallCredentialId, toCredentialId: target.id }
              : { kind: 'skipped', userId, recallCredentialId, reason: 'changed_meanwhile' },
          );
        } else if (record.status === 'connected') {
          const marked = await deps.connections.setStatus(userId, 'unhealthy', recallCredentialId, now, ['connected']);
          report.actions.push(
            marked
              ? { kind: 'marked_unhealthy', userId, recallCredentialId }
              : { kind: 'skipped', userId, recallCredentialId, reason: 'changed_meanwhile' },
          );
        } else {
          report.actions.push({ kind: 'skipped', userId, recallCredentialId, reason: 'no_live_credential' });
        }
      } catch (error) {
        fail(report, deps, 'repair', error, recallCredentialId, userId);
      }
    }
  };
  try {
    if (zoomIdentity === null) await repair();
    else if (!(await underLock(zoomIdentity, deps, repair))) skipAll('lock_busy');
  } catch (error) {
    // The lock or the target's retrieve failed: none of the identity's records was touched.
    for (const { userId, recallCredentialId } of records) fail(report, deps, 'repair', error, recallCredentialId, userId);
  }
}

/**
 * Deletes an orphan under its identity's lock, once the identity's records, read again under the lock, show that
 * none relies on it and none is waiting to be moved onto it.
 */
async function deleteOrphan(
  orphan: OrphanCredential,
  liveIds: ReadonlySet<string>,
  deps: ReconcileDeps,
  report: ReconcileReport,
): Promise<void> {
  const { recallCredentialId, zoomIdentity } = orphan;
  const skip = (reason: SkipReason): void => {
    report.actions.push({ kind: 'skipped', recallCredentialId, reason });
  };
  if (deps.now() >= deps.deadlineMs) return skip('out_of_time');
  try {
    const held = await underLock(zoomIdentity, deps, async (signal) => {
      const records = (await deps.connections.listByZoomIdentity(zoomIdentity)).filter((record) => RELYING.has(record.status));
      if (records.some((record) => record.recallCredentialId === recallCredentialId)) return skip('in_use');
      if (identitiesAwaitingRepoint(records.filter((record) => record.oauthAppId === deps.oauthAppId), liveIds).size > 0) {
        return skip('awaits_repoint');
      }
      await deps.recall.deleteCredential(recallCredentialId, signal);
      report.actions.push({ kind: 'deleted', recallCredentialId, zoomIdentity });
    });
    if (!held) skip('lock_busy');
  } catch (error) {
    fail(report, deps, 'repair', error, recallCredentialId);
  }
}

/**
 * Runs `work` holding the identity's lock, waiting for it at most `LOCK_WAIT_MS` and holding it at most
 * `LOCK_HOLD_MS` from the start; Recall calls made with the signal it is given end by then, before the lease does.
 * The lock is released however `work` ends.
 * @returns false when the lock could not be taken in time (nothing was done)
 */
async function underLock(
  zoomIdentity: string,
  deps: ReconcileDeps,
  work: (signal: AbortSignal) => Promise<unknown>,
): Promise<boolean> {
  const startedAt = deps.now();
  const deadlineMs = Math.min(deps.deadlineMs, startedAt + LOCK_HOLD_MS);
  const lease = await deps.lock.acquire(zoomIdentity, { deadlineMs, waitUntilMs: startedAt + LOCK_WAIT_MS });
  if (!lease) return false;
  try {
    await work(signalUntil(deadlineMs, deps.now()));
  } finally {
    // A release that fails must not hide what `work` did or threw: the lease runs out on its own.
    await lease.release().catch((error: unknown) => deps.log.warn('Reconcile could not release an identity lock', { zoomIdentity, error }));
  }
  return true;
}

/** The identities of records whose credential is not among `liveIds`. */
function identitiesAwaitingRepoint(records: readonly Connection[], liveIds: ReadonlySet<string>): Set<string> {
  return new Set(
    records.flatMap((record) => (record.zoomIdentity && !liveIds.has(record.recallCredentialId) ? [record.zoomIdentity] : [])),
  );
}

/** Skips that leave nothing to repair: another writer settled it, or the record now just waits for its user. */
const SETTLED: ReadonlySet<SkipReason> = new Set(['in_use', 'changed_meanwhile', 'no_live_credential']);

/** Every finding ends in exactly one action or one repair failure; what is neither repaired nor settled remains. */
function unresolvedAfterFix(report: ReconcileReport, checkFailures: number): number {
  const deleted = new Set(report.actions.flatMap((action) => (action.kind === 'deleted' ? [action.recallCredentialId] : [])));
  const left = report.actions.filter((action) => action.kind === 'skipped' && !SETTLED.has(action.reason)).length;
  const repairFailures = report.failures.length - checkFailures;
  const duplicatesLeft = report.duplicateIdentities.filter(
    ({ recallCredentialIds }) => recallCredentialIds.filter((id) => !deleted.has(id)).length > 1,
  ).length;
  return left + repairFailures + duplicatesLeft + checkFailures + report.deferred;
}

/** Repairs done by this run: credentials deleted, records repointed or marked. */
export const repairedCount = (report: Pick<ReconcileReport, 'actions'>): number =>
  report.actions.filter((action) => action.kind !== 'skipped').length;

/** The report as one log line's fields: counts, and the ids of what was found (at most 50 of each). */
export function reconcileSummary(report: ReconcileReport): Record<string, unknown> {
  const first = <T>(items: readonly T[]) => items.slice(0, 50);
  return {
    fix: report.fix,
    listedAt: report.listedAt,
    liveCredentials: report.liveCredentials,
    relyingRecords: report.relyingRecords,
    orphans: first(report.orphans.map((orphan) => orphan.recallCredentialId)),
    danglingRecords: first(report.danglingRecords.map((record) => record.userId)),
    duplicateIdentities: report.duplicateIdentities.length,
    otherAppRecords: report.otherAppRecords.length,
    awaitingReconnect: report.awaitingReconnect.length,
    youngCredentials: report.notYetChecked.youngCredentials.length,
    recentRecords: report.notYetChecked.recentRecords.length,
    repaired: repairedCount(report),
    skipped: report.actions.length - repairedCount(report),
    failures: report.failures.length,
    deferred: report.deferred,
    problems: report.problems,
    unresolved: report.unresolved,
  };
}

function fail(
  report: ReconcileReport,
  deps: ReconcileDeps,
  stage: ReconcileFailure['stage'],
  error: unknown,
  recallCredentialId: string,
  userId?: string,
): void {
  const subject = { recallCredentialId, ...(userId === undefined ? {} : { userId }) };
  const description = error instanceof Error ? `${error.name}: ${error.message}` : 'Error';
  report.failures.push({ stage, ...subject, error: description.slice(0, 300) });
  deps.log.error(stage === 'check' ? 'Reconcile could not check a credential' : 'Reconcile could not repair', {
    ...subject,
    error,
  });
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}
