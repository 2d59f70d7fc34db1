import { describe, expect, it } from 'vitest';
import { CFN_LINT_MISSING, LINTED_CONFIGS, type LintIo, lintTemplates, SUPPRESSED_RULES } from '../../../scripts/lint-template.js';

/** A scripted machine: what each command answers, and what was run. */
function machine(answers: { cfnLint?: 'missing' | number; synth?: number; lint?: number; templates?: string[] } = {}) {
  const ran: string[][] = [];
  const out: string[] = [];
  const err: string[] = [];
  const removed: string[] = [];
  let dirs = 0;
  const io: LintIo = {
    run: (command, args) => {
      ran.push([command, ...args]);
      if (command === 'cfn-lint' && args[0] === '--version') {
        if (answers.cfnLint === 'missing') return { status: null, error: Object.assign(new Error('spawn cfn-lint ENOENT'), { code: 'ENOENT' }), stdout: '' };
        return { status: answers.cfnLint ?? 0, stdout: 'cfn-lint 1.51.0\n', error: undefined };
      }
      if (command === 'npx') return { status: answers.synth ?? 0, stdout: '', error: undefined };
      return { status: answers.lint ?? 0, stdout: '', error: undefined };
    },
    tempDir: () => `/tmp/assembly-${++dirs}`,
    templatesIn: (dir) => answers.templates ?? [`${dir}/Stack.template.json`],
    removeDir: (dir) => removed.push(dir),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  };
  return { io, ran, out, err, removed };
}

describe('npm run lint:template', () => {
  it('synthesizes the default and the example config with the cdk CLI, then lints every template at once', () => {
    const { io, ran, removed } = machine();

    expect(lintTemplates(io)).toBe(0);

    expect(ran).toEqual([
      ['cfn-lint', '--version'],
      ['npx', 'cdk', 'synth', '--quiet', '--no-notices', '--output', '/tmp/assembly-1'],
      ['npx', 'cdk', 'synth', '--quiet', '--no-notices', '--output', '/tmp/assembly-2', '-c', 'configFile=deploy/example.config.json'],
      ['cfn-lint', '--ignore-checks', 'W3005', '--', '/tmp/assembly-1/Stack.template.json', '/tmp/assembly-2/Stack.template.json'],
    ]);
    expect(LINTED_CONFIGS.map((config) => config.name)).toEqual(["cdk.json's defaults", 'deploy/example.config.json']);
    // The cloud assemblies are temporary.
    expect(removed).toEqual(['/tmp/assembly-1', '/tmp/assembly-2']);
  });

  it('suppresses only W3005 (CDK\'s own redundant DependsOn), by name and with a reason it prints', () => {
    const { io, out } = machine();
    lintTemplates(io);

    expect(Object.keys(SUPPRESSED_RULES)).toEqual(['W3005']);
    expect(SUPPRESSED_RULES.W3005).toMatch(/DependsOn/);
    expect(out).toContain(`Suppressed W3005: ${SUPPRESSED_RULES.W3005}`);
  });

  it('exits non-zero and says how to install cfn-lint when it is missing, before synthesizing anything', () => {
    const { io, ran, err } = machine({ cfnLint: 'missing' });

    expect(lintTemplates(io)).toBe(2);

    expect(err).toEqual([CFN_LINT_MISSING]);
    expect(CFN_LINT_MISSING).toContain('pipx install cfn-lint');
    expect(CFN_LINT_MISSING).toMatch(/npm package .* different/);
    expect(ran).toEqual([['cfn-lint', '--version']]);
  });

  it.each([
    ['a warning (exit 4)', 4],
    ['an error (exit 2)', 2],
  ])('fails on %s from cfn-lint', (_case, status) => {
    const { io, err } = machine({ lint: status });

    expect(lintTemplates(io)).toBe(1);
    expect(err.join('\n')).toContain(`exit status ${status}`);
  });

  it('fails when a synth fails, without linting, and still removes what it made', () => {
    const { io, ran, removed } = machine({ synth: 1 });

    expect(lintTemplates(io)).toBe(1);
    expect(ran.filter(([command]) => command === 'cfn-lint')).toHaveLength(1);
    expect(removed).toEqual(['/tmp/assembly-1']);
  });

  it('fails when a synth writes no template', () => {
    const { io, err } = machine({ templates: [] });

    expect(lintTemplates(io)).toBe(1);
    expect(err.join('\n')).toContain('wrote no template');
  });
});
