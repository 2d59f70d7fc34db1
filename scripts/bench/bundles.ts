import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import type { TemplateValue } from './scenario.js';

/** The repository root (this file is scripts/bench/bundles.ts). */
export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BENCH_DIR = path.join(ROOT, '.bench');

/** One deployed Lambda function, found in the synthesized template. */
export interface DeployedFunction {
  /** Short name: the construct id lower-cased (`authorize`, `callback`, ...). */
  name: string;
  logicalId: string;
  description: string;
  handler: string;
  /** The bundle Lambda loads: `asset.<hash>/index.mjs`. */
  bundlePath: string;
  bundleBytes: number;
  sourceMapBytes: number;
  /** `functions/handlers/<name>/handler.ts` when it exists: the entry of the naive baseline and of the warm runs. */
  entry: string | undefined;
  variables: Record<string, TemplateValue>;
}

/** Runs `cdk synth` into `outDir` with the project's own CDK app, as a deploy would bundle. */
export async function synth(outDir: string): Promise<number> {
  rmSync(outDir, { recursive: true, force: true });
  const started = performance.now();
  const cdk = path.join(ROOT, 'node_modules', '.bin', 'cdk');
  const child = spawn(cdk, ['synth', '--quiet', '-o', outDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`cdk synth failed (exit ${code}):\n${output.slice(-4000)}`);
  return performance.now() - started;
}

interface Manifest {
  artifacts?: Record<string, { type: string; properties?: { templateFile?: string } }>;
}
interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }>;
}

/**
 * Every `AWS::Lambda::Function` of every stack in the cloud assembly whose code is a CDK file asset, mapped
 * through `Code.S3Key` (`<hash>.zip`) to its staged directory `asset.<hash>` and the module its `Handler` names.
 */
export function deployedFunctions(outDir: string): DeployedFunction[] {
  const manifest = JSON.parse(readFileSync(path.join(outDir, 'manifest.json'), 'utf8')) as Manifest;
  const templates = Object.values(manifest.artifacts ?? {})
    .filter((artifact) => artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile)
    .map((artifact) => path.join(outDir, artifact.properties?.templateFile as string));
  const functions: DeployedFunction[] = [];
  for (const templateFile of templates) {
    const template = JSON.parse(readFileSync(templateFile, 'utf8')) as Template;
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const props = resource.Properties ?? {};
      const s3Key = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
      const handler = typeof props.Handler === 'string' ? props.Handler : '';
      if (typeof s3Key !== 'string' || !handler) continue;
      const hash = s3Key.replace(/\.zip$/, '');
      const moduleName = handler.slice(0, handler.lastIndexOf('.'));
      const bundlePath = ['.mjs', '.js', '.cjs']
        .map((ext) => path.join(outDir, `asset.${hash}`, `${moduleName}${ext}`))
        .find((candidate) => existsSync(candidate));
      if (!bundlePath) continue;
      const cdkPath = String(resource.Metadata?.['aws:cdk:path'] ?? '');
      const name = functionName(cdkPath, logicalId);
      const entry = path.join(ROOT, 'functions', 'handlers', name, 'handler.ts');
      const mapPath = `${bundlePath}.map`;
      functions.push({
        name,
        logicalId,
        description: typeof props.Description === 'string' ? props.Description : '',
        handler,
        bundlePath,
        bundleBytes: statSync(bundlePath).size,
        sourceMapBytes: existsSync(mapPath) ? statSync(mapPath).size : 0,
        entry: existsSync(entry) ? entry : undefined,
        variables: ((props.Environment as { Variables?: Record<string, TemplateValue> } | undefined)?.Variables ?? {}),
      });
    }
  }
  return functions.sort((a, b) => a.name.localeCompare(b.name));
}

/** `RecallZoomConnect/Api/Authorize/Resource` → `authorize`; falls back to the logical id without its hash. */
function functionName(cdkPath: string, logicalId: string): string {
  const segments = cdkPath.split('/').filter(Boolean);
  const id = segments.length >= 2 && segments.at(-1) === 'Resource' ? (segments.at(-2) as string) : logicalId.replace(/[0-9A-F]{8}$/, '');
  return id.replace(/^Api/, '').toLowerCase();
}

