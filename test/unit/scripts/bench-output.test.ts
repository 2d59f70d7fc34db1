import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type BudgetCheck, verdictLines } from '../../../scripts/bench/budgets.js';

const check = (budget: string, pass: boolean, extra: Partial<BudgetCheck> = {}): BudgetCheck => ({
  budget,
  limit: '<= 5 ms',
  measured: pass ? '1.000 ms' : '6.100 ms',
  pass,
  off: pass ? '' : '1.100 ms over (22%)',
  ...extra,
});

describe('npm run bench: its last lines say what failed and by how much', () => {
  it('names each failing budget with measurement, limit and distance, then the count', () => {
    const lines = verdictLines([
      check('authorize warm p99', true),
      check('callback warm p99', false),
      check('callback bundle size', false, { measured: 'not measured', limit: '<= 800 KB', off: '' }),
    ]);
    expect(lines).toEqual([
      'FAIL callback warm p99: measured 6.100 ms, limit <= 5 ms, 1.100 ms over (22%)',
      'FAIL callback bundle size: measured not measured, limit <= 800 KB',
      '2 of 3 budgets failed.',
    ]);
  });

  it('says all pass when they do', () => {
    expect(verdictLines([check('a', true), check('b', true)])).toEqual(['All 2 budgets pass.']);
  });
});

describe('exitAfterOutput', () => {
  const dir = mkdtempSync(join(tmpdir(), 'exit-after-output-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tsx = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
  const exitModule = fileURLToPath(new URL('../../../scripts/exit.ts', import.meta.url));

  it('exits with the code only after a large output has gone through the pipe, last line included', { timeout: 30_000 }, async () => {
    // Prepare: far more than a pipe buffer holds, then the verdict, then exit
    const script = join(dir, 'writer.ts');
    writeFileSync(
      script,
      `import { exitAfterOutput } from ${JSON.stringify(exitModule)};\n` +
        `for (let i = 0; i < 20000; i++) console.log('line ' + i + ' ' + 'x'.repeat(100));\n` +
        `console.log('LAST LINE: 1 of 1 budgets failed.');\n` +
        `exitAfterOutput(1);\n`,
    );

    // Act: stdout is a pipe
    const outcome = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      execFile(tsx, [script], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout }),
      );
    });

    // Assess
    expect(outcome.code).toBe(1);
    const lines = outcome.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20_001);
    expect(lines.at(-1)).toBe('LAST LINE: 1 of 1 budgets failed.');
  });
});
