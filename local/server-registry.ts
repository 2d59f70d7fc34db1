import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as z from 'zod/mini';

/**
 * Where a running `npm start` can be found by the project's other commands (`npm run connect-link`, `npm run doctor
 * -- --local`), so that they need no PORT when one server runs: one small file per server process, written at start
 * and removed at stop. It holds only what is not secret: the port, the URLs and the return-URL allow-list. A file
 * left by a process that died is ignored (and removed) because its process id is no longer alive.
 */

export const DEFAULT_REGISTRY_DIR = fileURLToPath(new URL('../node_modules/.cache/recall-zoom-connect/servers/', import.meta.url));

const RunningServerSchema = z.object({
  pid: z.number().check(z.int(), z.positive()),
  port: z.number().check(z.int(), z.minimum(1), z.maximum(65_535)),
  baseUrl: z.string(),
  apiBaseUrl: z.string(),
  returnUrlAllowlist: z.string(),
  /** Whether the server talks to the built-in sandbox Recall. */
  sandboxRecall: z.boolean(),
});
export type RunningServer = z.infer<typeof RunningServerSchema>;

/**
 * Records this process's server.
 * @returns the removal, for the server's shutdown
 */
export function registerServer(server: Omit<RunningServer, 'pid'>, dir = DEFAULT_REGISTRY_DIR): () => void {
  const file = join(dir, `${process.pid}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${JSON.stringify({ pid: process.pid, ...server })}\n`);
  return () => rmSync(file, { force: true });
}

/** The local servers running now (files of dead processes are removed on the way). */
export function runningServers(dir = DEFAULT_REGISTRY_DIR): RunningServer[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /^\d+\.json$/.test(name));
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const file = join(dir, name);
    let parsed: ReturnType<typeof RunningServerSchema.safeParse>;
    try {
      parsed = RunningServerSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    } catch {
      return [];
    }
    if (!parsed.success) return [];
    if (!isAlive(parsed.data.pid)) {
      rmSync(file, { force: true });
      return [];
    }
    return [parsed.data];
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, but another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
