import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ScheduledEvent } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOCAL_ACCOUNT_ID } from '../../../local/api-gateway.js';
import {
  HEALTH_SYNC_PATH,
  HealthSyncError,
  HealthSyncSchedule,
  type ScheduledHandler,
} from '../../../local/local-schedule.js';

/** The health sync's local schedule: the event it sends, no overlapping runs, the timer, the on-demand route. */

const schedules: HealthSyncSchedule[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const schedule of schedules.splice(0)) await schedule.stop();
});

function scheduleOf(handler: ScheduledHandler, options: { intervalSeconds?: number; lambdaTimeoutMs?: number } = {}) {
  const lines: string[] = [];
  const schedule = new HealthSyncSchedule({
    handler,
    functionName: 'health-sync',
    region: 'eu-central-1',
    intervalSeconds: options.intervalSeconds ?? 900,
    log: (line) => lines.push(line),
    ...(options.lambdaTimeoutMs ? { lambdaTimeoutMs: options.lambdaTimeoutMs } : {}),
  });
  schedules.push(schedule);
  return { schedule, lines };
}

/** A promise and its resolver, to hold a run open. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('HealthSyncSchedule', () => {
  it('invokes the function with a scheduled event, as an EventBridge rule does, and returns its summary', async () => {
    // Prepare
    const events: ScheduledEvent[] = [];
    const { schedule, lines } = scheduleOf(async (event, context) => {
      events.push(event);
      expect(context.functionName).toBe('health-sync');
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
      return { unhealthy: 2, markedUnhealthy: 1, healthyAgain: 0, stillGone: 1 };
    });

    // Act
    const summary = await schedule.run();

    // Assess
    expect(summary).toEqual({ unhealthy: 2, markedUnhealthy: 1, healthyAgain: 0, stillGone: 1 });
    expect(events).toEqual([
      {
        version: '0',
        id: expect.any(String),
        'detail-type': 'Scheduled Event',
        source: 'aws.events',
        account: LOCAL_ACCOUNT_ID,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        region: 'eu-central-1',
        resources: [`arn:aws:events:eu-central-1:${LOCAL_ACCOUNT_ID}:rule/health-sync-schedule`],
        detail: {},
      },
    ]);
    expect(lines).toEqual(['Health sync: unhealthy=2 markedUnhealthy=1 healthyAgain=0 stillGone=1']);
  });

  it('stays quiet after a run that found nothing to change', async () => {
    const { schedule, lines } = scheduleOf(async () => ({ unhealthy: 0, markedUnhealthy: 0 }));
    expect(await schedule.run()).toEqual({ unhealthy: 0, markedUnhealthy: 0 });
    expect(lines).toEqual([]);
  });

  it('never overlaps runs: an on-demand run waits for the one in progress, then runs afresh', async () => {
    // Prepare
    let running = 0;
    let most = 0;
    let calls = 0;
    const first = gate();
    const { schedule } = scheduleOf(async () => {
      calls++;
      running++;
      most = Math.max(most, running);
      if (calls === 1) await first.opened;
      running--;
      return { run: calls };
    });

    // Act
    const firstRun = schedule.run();
    const secondRun = schedule.run();
    const thirdRun = schedule.run();
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(1);
    first.open();

    // Assess
    expect(await Promise.all([firstRun, secondRun, thirdRun])).toEqual([{ run: 1 }, { run: 2 }, { run: 3 }]);
    expect(most).toBe(1);
  });

  it('runs every interval once started, and not after stop()', async () => {
    // Prepare
    vi.useFakeTimers();
    let calls = 0;
    const { schedule } = scheduleOf(async () => ({ calls: ++calls }), { intervalSeconds: 60 });

    // Act + Assess
    schedule.start();
    await vi.advanceTimersByTimeAsync(59_999);
    expect(calls).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(calls).toBe(2);
    await schedule.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(calls).toBe(2);
  });

  it('skips a tick that finds a run still in progress', async () => {
    // Prepare
    vi.useFakeTimers();
    const slow = gate();
    let calls = 0;
    const { schedule, lines } = scheduleOf(
      async () => {
        calls++;
        await slow.opened;
        return {};
      },
      { intervalSeconds: 1 },
    );
    const manual = schedule.run();

    // Act
    schedule.start();
    await vi.advanceTimersByTimeAsync(1_000);

    // Assess
    expect(calls).toBe(1);
    expect(lines).toContain('Health sync: the previous run is still in progress; skipping this one');
    slow.open();
    await manual;
  });

  it('turns a thrown error or a timeout into HealthSyncError without the error\'s message', async () => {
    const failing = scheduleOf(async () => {
      throw new Error('secret-looking detail');
    });
    await expect(failing.schedule.run()).rejects.toThrow(new HealthSyncError('The health sync failed: Error.'));
    expect(failing.lines.join('\n')).not.toContain('secret-looking detail');

    const hanging = scheduleOf(() => new Promise(() => undefined), { lambdaTimeoutMs: 5 });
    await expect(hanging.schedule.run()).rejects.toThrow(/timed out after 0.005 seconds/);
  });

  it('serves POST /_local/health-sync: 200 with the summary, 502 when the run fails, 405 for other methods', async () => {
    // Prepare
    let fail = false;
    const { schedule } = scheduleOf(async () => {
      if (fail) throw new Error('down');
      return { markedUnhealthy: 3 };
    });
    const server = createServer((req, res) => {
      schedule.handle(req, res, (req.url ?? '').split('?')[0] ?? '').then((handled) => {
        if (!handled) res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${HEALTH_SYNC_PATH}`;

    try {
      // Act + Assess
      const ok = await fetch(url, { method: 'POST' });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ markedUnhealthy: 3 });
      fail = true;
      const failed = await fetch(url, { method: 'POST' });
      expect(failed.status).toBe(502);
      expect(await failed.json()).toEqual({ message: 'The health sync failed: Error.' });
      expect((await fetch(url)).status).toBe(405);
      expect((await fetch(`${url}/x`, { method: 'POST' })).status).toBe(404);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
