import { describe, expect, it } from 'vitest';
import type { RecallAppKind } from '../../local/local-settings.js';
import { TestBrowser } from './helpers/browser.js';
import { ageCredentials, connectThroughDemo, describeFlow, getConnection, runConnectFlow, twoUsers, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { assertIdentityInvariants, markRecall, recallCallsSince, recallSequenceSince } from './helpers/invariants.js';
import { eventsFor } from './helpers/lifecycle.js';
import { reachCallback } from './helpers/pending-callback.js';

/**
 * Invariant 4 of docs/design.md against each Recall behaviour docs/upstream.md documents: after a second product user connects
 * the same Zoom identity, exactly one live credential remains for it and every record refers to that one. A
 * credential older than the adopt window is deleted and replaced; a fresh one (another callback's, moments ago) is
 * adopted.
 */
const { server } = useLocalService({ resetAfterEach: true });

describe('a second product user connecting the same Zoom identity', () => {
  it('user-level app, legacy 400, old credential: deletes it by its Recall id and points both users at the new one', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('shared');
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, zoomUser);
    const [original] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    expect(ageCredentials(server, { userId: zoomUser.userId })).toBe(1);
    const mark = markRecall(server);

    // Act
    await connectThroughDemo(server, second, zoomUser);

    // Assess: conflict → the records name the old credential, retrieved by its Recall id (no list) → delete it by
    // that id → create again with the same code
    expect(recallSequenceSince(server, mark)).toEqual(['create 400', 'retrieve 200', 'delete 204', 'create 201']);
    const [, retrieved, deleted] = recallCallsSince(server, mark);
    expect(retrieved?.path).toBe(`/api/v2/zoom-oauth-credentials/${original?.id}/`);
    expect(deleted?.path).toBe(`/api/v2/zoom-oauth-credentials/${original?.id}/`);
    const { credential } = await assertIdentityInvariants(server, zoomUser, [first, second]);
    expect(credential?.id).not.toBe(original?.id);
  });

  it.each<[RecallAppKind, 'user_id' | 'account_id']>([
    ['user_level', 'user_id'],
    ['account_level', 'account_id'],
  ])('%s app, legacy 400 on a credential made moments ago: adopts it (no delete, no second create)', async (appKind, key) => {
    // Prepare: one Zoom identity for this app kind (user-level: the same Zoom user; account-level: another Zoom
    // user of the same account)
    server.sandboxRecall.configure({ appKind });
    const account = uniqueIdentity('adopt').accountId;
    const [firstZoomUser, secondZoomUser] = [`${account}-one`, `${account}-two`];
    const zoomIdentity = (userId: string) => ({ accountId: account, userId: appKind === 'user_level' ? firstZoomUser : userId });
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, zoomIdentity(firstZoomUser));
    const { credential: original } = await assertIdentityInvariants(server, zoomIdentity(firstZoomUser), [first]);
    const mark = markRecall(server);

    // Act
    await connectThroughDemo(server, second, zoomIdentity(secondZoomUser));

    // Assess: the conflict named the identity, whose fresh credential the records know (retrieved, adopted); both
    // users are on it
    expect(recallSequenceSince(server, mark)).toEqual(['create 400', 'retrieve 200']);
    expect(recallCallsSince(server, mark, 'retrieve')[0]?.path).toBe(`/api/v2/zoom-oauth-credentials/${original?.id}/`);
    expect(key).toMatch(/_id$/);
    await assertIdentityInvariants(server, zoomIdentity(secondZoomUser), [first, second], { credentialId: original?.id });
  });

  it('keeps a shared credential until the last user disconnects', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('sharing');
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, zoomUser);
    await connectThroughDemo(server, second, zoomUser);
    const { credential: shared } = await assertIdentityInvariants(server, zoomUser, [first, second]);

    // Act + Assess
    const firstOut = await fetch(`${server.url}/connections/${first}`, { method: 'DELETE' });
    expect(firstOut.status).toBe(200);
    expect(server.sandboxRecall.state.credentials.has(shared?.id as string)).toBe(true);
    const secondOut = await fetch(`${server.url}/connections/${second}`, { method: 'DELETE' });
    expect(secondOut.status).toBe(200);
    expect(server.sandboxRecall.state.credentials.has(shared?.id as string)).toBe(false);
    expect((await getConnection(server, second)).connection?.status).toBe('disconnected');
    await assertIdentityInvariants(server, zoomUser, [first, second], { expect: 'none' });
  });

  it('account-level app, old credential: resolves conflicting_zoom_account_id for two users of one Zoom account', async () => {
    // Prepare
    server.sandboxRecall.configure({ appKind: 'account_level' });
    const account = uniqueIdentity('account').accountId;
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, { accountId: account, userId: 'zoom-user-one' });
    const [original] = server.sandboxRecall.credentialsFor({ accountId: account });
    expect(ageCredentials(server, { accountId: account })).toBe(1);
    const mark = markRecall(server);

    // Act: another Zoom user of the same account
    await connectThroughDemo(server, second, { accountId: account, userId: 'zoom-user-two' });

    // Assess
    expect(recallSequenceSince(server, mark)).toEqual(['create 400', 'retrieve 200', 'delete 204', 'create 201']);
    // The records name the account's credential: retrieved by its Recall id, never listed
    expect(recallCallsSince(server, mark, 'retrieve')[0]?.path).toBe(`/api/v2/zoom-oauth-credentials/${original?.id}/`);
    const { credential } = await assertIdentityInvariants(server, `account#${account}`, [first, second]);
    expect(credential?.id).not.toBe(original?.id);
    expect(credential?.user_id).toBeNull();
    expect((await getConnection(server, second)).connection?.zoomAccountId).toBe(account);
  });

  it('Recall updating in place: one create, the same credential, no delete', async () => {
    // Prepare
    server.sandboxRecall.configure({ conflictMode: 'update' });
    const zoomUser = uniqueIdentity('update');
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, zoomUser);
    const [original] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    const mark = markRecall(server);

    // Act
    await connectThroughDemo(server, second, zoomUser);

    // Assess
    expect(recallSequenceSince(server, mark)).toEqual(['create 201']);
    await assertIdentityInvariants(server, zoomUser, [first, second], { credentialId: original?.id });
  });

  it('code spent by the conflicting attempt: sends the user back to Zoom with a fresh state, once', async () => {
    // Prepare
    server.sandboxRecall.configure({ spendCodeOnConflict: true });
    const zoomUser = uniqueIdentity('spent');
    const [first, second] = twoUsers();
    await connectThroughDemo(server, first, zoomUser);
    expect(ageCredentials(server, { userId: zoomUser.userId })).toBe(1);
    const mark = markRecall(server);

    // Act
    const flow = await runConnectFlow(server, new TestBrowser(), `${server.url}/demo/connect?user=${second}`, zoomUser);

    // Assess: two consents, with different states; connected in the end
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
    expect(flow.consents).toBe(2);
    const [firstState, secondState] = flow.callbackUrls.map((url) => new URL(url).searchParams.get('state'));
    expect(secondState).toBeTruthy();
    expect(secondState).not.toBe(firstState);
    expect(recallSequenceSince(server, mark)).toEqual(['create 400', 'retrieve 200', 'delete 204', 'create 400', 'create 201']);
    await assertIdentityInvariants(server, zoomUser, [first, second]);
  });
});

