import { describe, expect, it, vi } from 'vitest';
import { type CredentialStore, exchangeCodeForCredential, type ExchangeInput } from '../../../functions/shared/connect.js';
import {
  ConnectError,
  MisconfiguredError,
  RecallRejectedError,
  RecallUnavailableError,
} from '../../../functions/shared/errors.js';
import type {
  CreateCredentialInput,
  CreateCredentialResult,
  ListCredentialsFilter,
  RecallCredential,
} from '../../../functions/shared/recall-client.js';

const OAUTH_APP = '2d40abfe-c692-4723-b26f-869ebfbde4cf';
const INPUT: ExchangeInput = {
  oauthApp: OAUTH_APP,
  code: 'one-time-code-abc',
  redirectUri: 'https://connect.example.com/zoom/callback',
  codeVerifier: 'pkce-verifier-0123456789abcdefghijklmnopqrstuvwxyz',
};
const ZOOM_USER = 'zoom-user-Xy12';
const ZOOM_ACCOUNT = 'zoom-account-Ab34';
const OLD_ID = 'a1b2c3d4-0000-4000-8000-000000000001';
const NEW_ID = 'a1b2c3d4-0000-4000-8000-000000000002';

type CreateStep = CreateCredentialResult | Error;

/** An in-memory Recall: scripted create answers, a credential list, and a record of every call. */
class FakeCredentialStore implements CredentialStore {
  readonly creates: CreateCredentialInput[] = [];
  readonly lists: ListCredentialsFilter[] = [];
  readonly deletes: string[] = [];
  readonly signals: (AbortSignal | undefined)[] = [];
  listError: Error | undefined;
  deleteError: Error | undefined;

  constructor(
    private readonly createSteps: CreateStep[],
    /** What Recall holds; list filters it the way Recall would, unless `listAnswers` overrides it. */
    private readonly existing: RecallCredential[] = [],
    private readonly listAnswers?: RecallCredential[][],
  ) {}

  async createCredential(input: CreateCredentialInput, signal?: AbortSignal): Promise<CreateCredentialResult> {
    this.creates.push(input);
    this.signals.push(signal);
    const step = this.createSteps.shift();
    if (!step) throw new Error('create called more often than scripted');
    if (step instanceof Error) throw step;
    return step;
  }

  async listCredentials(filter: ListCredentialsFilter, signal?: AbortSignal): Promise<RecallCredential[]> {
    this.lists.push(filter);
    this.signals.push(signal);
    if (this.listError) throw this.listError;
    if (this.listAnswers) return this.listAnswers.shift() ?? [];
    return this.existing.filter(
      (c) =>
        c.oauth_app === filter.oauth_app &&
        !this.deletes.includes(c.id) &&
        (filter.user_id === undefined || c.user_id === filter.user_id) &&
        (filter.account_id === undefined || c.account_id === filter.account_id),
    );
  }

  async deleteCredential(id: string, signal?: AbortSignal): Promise<void> {
    this.signals.push(signal);
    if (this.deleteError) throw this.deleteError;
    this.deletes.push(id);
  }
}

const created = (id: string, extra: Partial<RecallCredential> = {}): CreateCredentialResult => ({
  kind: 'created',
  credential: { id, oauth_app: OAUTH_APP, user_id: ZOOM_USER, account_id: ZOOM_ACCOUNT, ...extra },
});
const userConflict: CreateCredentialResult = {
  kind: 'conflict',
  conflict: { user_id: ZOOM_USER },
  detail: 'A Zoom OAuth Credential already exists…',
};
const accountConflict: CreateCredentialResult = {
  kind: 'conflict',
  conflict: { account_id: ZOOM_ACCOUNT },
  detail: 'A Zoom OAuth Credential already exists…',
};
const badRequest: CreateCredentialResult = { kind: 'bad_request', detail: 'Invalid Grant' };

async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

