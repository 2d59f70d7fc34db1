import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CDK synth (esbuild bundling) and dynalite servers are heavy; two workers fit the 2-core CI machine.
    maxWorkers: 2,
    // One `npm test` runs both; `vitest run test/unit` (or `--project unit`) runs one.
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Unit tests stub the global `fetch`: the setup routes the Recall client's default transport through it.
          setupFiles: ['test/setup.ts', 'test/setup-unit.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // Real HTTP end to end: the Recall client's own transport (nodeFetch), not the global fetch.
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          setupFiles: ['test/setup.ts'],
        },
      },
    ],
  },
});
