/**
 * `npm run lint:template`: synthesizes the stack the way `cdk deploy` does (the cdk CLI running bin/app.ts) for the
 * default configuration (cdk.json) and for deploy/example.config.json, and runs cfn-lint on every template, so a
 * template CloudFormation would refuse (a wrong property, a bad reference, an unknown resource type) fails here and
 * not halfway through a deploy.
 *
 * cfn-lint is a Python tool (`pipx install cfn-lint`); the npm package of that name is a different, unmaintained
 * one. Where it is missing, the script says how to install it and exits non-zero. `npm test` does not need it.
 * Exit status: 0 every template clean, 1 a synth failed or cfn-lint found something, 2 cfn-lint is not installed.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The configurations whose templates are checked: what `cdk synth` builds out of the box, and the example deployment. */
export const LINTED_CONFIGS = [
  { name: "cdk.json's defaults", context: [] },
  { name: 'deploy/example.config.json', context: ['-c', 'configFile=deploy/example.config.json'] },
] as const;

/**
 * cfn-lint rules that only report CDK's own template style, each suppressed by name for a reason; any other finding,
 * warnings included, fails the check.
 */
export const SUPPRESSED_RULES: Readonly<Record<string, string>> = {
  W3005:
    'CDK writes an explicit DependsOn beside a Ref or GetAtt that already implies it (each function on its role, ' +
    'the API mapping on its domain name) so that a role\'s policy exists before the function; redundant, never wrong.',
};

export const CFN_LINT_MISSING = `cfn-lint is not installed, so the templates cannot be checked.
Install it (Python 3.9+): pipx install cfn-lint   (or: pip install --user cfn-lint)
The npm package called cfn-lint is a different, unmaintained tool: do not use it.`;

/** Runs a command with the terminal attached (tests inject one). */
export type Run = (command: string, args: readonly string[], options?: { quiet?: boolean }) => Pick<SpawnSyncReturns<string>, 'status' | 'error' | 'stdout'>;

export interface LintIo {
  readonly run: Run;
  /** A fresh directory for one synth's cloud assembly. */
  readonly tempDir: () => string;
  /** The templates in a cloud assembly directory. */
  readonly templatesIn: (dir: string) => string[];
  readonly removeDir: (dir: string) => void;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/**
 * The whole check: cfn-lint present, each configuration synthesized, every template linted at once.
 * @returns the process exit code
 */
export function lintTemplates(io: LintIo): number {
  const version = io.run('cfn-lint', ['--version'], { quiet: true });
  if (version.error || version.status !== 0) {
    io.err(CFN_LINT_MISSING);
    return 2;
  }
  io.out(`Checking the synthesized templates with ${String(version.stdout ?? 'cfn-lint').trim()}.`);
  const dirs: string[] = [];
  try {
    const templates: string[] = [];
    for (const config of LINTED_CONFIGS) {
      const dir = io.tempDir();
      dirs.push(dir);
      io.out(`Synthesizing with ${config.name}...`);
      const synth = io.run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', dir, ...config.context]);
      if (synth.error || synth.status !== 0) {
        io.err(`cdk synth with ${config.name} failed (see above).`);
        return 1;
      }
      const found = io.templatesIn(dir);
      if (found.length === 0) {
        io.err(`cdk synth with ${config.name} wrote no template.`);
        return 1;
      }
      templates.push(...found);
    }
    const suppressed = Object.keys(SUPPRESSED_RULES);
    for (const rule of suppressed) io.out(`Suppressed ${rule}: ${SUPPRESSED_RULES[rule]}`);
    const lint = io.run('cfn-lint', ['--ignore-checks', ...suppressed, '--', ...templates]);
    if (lint.error || lint.status !== 0) {
      io.err(`cfn-lint found problems in the templates above (exit status ${lint.status ?? 'unknown'}).`);
      return 1;
    }
    io.out(`cfn-lint: ${templates.length} templates clean (${LINTED_CONFIGS.map((config) => config.name).join(', ')}).`);
    return 0;
  } finally {
    for (const dir of dirs) io.removeDir(dir);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = lintTemplates({
    run: (command, args, options) =>
      spawnSync(command, args, {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        stdio: options?.quiet ? 'pipe' : ['ignore', 'inherit', 'inherit'],
        // No telemetry or notices from the cdk CLI: the check makes no network call.
        env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
        shell: process.platform === 'win32',
      }),
    tempDir: () => mkdtempSync(path.join(tmpdir(), 'rzc-lint-template-')),
    templatesIn: (dir) =>
      readdirSync(dir)
        .filter((file) => file.endsWith('.template.json'))
        .map((file) => path.join(dir, file)),
    removeDir: (dir) => rmSync(dir, { recursive: true, force: true }),
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}
