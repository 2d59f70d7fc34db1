import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runningServers } from '../../local/server-registry.js';
import { TestBrowser } from './helpers/browser.js';
import { describeFlow, runConnectFlow, uniqueIdentity } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';

/** `npm run connect-link` runs `tsx local/connect-link.ts`; this runs the same command as a real process. */
const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

const { server } = useLocalService();

/** Runs the CLI with only what a developer's shell would have: no local-mode variables but PORT. */
function connectLink(args: string[]) {
  return run(tsx, ['local/connect-link.ts', ...args], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(server.port) },
    timeout: 20_000,
  });
}

describe('npm run connect-link', () => {
  it('prints exactly one connect URL that completes a connection on the local server', async () => {
    const returnTo = `${server.url}/?user=cli-user&from=cli`;
    const { stdout } = await connectLink(['--user', 'cli-user', '--return-to', returnTo, '--ttl', '120']);

    const lines = stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    const link = lines[0] as string;
    expect(link.startsWith(`http://localhost:${server.port}/zoom/authorize?connect_token=`)).toBe(true);
    const flow = await runConnectFlow(server, new TestBrowser(), link, uniqueIdentity('cli'));
    expect(flow.finalUrl?.href, describeFlow(flow)).toBe(`${returnTo}&zoom_connect=connected`);
  });

  it('exits 2 with usage on stderr and nothing on stdout when arguments are wrong', async () => {
    const failure = await connectLink(['--return-to', 'not a url']).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stdout).toBe('');
    expect(failure?.stderr).toContain('--user is required');
    expect(failure?.stderr).toContain('Usage: npm run connect-link');
  });
});

describe('npm run connect-link finds the server npm start is running', () => {
  it('without PORT, points the link at the running server\'s port, and the registry entry goes when it stops', { timeout: 60_000 }, async () => {
    // Prepare: local mode as `npm start` runs it, on a port it picks
    const child = spawn(tsx, ['local/server.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      let output = '';
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
          const found = /Demo page:\s+http:\/\/localhost:(\d+)\//.exec(output);
          if (found) resolve(Number(found[1]));
        });
        child.on('exit', () => reject(new Error(`local mode exited: ${output}`)));
      });
      // The banner comes first; the registry entry right after it.
      await expect.poll(() => runningServers().map((server) => server.port), { timeout: 10_000 }).toContain(port);

      // Act: a shell without PORT
      const returnTo = `http://localhost:${port}/?user=found`;
      const { stdout, stderr } = await run(tsx, ['local/connect-link.ts', '--user', 'found', '--return-to', returnTo], {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME },
        timeout: 20_000,
      });

      // Assess: the link is for that server, and it works there
      expect(stdout.split('\n').filter(Boolean)).toHaveLength(1);
      expect(stdout.startsWith(`http://localhost:${port}/zoom/authorize?connect_token=`)).toBe(true);
      expect(stderr).toContain(`Using the local server running on port ${port}`);
      const authorize = await fetch(stdout.trim(), { redirect: 'manual' });
      expect(authorize.status).toBe(302);
      expect(authorize.headers.get('location')).toContain('/sandbox/zoom/oauth/authorize?');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(runningServers().map((server) => server.port)).not.toContain(port);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