describe('a conflict resolution that deleted the old credential and never finished', () => {
  it.each<RecallAppKind>(['user_level', 'account_level'])(
    '%s app, code spent, the user gone at Zoom: a DIFFERENT user\'s new credential moves the earlier users onto it',
    async (appKind) => {
      // Prepare: `earlier` on an old credential of one Zoom identity (account-level: each product user is another
      // Zoom user of the same account)
      server.sandboxRecall.configure({ appKind, conflictMode: 'conflict', spendCodeOnConflict: true });
      const identity = uniqueIdentity('quit');
      const zoomUser = (n: number) =>
        appKind === 'user_level' ? identity : { accountId: identity.accountId, userId: `${identity.userId}-${n}` };
      const filter = appKind === 'user_level' ? { userId: identity.userId } : { accountId: identity.accountId };
      const [earlier, quitter, other] = [uniqueUser('earlier'), uniqueUser('quitter'), uniqueUser('other')];
      await connectThroughDemo(server, earlier, zoomUser(1));
      const [old] = server.sandboxRecall.credentialsFor(filter);
      expect(ageCredentials(server, filter)).toBe(1);

      // Prepare: `quitter`'s callback deletes the old credential, is refused the spent code and sends the browser
      // back to Zoom, where the user closes the tab
      const quitMark = markRecall(server);
      const quit = await reachCallback(server, quitter, zoomUser(2));
      const back = await quit.browser.request(quit.callbackUrl);
      await back.body?.cancel();
      expect(back.status).toBe(302);
      expect(back.headers.get('location')?.split('?')[0], 'back to the Zoom consent page').toBe(server.settings.zoomAuthorizeUrl);
      expect(recallSequenceSince(server, quitMark)).toEqual(['create 400', 'retrieve 200', 'delete 204', 'create 400']);
      expect(server.sandboxRecall.credentialsFor(filter)).toEqual([]);
      expect((await getConnection(server, earlier)).connection).toMatchObject({
        status: 'unhealthy',
        recallCredentialId: old?.id,
      });

      // Act: another product user connects the identity; nothing conflicts any more, so Recall makes a new credential
      const otherMark = markRecall(server);
      await connectThroughDemo(server, other, zoomUser(3));

      // Assess: one live credential, `earlier` and `other` connected on it, no dangling record, no orphan
      expect(recallSequenceSince(server, otherMark)).toEqual(['create 201']);
      const { credential } = await assertIdentityInvariants(server, identity, [earlier, other], { appKind });
      expect(credential?.id).not.toBe(old?.id);
      expect((await getConnection(server, quitter)).connection?.status).not.toBe('connected');

      // Assess: `earlier`'s product learns of the move
      expect(await eventsFor(server, earlier)).toEqual([
        expect.objectContaining({ type: 'connected', recallCredentialId: old?.id }),
        expect.objectContaining({ type: 'unhealthy', status: 'unhealthy', recallCredentialId: old?.id }),
        expect.objectContaining({
          type: 'replaced',
          status: 'connected',
          recallCredentialId: credential?.id,
          previousRecallCredentialId: old?.id,
        }),
      ]);
      expect(await eventsFor(server, other)).toEqual([
        expect.objectContaining({ type: 'connected', status: 'connected', recallCredentialId: credential?.id }),
      ]);
    },
  );
});