describe('exchangeCodeForCredential', () => {
  it('is connected after a first create succeeds, with no list or delete', async () => {
    // Prepare
    const recall = new FakeCredentialStore([created(NEW_ID)]);

    // Act
    const result = await exchangeCodeForCredential(INPUT, recall);

    // Assess
    expect(result).toEqual({
      outcome: 'connected',
      credential: expect.objectContaining({ id: NEW_ID }),
      replacedCredentialIds: [],
    });
    expect(recall.creates).toEqual([
      { oauthApp: OAUTH_APP, code: INPUT.code, redirectUri: INPUT.redirectUri, codeVerifier: INPUT.codeVerifier },
    ]);
    expect(recall.lists).toEqual([]);
    expect(recall.deletes).toEqual([]);
  });

  it('is connected with the existing id when Recall updates the credential in place, deleting nothing', async () => {
    const recall = new FakeCredentialStore([created(OLD_ID)], [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);

    const result = await exchangeCodeForCredential(INPUT, recall);

    expect(result.outcome).toBe('connected');
    expect(result.outcome === 'connected' && result.credential.id).toBe(OLD_ID);
    expect(result.replacedCredentialIds).toEqual([]);
    expect(recall.lists).toEqual([]);
    expect(recall.deletes).toEqual([]);
  });

  it('resolves a user_id conflict: lists by oauth_app + user_id, deletes by Recall id, creates again', async () => {
    // Prepare
    const recall = new FakeCredentialStore(
      [userConflict, created(NEW_ID)],
      [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER, account_id: ZOOM_ACCOUNT }],
    );

    // Act
    const result = await exchangeCodeForCredential(INPUT, recall);

    // Assess
    expect(recall.lists).toEqual([{ oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);
    expect(recall.deletes).toEqual([OLD_ID]);
    expect(recall.deletes).not.toContain(ZOOM_USER);
    expect(recall.creates).toHaveLength(2);
    expect(recall.creates[1]).toEqual(recall.creates[0]);
    expect(result).toEqual({
      outcome: 'connected',
      credential: expect.objectContaining({ id: NEW_ID }),
      replacedCredentialIds: [OLD_ID],
    });
  });

  it('resolves an account_id conflict: lists by oauth_app + account_id, deletes by Recall id, creates again', async () => {
    const recall = new FakeCredentialStore(
      [accountConflict, created(NEW_ID, { user_id: null })],
      [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: null, account_id: ZOOM_ACCOUNT }],
    );

    const result = await exchangeCodeForCredential(INPUT, recall);

    expect(recall.lists).toEqual([{ oauth_app: OAUTH_APP, account_id: ZOOM_ACCOUNT }]);
    expect(recall.deletes).toEqual([OLD_ID]);
    expect(recall.deletes).not.toContain(ZOOM_ACCOUNT);
    expect(result).toMatchObject({ outcome: 'connected', replacedCredentialIds: [OLD_ID] });
  });

  it('deletes every credential the list returns for the identity', async () => {
    const third = 'a1b2c3d4-0000-4000-8000-000000000003';
    const recall = new FakeCredentialStore(
      [userConflict, created(NEW_ID)],
      [
        { id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER },
        { id: third, oauth_app: OAUTH_APP, user_id: ZOOM_USER },
      ],
    );

    const result = await exchangeCodeForCredential(INPUT, recall);

    expect(recall.deletes).toEqual([OLD_ID, third]);
    expect(result.replacedCredentialIds).toEqual([OLD_ID, third]);
  });

  it('never deletes a listed credential of another Zoom identity or another OAuth app', async () => {
    // Prepare: Recall's filter is trusted but verified; pretend it returned too much.
    const recall = new FakeCredentialStore(
      [userConflict, created(NEW_ID)],
      [],
      [
        [
          { id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER },
          { id: 'other-user-cred', oauth_app: OAUTH_APP, user_id: 'someone-else' },
          { id: 'other-app-cred', oauth_app: 'another-oauth-app', user_id: ZOOM_USER },
          { id: 'account-only-cred', oauth_app: OAUTH_APP, user_id: null, account_id: ZOOM_USER },
        ],
      ],
    );

    // Act
    const result = await exchangeCodeForCredential(INPUT, recall);

    // Assess
    expect(recall.deletes).toEqual([OLD_ID]);
    expect(result.replacedCredentialIds).toEqual([OLD_ID]);
  });

  it('never deletes a credential of another account on an account_id conflict', async () => {
    const recall = new FakeCredentialStore(
      [accountConflict, created(NEW_ID)],
      [],
      [
        [
          { id: OLD_ID, oauth_app: OAUTH_APP, account_id: ZOOM_ACCOUNT },
          { id: 'other-account-cred', oauth_app: OAUTH_APP, account_id: 'another-account' },
        ],
      ],
    );

    await exchangeCodeForCredential(INPUT, recall);

    expect(recall.deletes).toEqual([OLD_ID]);
  });

  it('asks for re-authorization when the second create says the code is spent', async () => {
    const recall = new FakeCredentialStore([userConflict, badRequest], [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);

    const result = await exchangeCodeForCredential(INPUT, recall);

    expect(result).toEqual({ outcome: 'reauthorize', replacedCredentialIds: [OLD_ID], zoomIdentity: `user#${ZOOM_USER}` });
    expect(recall.deletes).toEqual([OLD_ID]);
    expect(recall.creates).toHaveLength(2);
  });

  it('names the account identity when re-authorizing after an account_id conflict', async () => {
    const recall = new FakeCredentialStore(
      [accountConflict, badRequest],
      [{ id: OLD_ID, oauth_app: OAUTH_APP, account_id: ZOOM_ACCOUNT }],
    );

    const result = await exchangeCodeForCredential(INPUT, recall);

    expect(result).toEqual({
      outcome: 'reauthorize',
      replacedCredentialIds: [OLD_ID],
      zoomIdentity: `account#${ZOOM_ACCOUNT}`,
    });
  });

  it('throws code_rejected when the first create answers bad_request, touching nothing else', async () => {
    const recall = new FakeCredentialStore([badRequest]);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('code_rejected');
    expect(error.message).not.toContain(INPUT.code);
    expect(recall.creates).toHaveLength(1);
    expect(recall.lists).toEqual([]);
    expect(recall.deletes).toEqual([]);
  });

  it('gives up with conflict_unresolved after a bounded number of creates when every round conflicts', async () => {
    // Prepare: a racing callback keeps re-creating the credential.
    const recall = new FakeCredentialStore(
      Array.from({ length: 10 }, () => userConflict),
      [],
      Array.from({ length: 10 }, (_, i) => [{ id: `racing-${i}`, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]),
    );

    // Act
    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    // Assess
    expect(error.reason).toBe('conflict_unresolved');
    expect(recall.creates).toHaveLength(3);
    expect(recall.lists).toHaveLength(2);
    expect(recall.deletes).toEqual(['racing-0', 'racing-1']);
  });

  it('maps RecallUnavailableError from create to recall_unavailable', async () => {
    const cause = new RecallUnavailableError('Recall create answered 503', 503);
    const recall = new FakeCredentialStore([cause]);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('recall_unavailable');
    expect(error.cause).toBe(cause);
  });

  it('maps RecallUnavailableError while listing a conflict to recall_unavailable', async () => {
    const recall = new FakeCredentialStore([userConflict]);
    recall.listError = new RecallUnavailableError('Recall list answered 429', 429);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('recall_unavailable');
    expect(recall.deletes).toEqual([]);
  });

  it('maps RecallRejectedError to recall_rejected', async () => {
    const recall = new FakeCredentialStore([new RecallRejectedError('Recall create answered 401', 401)]);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('recall_rejected');
  });

  it('maps RecallRejectedError while deleting a conflict to recall_rejected', async () => {
    const recall = new FakeCredentialStore([userConflict], [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);
    recall.deleteError = new RecallRejectedError('Recall delete answered 403', 403);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('recall_rejected');
    expect(recall.creates).toHaveLength(1);
  });

  it('maps MisconfiguredError to misconfigured', async () => {
    const recall = new FakeCredentialStore([new MisconfiguredError('Secret app still holds the placeholder')]);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('misconfigured');
  });

  it('maps an unexpected error to internal without repeating its message', async () => {
    const recall = new FakeCredentialStore([new Error(`boom with ${INPUT.code}`)]);

    const error = await connectError(exchangeCodeForCredential(INPUT, recall));

    expect(error.reason).toBe('internal');
    expect(error.message).not.toContain(INPUT.code);
  });

  it('fires onConflict with the conflict key and the number deleted', async () => {
    const onConflict = vi.fn();
    const recall = new FakeCredentialStore([userConflict, created(NEW_ID)], [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);

    await exchangeCodeForCredential(INPUT, recall, { onConflict });

    expect(onConflict).toHaveBeenCalledTimes(1);
    expect(onConflict).toHaveBeenCalledWith({ key: 'user_id', deleted: 1 });
  });

  it('fires onConflict with account_id for an account conflict', async () => {
    const onConflict = vi.fn();
    const recall = new FakeCredentialStore([accountConflict, created(NEW_ID)], [{ id: OLD_ID, oauth_app: OAUTH_APP, account_id: ZOOM_ACCOUNT }]);

    await exchangeCodeForCredential(INPUT, recall, { onConflict });

    expect(onConflict).toHaveBeenCalledWith({ key: 'account_id', deleted: 1 });
  });

  it('does not fire onConflict when there is no conflict', async () => {
    const onConflict = vi.fn();

    await exchangeCodeForCredential(INPUT, new FakeCredentialStore([created(NEW_ID)]), { onConflict });

    expect(onConflict).not.toHaveBeenCalled();
  });

  it('passes the deadline signal to every Recall call', async () => {
    const signal = new AbortController().signal;
    const recall = new FakeCredentialStore([userConflict, created(NEW_ID)], [{ id: OLD_ID, oauth_app: OAUTH_APP, user_id: ZOOM_USER }]);

    await exchangeCodeForCredential({ ...INPUT, signal }, recall);

    expect(recall.signals).toHaveLength(4);
    for (const passed of recall.signals) expect(passed).toBe(signal);
  });
});