/**
 * ESM bundles cannot `require`, but CommonJS code bundled into them may; the same banner the stack's bundling uses
 * (lib/constructs/service-function.ts), so that the naive baseline differs only in what it is meant to.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __serviceCreateRequire } from 'node:module'; const require = __serviceCreateRequire(import.meta.url);";

/** What every bundle here shares: everything bundled into one ESM file for Node 24, as Lambda's nodejs24.x runs it. */
const NODE24_ESM = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'silent',
} as const satisfies BuildOptions;

/**
 * The stack's bundling settings (lib/constructs/service-function.ts): main fields module,main, minified with the
 * names of functions and classes kept, nothing external.
 */
const STACK_BUNDLING = { ...NODE24_ESM, mainFields: ['module', 'main'], minify: true, keepNames: true } as const satisfies BuildOptions;

/**
 * Bundles one entry in memory with the stack's bundling settings.
 * @param entry - the handler module's path
 * @returns the bundle's code and esbuild's account of it (its bytes and the bytes each input module contributes)
 */
export async function bundleLikeTheStack(entry: string): Promise<{ code: string; output: Metafile['outputs'][string] | undefined }> {
  const result = await build({
    ...STACK_BUNDLING,
    entryPoints: [entry],
    outfile: path.join(BENCH_DIR, 'analyze', 'index.mjs'),
    write: false,
    metafile: true,
  });
  return { code: result.outputFiles[0]?.text ?? '', output: Object.values(result.metafile.outputs)[0] };
}

/**
 * The naive baseline: the same handler entries bundled with esbuild's defaults for Node, the AWS SDK (and Smithy)
 * left external and loaded from node_modules at run time, no minification. Written under `.bench/naive/<name>/`,
 * inside the repository, so that Node resolves the SDK from the project's node_modules.
 */
export async function buildNaive(
  entries: Readonly<Record<string, string>>,
): Promise<Record<string, { path: string; bytes: number; importsSdk: boolean }>> {
  const outdir = path.join(BENCH_DIR, 'naive');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...NODE24_ESM,
    entryPoints: Object.fromEntries(Object.entries(entries).map(([name, entry]) => [`${name}/index`, entry])),
    outdir,
    outExtension: { '.js': '.mjs' },
    external: ['@aws-sdk/*', '@smithy/*'],
    minify: false,
  });
  return Object.fromEntries(
    Object.keys(entries).map((name) => {
      const file = path.join(outdir, name, 'index.mjs');
      // A function that loads no AWS SDK (authorize) has nothing left external: its naive baseline is then the
      // same code, only unminified, and the comparison says little.
      const importsSdk = /from ["']@(aws-sdk|smithy)\//.test(readFileSync(file, 'utf8'));
      return [name, { path: file, bytes: statSync(file).size, importsSdk }];
    }),
  );
}

export interface PackageShare {
  /** `@aws-sdk/client-dynamodb`, `zod`, ... or `(project)` for the repository's own code. */
  name: string;
  bytes: number;
}

export interface BundleAnalysis {
  /** Output size of the rebuild; compared with the deployed asset to show the settings match. */
  bytes: number;
  packages: PackageShare[];
}

/**
 * Rebuilds one entry with the stack's bundling settings (`bundleLikeTheStack`) and sums the output bytes by package.
 */
export async function analyzeBundle(entry: string): Promise<BundleAnalysis> {
  const { output } = await bundleLikeTheStack(entry);
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const name = packageOf(input);
    byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
  }
  return {
    bytes: output?.bytes ?? 0,
    packages: [...byPackage.entries()].map(([name, bytes]) => ({ name, bytes })).sort((a, b) => b.bytes - a.bytes),
  };
}

/** The package a module path belongs to (the innermost node_modules entry), or `(project)`. */
export function packageOf(modulePath: string): string {
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(modulePath);
  return match ? (match[1] as string) : '(project)';
}
