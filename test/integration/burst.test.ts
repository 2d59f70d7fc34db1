import { describe, expect, it } from 'vitest';
import type { ConflictMode } from '../../local/local-settings.js';
import type { FaultAction } from '../../local/sandbox-recall.js';
import type { LocalServer } from '../../local/server.js';
import { TestBrowser } from './helpers/browser.js';
import { connectUrl, runConnectFlow, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';
import { readConnectionRecords } from './helpers/invariants.js';

/**
 * A burst through local mode: 200 connects, 20 at a time, over 10 Zoom accounts (an account-level app: each product
 * user a different Zoom user of one of the accounts), against a Recall that answers 10% of creates 429 with
 * `Retry-After: 1`, 10% 503 (from the edge), lets 2% hang and stores 3% but answers 503. Run once with Recall
 * updating in place (what it documents) and once answering the legacy conflict. Every run must end with exactly
 * one live credential per account and every connected record on it; how many of the 200 connected is the figure
 * docs/failure-handling.md reports (the counts are written to stderr).
 */
const CONNECTS = 200;
const AT_ONCE = 20;
const ACCOUNTS = 10;
/** Hangs cost one timeout each; 1 s keeps the burst short without changing what it exercises. */
const RECALL_TIMEOUT_MS = 1_000;

/** A small seeded PRNG (mulberry32), so a run's faults can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Faults every create independently: one hook that re-arms itself each time it fires. */
function faultCreates(server: LocalServer, random: () => number): void {
  const pick = (): FaultAction | undefined => {
    const draw = random();
    if (draw < 0.1) return { status: 429, headers: { 'retry-after': '1' }, body: { detail: 'Too many requests' } };
    if (draw < 0.2) return { status: 503, body: { detail: 'Service unavailable' } };
    if (draw < 0.22) return 'hang';
    if (draw < 0.25) return { status: 503, afterProcessing: true, body: { detail: 'Service unavailable' } };
    return undefined;
  };
  const hook = (request: { operation: string }): FaultAction | undefined => {
    if (request.operation !== 'create') return undefined;
    const action = pick();
    // The sandbox removes a hook once it fires: put a fresh one in its place first.
    if (action) server.sandboxRecall.state.faults.push(hook);
    return action;
  };
  server.sandboxRecall.state.faults.push(hook);
}

const { server } = useLocalService({
  env: { RECALL_TIMEOUT_MS: String(RECALL_TIMEOUT_MS) },
  sandboxRecall: {
    appKind: 'account_level',
    pageSize: 100,
    latency: { create: { beforeMs: [20, 80], afterMs: [10, 40] }, list: { beforeMs: [20, 60] }, delete: { beforeMs: [10, 40] } },
  },
});

async function burst(conflictMode: ConflictMode) {
  server.sandboxRecall.configure({ conflictMode });
  const createsBefore = server.sandboxRecall.requestsOf('create').length;
  const listsBefore = server.sandboxRecall.requestsOf('list').length;
  faultCreates(server, seeded(conflictMode === 'update' ? 10 : 11));
  const run = uniqueUser('burst');
  const outcomes: string[] = [];
  let next = 0;
  const connectOne = async (n: number) => {
    const userId = `${run}-user-${n}`;
    const zoomUser = { accountId: `${run}-acct-${n % ACCOUNTS}`, userId: `${run}-zoom-${n}` };
    const flow = await runConnectFlow(server, new TestBrowser(), await connectUrl(server, { userId }), zoomUser);
    const landed = flow.finalUrl?.searchParams;
    outcomes[n] = landed?.get('zoom_connect') === 'error' ? `error:${landed.get('reason')}` : (landed?.get('zoom_connect') ?? `page ${flow.finalResponse?.status}`);
  };
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      for (let n = next++; n < CONNECTS; n = next++) await connectOne(n);
    }),
  );
  server.sandboxRecall.state.faults.length = 0;

  const tally: Record<string, number> = {};
  for (const outcome of outcomes) tally[outcome] = (tally[outcome] ?? 0) + 1;
  const creates = server.sandboxRecall.requestsOf('create').length - createsBefore;
  const lists = server.sandboxRecall.requestsOf('list').length - listsBefore;
  process.stderr.write(`burst (${conflictMode}): ${JSON.stringify(tally)}; creates ${creates}, lists ${lists}\n`);

  // The invariants, per account: one live credential, every connected record on it
  const records = (await readConnectionRecords(server)).filter((record) => record.userId.startsWith(run));
  for (let account = 0; account < ACCOUNTS; account++) {
    const accountId = `${run}-acct-${account}`;
    const live = server.sandboxRecall.credentialsFor({ accountId });
    expect(live, accountId).toHaveLength(1);
    for (const record of records.filter((r) => r.zoomIdentity === `account#${accountId}` && r.status === 'connected')) {
      expect(record.recallCredentialId, `${record.userId} on the account's one credential`).toBe(live[0]?.id);
    }
  }
  const connectedRecords = records.filter((record) => record.status === 'connected').length;
  expect(connectedRecords).toBe(tally.connected ?? 0);
  return { connected: tally.connected ?? 0, tally };
}

describe('a burst of connects against a faulty Recall', () => {
  it('Recall updating in place: at least 199 of 200 connect, one credential per account', { timeout: 240_000 }, async () => {
    const { connected, tally } = await burst('update');

    expect(connected, JSON.stringify(tally)).toBeGreaterThanOrEqual(199);
  });

  it('Recall answering the legacy conflict: at least 190 of 200 connect, one credential per account', { timeout: 240_000 }, async () => {
    const { connected, tally } = await burst('conflict');

    expect(connected, JSON.stringify(tally)).toBeGreaterThanOrEqual(190);
  });
});
