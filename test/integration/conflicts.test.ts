import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LocalServer } from '../../local/server.js';
import { DEFAULT_BEHAVIOUR } from '../../local/sandbox-recall.js';
import { TestBrowser } from './helpers/browser.js';
import {
  connectThroughDemo,
  describeFlow,
  getConnection,
  runConnectFlow,
  startTestServer,
  uniqueIdentity,
  uniqueUser,
} from './helpers/connect-flow.js';

/**
 * DESIGN invariant 4 against each Recall behaviour the reference documents: after a second product user connects
 * the same Zoom identity, exactly one live credential remains for it and every record refers to that one.
 */
let server: LocalServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterEach(() => {
  server.sandboxRecall.configure(DEFAULT_BEHAVIOUR);
});
afterAll(async () => {
  await server?.close();
});

const operationsSince = (index: number) =>
  server.sandboxRecall.state.requests.slice(index).map((request) => `${request.operation} ${request.status}`);

async function expectBothOn(credentialId: string | undefined, ...userIds: string[]) {
  expect(credentialId).toBeDefined();
  for (const userId of userIds) {
    const { connection } = await getConnection(server, userId);
    expect(connection, userId).toMatchObject({ status: 'connected', recallCredentialId: credentialId });
  }
}

describe('a second product user connecting the same Zoom identity', () => {
  it('user-level app, legacy 400: deletes the old credential by its Recall id and points both users at the new one', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('shared');
    const [first, second] = [uniqueUser('first'), uniqueUser('second')];
    await connectThroughDemo(server, first, zoomUser);
    const [original] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    const start = server.sandboxRecall.state.requests.length;

    // Act
    await connectThroughDemo(server, second, zoomUser);

    // Assess: conflict → list by user_id → delete the old one by id → create again with the same code
    expect(operationsSince(start)).toEqual(['create 400', 'list 200', 'delete 204', 'create 201']);
    const list = server.sandboxRecall.state.requests[start + 1];
    expect(new URLSearchParams(list?.search).get('user_id')).toBe(zoomUser.userId);
    expect(server.sandboxRecall.state.requests[start + 2]?.path).toBe(`/api/v2/zoom-oauth-credentials/${original?.id}/`);
    const live = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    expect(live).toHaveLength(1);
    expect(live[0]?.id).not.toBe(original?.id);
    await expectBothOn(live[0]?.id, first, second);
  });

  it('keeps a shared credential until the last user disconnects', async () => {
    // Prepare
    const zoomUser = uniqueIdentity('sharing');
    const [first, second] = [uniqueUser('first'), uniqueUser('second')];
    await connectThroughDemo(server, first, zoomUser);
    await connectThroughDemo(server, second, zoomUser);
    const [shared] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });

    // Act + Assess
    const firstOut = await fetch(`${server.url}/connections/${first}`, { method: 'DELETE' });
    expect(firstOut.status).toBe(200);
    expect(server.sandboxRecall.state.credentials.has(shared?.id as string)).toBe(true);
    const secondOut = await fetch(`${server.url}/connections/${second}`, { method: 'DELETE' });
    expect(secondOut.status).toBe(200);
    expect(server.sandboxRecall.state.credentials.has(shared?.id as string)).toBe(false);
    expect((await getConnection(server, second)).connection?.status).toBe('disconnected');
  });

  it('account-level app: resolves conflicting_zoom_account_id for two users of one Zoom account', async () => {
    // Prepare
    server.sandboxRecall.configure({ appKind: 'account_level' });
    const account = uniqueIdentity('account').accountId;
    const [first, second] = [uniqueUser('first'), uniqueUser('second')];
    await connectThroughDemo(server, first, { accountId: account, userId: 'zoom-user-one' });
    const start = server.sandboxRecall.state.requests.length;

    // Act: another Zoom user of the same account
    await connectThroughDemo(server, second, { accountId: account, userId: 'zoom-user-two' });

    // Assess
    expect(operationsSince(start)).toEqual(['create 400', 'list 200', 'delete 204', 'create 201']);
    const list = server.sandboxRecall.state.requests[start + 1];
    expect(new URLSearchParams(list?.search).get('account_id')).toBe(account);
    expect(new URLSearchParams(list?.search).get('user_id')).toBeNull();
    const live = server.sandboxRecall.credentialsFor({ accountId: account });
    expect(live).toHaveLength(1);
    expect(live[0]?.user_id).toBeNull();
    await expectBothOn(live[0]?.id, first, second);
    expect((await getConnection(server, second)).connection?.zoomAccountId).toBe(account);
  });

  it('Recall updating in place: one create, the same credential, no delete', async () => {
    // Prepare
    server.sandboxRecall.configure({ conflictMode: 'update' });
    const zoomUser = uniqueIdentity('update');
    const [first, second] = [uniqueUser('first'), uniqueUser('second')];
    await connectThroughDemo(server, first, zoomUser);
    const [original] = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    const start = server.sandboxRecall.state.requests.length;

    // Act
    await connectThroughDemo(server, second, zoomUser);

    // Assess
    expect(operationsSince(start)).toEqual(['create 201']);
    expect(server.sandboxRecall.credentialsFor({ userId: zoomUser.userId })).toEqual([original]);
    await expectBothOn(original?.id, first, second);
  });

  it('code spent by the conflicting attempt: sends the user back to Zoom with a fresh state, once', async () => {
    // Prepare
    server.sandboxRecall.configure({ spendCodeOnConflict: true });
    const zoomUser = uniqueIdentity('spent');
    const [first, second] = [uniqueUser('first'), uniqueUser('second')];
    await connectThroughDemo(server, first, zoomUser);
    const start = server.sandboxRecall.state.requests.length;

    // Act
    const flow = await runConnectFlow(server, new TestBrowser(), `${server.url}/demo/connect?user=${second}`, zoomUser);

    // Assess: two consents, with different states; connected in the end
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');
    expect(flow.consents).toBe(2);
    const [firstState, secondState] = flow.callbackUrls.map((url) => new URL(url).searchParams.get('state'));
    expect(secondState).toBeTruthy();
    expect(secondState).not.toBe(firstState);
    expect(operationsSince(start)).toEqual(['create 400', 'list 200', 'delete 204', 'create 400', 'create 201']);
    const live = server.sandboxRecall.credentialsFor({ userId: zoomUser.userId });
    expect(live).toHaveLength(1);
    await expectBothOn(live[0]?.id, first, second);
  });
});
