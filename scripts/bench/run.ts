/**
 * `npm run bench`: the performance budget of the deployed functions (issue 6). Builds the bundles `cdk synth`
 * deploys, measures their size, their cold start against a bare Node start and a naive baseline, their warm latency
 * and their calls per request, prints the figures and checks them against the budget.
 *
 *   npm run bench -- [--rounds 15] [--warm 5000] [--no-check] [--skip-synth] [--analyze] [--profile] [--node PATH]
 *
 * Exit code: 0 when every budget passes (or with --no-check), 1 when one fails, 2 when the bench itself failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { exitAfterOutput } from '../exit.js';
import { checkBudgets, verdictLines } from './budgets.js';
import { analyzeBundle, BENCH_DIR, buildNaive, type DeployedFunction, deployedFunctions, ROOT, synth } from './bundles.js';
import { functionEnvironment, importOnlyVariant, invokeVariant, MEASURED, startLocalEndpoints } from './cold-scenarios.js';
import { type ColdVariant, measureColdStarts, profiledColdStart, summarize } from './cold-start.js';
import { summarizeProfile } from './profile.js';
import { fixed, table } from './stats.js';
import { measureWarm } from './warm.js';
import type { WarmResult } from './warm-child.js';

const USAGE = `npm run bench -- [options]
  --rounds N      cold-start rounds (default 15); each round starts every variant once, each after its own bare node
  --warm N        timed warm invocations per function (default 5000, after 500 untimed)
  --no-check      report only: exit 0 even when a budget fails
  --skip-synth    reuse .bench/cdk.out from the last run instead of running cdk synth
  --analyze       also print which packages take the bytes (esbuild metafile, stack bundling settings)
  --profile       also profile one cold start per function (--cpu-prof) and print CPU time by package
  --node PATH     run the measured processes (cold, bare, warm) with this Node binary, e.g. a Node 24 like Lambda's`;

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '15' },
    warm: { type: 'string', default: '5000' },
    'no-check': { type: 'boolean', default: false },
    'skip-synth': { type: 'boolean', default: false },
    analyze: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    node: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const rounds = Number(args.rounds);
const warmIterations = Number(args.warm);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(warmIterations) || warmIterations < 1) {
  console.error(USAGE);
  process.exit(2);
}
const WARMUP = 500;
const childNode = args.node ?? process.execPath;
const kb = (bytes: number) => bytes / 1024;
const progress = (text: string) => process.stderr.write(text);

function gitDescription(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'functions', 'lib', 'bin', 'package.json'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} + uncommitted changes (functions, lib, bin or package.json)` : head;
  } catch {
    return 'unknown';
  }
}

function machineLines(): string[] {
  const cpus = os.cpus();
  const childVersion =
    childNode === process.execPath ? process.version : execFileSync(childNode, ['--version'], { encoding: 'utf8' }).trim();
  return [
    `date       ${new Date().toISOString()}`,
    `machine    ${cpus[0]?.model ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()} ${os.arch()}`,
    `node       ${childVersion} for the measured processes${childNode === process.execPath ? '' : ` (${childNode}; the bench itself on ${process.version})`}; Lambda runs nodejs24.x on arm64`,
    `load avg   ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (at start)`,
    `code       ${gitDescription()}`,
  ];
}

/**
 * The bench's own SDK client (seeding dynalite) would print the SDK's Node 20 support notice; keep every other
 * warning visible.
 */
function quietSdkNodeVersionWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (!warning.message.includes('NodeVersionSupportWarning')) console.error(`${warning.name}: ${warning.message}`);
  });
}

