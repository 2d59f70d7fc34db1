import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { connectThroughDemo, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { assertIdentityInvariants } from './helpers/invariants.js';

/**
 * The invariant check the fault, race and crash suites end on: it must fail on each violation it names, or those
 * suites prove nothing.
 */
const { server } = useLocalService();

async function connectedUser(tag: string) {
  const [userId, zoomUser] = [uniqueUser(tag), uniqueIdentity(tag)];
  await connectThroughDemo(server, userId, zoomUser);
  const { credential } = await assertIdentityInvariants(server, zoomUser, [userId]);
  return { userId, zoomUser, credential: credential as NonNullable<typeof credential> };
}

describe('assertIdentityInvariants', () => {
  it('fails on a second live credential of the identity that no record points at (an orphan)', async () => {
    const { userId, zoomUser, credential } = await connectedUser('orphan');
    const orphan = { ...credential, id: randomUUID() };
    server.sandboxRecall.state.credentials.set(orphan.id, orphan);
    try {
      await expect(assertIdentityInvariants(server, zoomUser, [userId])).rejects.toThrow(/no connected or unhealthy record/);
    } finally {
      server.sandboxRecall.state.credentials.delete(orphan.id);
    }
  });

  it('fails on a connected record whose credential is gone (dangling), wherever it is', async () => {
    const { userId, zoomUser, credential } = await connectedUser('dangling');
    const other = await connectedUser('bystander');
    server.sandboxRecall.state.credentials.delete(credential.id);
    try {
      await expect(assertIdentityInvariants(server, other.zoomUser, [other.userId])).rejects.toThrow(
        /credential that does not exist/,
      );
      await expect(assertIdentityInvariants(server, other.zoomUser, [other.userId], { danglingScope: 'identity' })).resolves.toBeDefined();
      await expect(assertIdentityInvariants(server, zoomUser, [userId], { danglingScope: 'identity' })).rejects.toThrow(
        /credential that does not exist/,
      );
    } finally {
      server.sandboxRecall.state.credentials.set(credential.id, credential);
    }
  });

  it('fails when a listed user is not on the identity\'s credential, or the credential is not the expected one', async () => {
    const first = await connectedUser('first');
    const second = await connectedUser('second');
    await expect(assertIdentityInvariants(server, first.zoomUser, [first.userId, second.userId])).rejects.toThrow(
      new RegExp(`user ${second.userId}`),
    );
    await expect(
      assertIdentityInvariants(server, first.zoomUser, [first.userId], { credentialId: second.credential.id }),
    ).rejects.toThrow();
    await expect(assertIdentityInvariants(server, first.zoomUser, [first.userId], { expect: 'none' })).rejects.toThrow();
  });
});
