import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './bundles.js';
import type { WarmResult } from './warm-child.js';

const CHILD = path.join(import.meta.dirname, 'warm-child.ts');
/** Routes the Recall client's transport to the child's in-memory Recall (warm-hooks.mjs). */
const REGISTER = path.join(import.meta.dirname, 'warm-register.mjs');

/**
 * Runs the warm measurement of one function in its own process (so each function sees only its own environment
 * and module state, as on Lambda). Its stdout, the function's log lines, is discarded.
 */
export function measureWarm(
  name: string,
  entry: string,
  env: Record<string, string>,
  iterations: number,
  warmup: number,
  node: string = process.execPath,
): Promise<WarmResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['--import', 'tsx', '--import', REGISTER, CHILD, name, entry, String(iterations), String(warmup)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let message: { ok: true; result: WarmResult } | { ok: false; error: string } | undefined;
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('message', (m) => (message = m as typeof message));
    child.on('error', reject);
    child.on('close', (code) => {
      if (message?.ok) resolve(message.result);
      else reject(new Error(`Warm run of ${name} failed (exit ${code}): ${message?.error ?? ''}\n${stderr.slice(-3000)}`));
    });
  });
}
