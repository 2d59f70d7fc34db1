import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lambdaContextFields } from './scenario.js';
import { median, percentile } from './stats.js';

const CHILD = path.join(import.meta.dirname, 'cold-child.mjs');

export interface ColdInvocation {
  event: APIGatewayProxyEventV2;
  /** Checks the child's response; returns a problem, or undefined when it is the expected one. */
  verify(result: { statusCode?: number; location: string | null }): string | undefined;
}

/** One thing to cold-start: a bundle, its environment, and how to build one valid invocation. */
export interface ColdVariant {
  key: string;
  bundlePath: string;
  exportName: string;
  /** The complete environment of the child: nothing is inherited. */
  env: Record<string, string>;
  /** The environment of the paired bare `node -e 0`: the same, minus anything that changes Node's own start. */
  bareEnv: Record<string, string>;
  /** The Node binary for this variant and its bare start; default: the one running the bench. */
  node?: string;
  /** Prepares one invocation (seeds state, signs a token); not timed. */
  prepare(): Promise<ColdInvocation>;
}

export interface ColdSamples {
  key: string;
  /** Whether any of its cold starts loaded undici (Node's global fetch), which costs tens of ms when it does. */
  undici: boolean;
  coldMs: number[];
  /** The bare `node -e 0` started right before each cold start. */
  bareMs: number[];
  /** coldMs[i] / bareMs[i]. */
  ratios: number[];
}

export interface ColdSummary {
  key: string;
  undici: boolean;
  rounds: number;
  medianColdMs: number;
  medianBareMs: number;
  /** Median over rounds of cold / paired bare. */
  medianRatio: number;
  /** Interquartile range of the per-round ratios: how much the machine moved them. */
  ratioP25: number;
  ratioP75: number;
  /** Fastest cold start / fastest bare start: the least disturbed figure on a noisy machine. */
  minRatio: number;
}

interface SpawnResult {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Wall time from spawn to the child's exit, for a fresh `node` with exactly `env`. */
function timedNode(node: string, args: readonly string[], env: Record<string, string>): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let exitedAt = 0;
    const started = performance.now();
    const child = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('exit', () => (exitedAt = performance.now()));
    child.on('close', (code) => resolve({ ms: (exitedAt || performance.now()) - started, code, stdout, stderr }));
  });
}

interface ChildResult {
  statusCode?: number;
  location: string | null;
  undici?: boolean;
}

function parseResult(stdout: string): ChildResult | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
  return line ? (JSON.parse(line.slice('BENCH_RESULT '.length)) as ChildResult) : undefined;
}

/** The cold-start child and its arguments: the bundle, its export, the event and the Lambda context's data. */
function childArgs(variant: ColdVariant, invocation: ColdInvocation): string[] {
  const functionName = variant.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench';
  return [CHILD, variant.bundlePath, variant.exportName, JSON.stringify(invocation.event), JSON.stringify(lambdaContextFields(functionName))];
}

/** Starts one variant once; throws with the child's output when it did not answer as expected. */
async function coldStart(variant: ColdVariant, invocation: ColdInvocation): Promise<{ ms: number; undici: boolean }> {
  const run = await timedNode(variant.node ?? process.execPath, childArgs(variant, invocation), variant.env);
  const result = parseResult(run.stdout);
  const problem =
    run.code !== 0 ? `exit code ${run.code}` : !result ? 'no BENCH_RESULT line' : invocation.verify(result);
  if (problem) {
    throw new Error(
      `Cold start of ${variant.key} did not serve the invocation (${problem}).\n--- stdout ---\n${run.stdout.slice(-3000)}\n--- stderr ---\n${run.stderr.slice(-3000)}`,
    );
  }
  return { ms: run.ms, undici: result?.undici === true };
}

async function bareStart(node: string, env: Record<string, string>): Promise<number> {
  const run = await timedNode(node, ['-e', '0'], env);
  if (run.code !== 0) throw new Error(`bare node failed: ${run.stderr}`);
  return run.ms;
}

/**
 * Alternates: each round visits every variant (in an order rotated per round, so no variant always follows
 * another), and every cold start is preceded by its own bare `node -e 0`; the ratio of each pair cancels most of
 * the machine's momentary load. One extra round first warms the page cache and is discarded.
 */
export async function measureColdStarts(
  variants: readonly ColdVariant[],
  rounds: number,
  onRound?: (round: number) => void,
): Promise<ColdSamples[]> {
  const samples = new Map(
    variants.map((v) => [v.key, { key: v.key, undici: false, coldMs: [], bareMs: [], ratios: [] } as ColdSamples]),
  );
  for (let round = -1; round < rounds; round++) {
    const offset = ((round % variants.length) + variants.length) % variants.length;
    const order = [...variants.slice(offset), ...variants.slice(0, offset)];
    for (const variant of order) {
      const invocation = await variant.prepare();
      const bare = await bareStart(variant.node ?? process.execPath, variant.bareEnv);
      const cold = await coldStart(variant, invocation);
      if (round < 0) continue;
      const s = samples.get(variant.key) as ColdSamples;
      s.undici ||= cold.undici;
      s.bareMs.push(bare);
      s.coldMs.push(cold.ms);
      s.ratios.push(cold.ms / bare);
    }
    if (round >= 0) onRound?.(round);
  }
  return [...samples.values()];
}

export function summarize(s: ColdSamples): ColdSummary {
  return {
    key: s.key,
    undici: s.undici,
    rounds: s.coldMs.length,
    medianColdMs: median(s.coldMs),
    medianBareMs: median(s.bareMs),
    medianRatio: median(s.ratios),
    ratioP25: percentile(s.ratios, 25),
    ratioP75: percentile(s.ratios, 75),
    minRatio: Math.min(...s.coldMs) / Math.min(...s.bareMs),
  };
}

/** One cold start with `--cpu-prof`, for the profile summary; returns the .cpuprofile path. */
export async function profiledColdStart(variant: ColdVariant, outDir: string, name: string): Promise<string> {
  const invocation = await variant.prepare();
  const run = await timedNode(
    variant.node ?? process.execPath,
    ['--cpu-prof', '--cpu-prof-dir', outDir, '--cpu-prof-name', `${name}.cpuprofile`, '--cpu-prof-interval', '100', ...childArgs(variant, invocation)],
    variant.env,
  );
  const result = parseResult(run.stdout);
  const problem = run.code !== 0 ? `exit code ${run.code}` : !result ? 'no BENCH_RESULT line' : invocation.verify(result);
  if (problem) throw new Error(`Profiled cold start of ${variant.key} failed (${problem}): ${run.stderr.slice(-2000)}`);
  return path.join(outDir, `${name}.cpuprofile`);
}