async function main(): Promise<number> {
  quietSdkNodeVersionWarning();
  const lines = machineLines();
  console.log(`recall-zoom-connect performance bench\n${lines.join('\n')}\n`);
  mkdirSync(BENCH_DIR, { recursive: true });

  // 1. The deployed bundles.
  const outDir = path.join(BENCH_DIR, 'cdk.out');
  if (!args['skip-synth']) {
    progress('cdk synth ... ');
    const ms = await synth(outDir);
    progress(`${(ms / 1000).toFixed(1)} s\n`);
  }
  const functions = deployedFunctions(outDir);
  const byName = new Map(functions.map((fn) => [fn.name, fn]));
  for (const name of MEASURED) if (!byName.get(name)) throw new Error(`No deployed function named ${name} in ${outDir}.`);
  const measured = MEASURED.map((name) => byName.get(name) as DeployedFunction);

  console.log('Deployed bundles (cdk synth assets; KB = 1024 bytes)');
  console.log(
    table(
      ['function', 'logical id', 'bundle KB', 'bytes', 'source map KB', 'asset'],
      functions.map((fn) => [
        fn.name,
        fn.logicalId,
        fixed(kb(fn.bundleBytes)),
        String(fn.bundleBytes),
        fixed(kb(fn.sourceMapBytes)),
        path.relative(ROOT, fn.bundlePath),
      ]),
    ),
  );

  // 2. The naive baseline of the same entries.
  const naive = await buildNaive(Object.fromEntries(measured.map((fn) => [fn.name, fn.entry as string])));
  console.log(
    `\nNaive baseline (esbuild defaults, @aws-sdk/* and @smithy/* external from node_modules, not minified): ${measured
      .map((fn) => `${fn.name} ${fixed(kb(naive[fn.name]?.bytes ?? 0))} KB${naive[fn.name]?.importsSdk ? ' + SDK' : ' (no AWS SDK to leave external)'}`)
      .join(', ')}`,
  );

  // 3. Local endpoints, then the alternating cold-start loop.
  const endpoints = await startLocalEndpoints();
  const variants: ColdVariant[] = [];
  const unresolvedNotes: string[] = [];
  for (const fn of measured) {
    const env = functionEnvironment(fn, endpoints.env);
    if (env.unresolved.length > 0) unresolvedNotes.push(`${fn.name}: ${env.unresolved.join(', ')} set to placeholders`);
    if (env.added.length > 0) {
      unresolvedNotes.push(`${fn.name}: ${env.added.join(', ')} added by the bench (the synthesized stack does not set it yet)`);
    }
    variants.push(invokeVariant(`${fn.name}:ours`, fn, fn.bundlePath, endpoints));
    variants.push(importOnlyVariant(`${fn.name}:ours import only`, fn, fn.bundlePath, endpoints));
    variants.push(invokeVariant(`${fn.name}:naive`, fn, naive[fn.name]?.path as string, endpoints));
    if (env.nodeOptions) variants.push(invokeVariant(`${fn.name}:ours+node_options`, fn, fn.bundlePath, endpoints, { NODE_OPTIONS: env.nodeOptions }));
  }
  for (const variant of variants) variant.node = childNode;
  const nodeOptionsDeployed = functionEnvironment(measured[0] as DeployedFunction, {}).nodeOptions;

  progress(`cold starts: ${rounds} rounds × ${variants.length} variants (+1 warm-up round) `);
  const coldStarted = performance.now();
  const samples = await measureColdStarts(variants, rounds, () => progress('.'));
  progress(` ${((performance.now() - coldStarted) / 1000).toFixed(1)} s\n`);
  const cold = new Map(samples.map((s) => [s.key, summarize(s)]));

  const profiles: { name: string; summary: ReturnType<typeof summarizeProfile> }[] = [];
  if (args.profile) {
    const dir = path.join(BENCH_DIR, 'profiles');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const variant of variants.filter((v) => v.key.endsWith(':ours') || v.key.endsWith(':naive'))) {
      const file = await profiledColdStart(variant, dir, variant.key.replace(':', '-'));
      profiles.push({ name: variant.key, summary: summarizeProfile(file, variant.bundlePath) });
    }
  }
  await endpoints.close();

  // 4. Warm latency and calls per request, one process per function.
  const warm = new Map<string, WarmResult>();
  for (const fn of measured) {
    progress(`warm: ${fn.name} ... `);
    const env = functionEnvironment(fn, {}).clean;
    const result = await measureWarm(fn.name, fn.entry as string, env, warmIterations, WARMUP, childNode);
    warm.set(fn.name, result);
    progress('done\n');
  }

  // Report.
  const ratio = (key: string) => cold.get(key)?.medianRatio;
  const variantRows = variants.map((variant) => {
    const s = cold.get(variant.key);
    return [
      variant.key,
      fixed(s?.medianColdMs ?? Number.NaN),
      fixed(s?.medianBareMs ?? Number.NaN),
      `${fixed(s?.medianRatio ?? Number.NaN, 2)}x`,
      `${fixed(s?.ratioP25 ?? Number.NaN, 2)}-${fixed(s?.ratioP75 ?? Number.NaN, 2)}`,
      `${fixed(s?.minRatio ?? Number.NaN, 2)}x`,
      variant.exportName === '-' ? '-' : s?.undici ? 'yes' : 'no',
    ];
  });
  console.log(
    `\nCold start: fresh node (clean env), import the bundle, serve one invocation over HTTP (dynalite, Secrets Manager` +
      `\nfake, Recall fake); ${rounds} rounds; ratio = cold / the bare \`node -e 0\` started just before it`,
  );
  console.log(table(['variant', 'median ms', 'bare ms', 'median ratio', 'ratio IQR', 'min/min', 'undici loaded'], variantRows));
  console.log('');
  console.log(
    table(
      ['function', 'ours x bare', 'naive x bare', 'ours / naive'],
      measured.map((fn) => {
        const ours = ratio(`${fn.name}:ours`) ?? Number.NaN;
        const nv = ratio(`${fn.name}:naive`) ?? Number.NaN;
        return [fn.name, `${fixed(ours, 2)}x`, `${fixed(nv, 2)}x`, `${fixed(ours / nv, 2)}x`];
      }),
    ),
  );
  console.log('(import only = the bundle imported, no invocation: module evaluation and client construction)');
  console.log("(undici loaded = Node's fetch implementation was loaded by the invocation: global fetch or Response)");
  if (nodeOptionsDeployed) {
    console.log(`(:ours+node_options = with the deployed NODE_OPTIONS="${nodeOptionsDeployed}"; the budget uses the clean start)`);
  }
  for (const note of unresolvedNotes) console.log(`note: ${note}`);
  for (const fn of measured.filter((f) => naive[f.name]?.importsSdk === false)) {
    console.log(
      `note: ${fn.name} loads no AWS SDK, so its naive baseline is the same code unminified: "ours / naive" measures only minification there, not the SDK-based design the baseline stands for`,
    );
  }

  console.log(
    `\nWarm latency: in-process, TypeScript handlers via tsx, zero-latency fakes (aws-sdk-client-mock stubs, in-memory Recall behind the client transport, the secrets extension stand-in on loopback for cache misses), after ${WARMUP} untimed;`,
  );
  console.log('p99 CPU = process CPU time per invocation (all threads), which leaves out time the machine took away;');
  console.log('noise floor = p99 of a busy-wait as long as the p50, same process, right after: the tail this machine adds by itself');
  console.log(
    table(
      ['function', 'invocations', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'p99 CPU ms', 'GCs', 'GC total ms', 'GC max ms', 'p99 tail in a GC', 'noise floor p99 ms'],
      [...warm.values()].map((w) => [
        w.name,
        String(w.iterations),
        fixed(w.p50Ms, 3),
        fixed(w.p99Ms, 3),
        fixed(w.meanMs, 3),
        fixed(w.maxMs, 2),
        fixed(w.cpuP99Ms, 3),
        String(w.gc.count),
        fixed(w.gc.totalMs, 1),
        fixed(w.gc.maxMs, 2),
        `${fixed(w.tailWithGc * 100, 0)}%`,
        fixed(w.noiseFloorP99Ms, 3),
      ]),
    ),
  );

  console.log('\nCalls per request (first = empty caches; warm = after one warm-up invocation)');
  const c = (counts: WarmResult['firstCalls']) => [String(counts.dynamodb), String(counts.secretsManager), String(counts.recall), String(counts.eventBridge)];
  console.log(
    table(
      ['function', 'first DDB', 'first SM', 'first Recall', 'first EB', 'warm DDB', 'warm SM', 'warm Recall', 'warm EB', 'warm DynamoDB commands'],
      [...warm.values()].map((w) => [w.name, ...c(w.firstCalls), ...c(w.warmCalls), w.warmDynamoDbCommands.join(', ') || '-']),
    ),
  );

  if (args.analyze) {
    for (const fn of functions.filter((f) => f.entry)) {
      const analysis = await analyzeBundle(fn.entry as string);
      const delta = ((analysis.bytes - fn.bundleBytes) / fn.bundleBytes) * 100;
      console.log(
        `\nBytes by package: ${fn.name} (rebuilt with the stack's settings: ${fixed(kb(analysis.bytes))} KB, ${delta >= 0 ? '+' : ''}${fixed(delta)}% vs the deployed asset)`,
      );
      const top = analysis.packages.slice(0, 12);
      const rest = analysis.packages.slice(12).reduce((sum, p) => sum + p.bytes, 0);
      console.log(
        table(
          ['package', 'KB', 'share'],
          [
            ...top.map((p) => [p.name, fixed(kb(p.bytes)), `${fixed((p.bytes / analysis.bytes) * 100)}%`]),
            ...(rest > 0 ? [[`(${analysis.packages.length - 12} more)`, fixed(kb(rest)), `${fixed((rest / analysis.bytes) * 100)}%`]] : []),
          ],
        ),
      );
    }
  }
  for (const { name, summary } of profiles) {
    console.log(`\nCPU profile of one cold start: ${name} (${fixed(summary.totalMs)} ms profiled; CPU time charged to the code that caused it, see profile.ts)`);
    console.log(table(['where', 'ms', 'share'], summary.shares.slice(0, 14).map((s) => [s.name, fixed(s.ms), `${fixed((s.ms / summary.totalMs) * 100)}%`])));
  }

  const checks = checkBudgets({
    bundleKb: Object.fromEntries(functions.map((fn) => [fn.name, kb(fn.bundleBytes)])),
    coldRatio: Object.fromEntries(MEASURED.map((name) => [name, ratio(`${name}:ours`)])),
    naiveRatio: Object.fromEntries(MEASURED.map((name) => [name, ratio(`${name}:naive`)])),
    warmP99Ms: Object.fromEntries([...warm.values()].map((w) => [w.name, w.p99Ms])),
    warmCalls: Object.fromEntries([...warm.values()].map((w) => [w.name, w.warmCalls])),
  });
  console.log('\nBudgets');
  console.log(table(['budget', 'limit', 'measured', 'result', 'off by'], checks.map((k) => [k.budget, k.limit, k.measured, k.pass ? 'PASS' : 'FAIL', k.off])));
  const failed = checks.filter((k) => !k.pass).length;
  console.log(`\n${checks.length - failed}/${checks.length} budgets pass; load avg at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  writeFileSync(
    path.join(BENCH_DIR, 'last-run.json'),
    `${JSON.stringify(
      {
        machine: lines,
        rounds,
        bundles: functions.map(({ variables: _variables, ...fn }) => ({ ...fn, bundlePath: path.relative(ROOT, fn.bundlePath) })),
        naive,
        cold: Object.fromEntries(cold),
        coldSamples: samples,
        warm: Object.fromEntries(warm),
        profiles,
        budgets: checks,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\n${verdictLines(checks).join('\n')}`);
  if (failed > 0 && !args['no-check']) return 1;
  return 0;
}

main().then(exitAfterOutput, (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  // The last line says that the bench itself failed, not a budget, and why.
  console.error(`\nThe bench could not finish: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  exitAfterOutput(2);
});
