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
          exclude: ['test/unit/infra/**'],
          // Unit tests stub the global `fetch`: the setup routes the Recall client's default transport through it.
          setupFiles: ['test/setup.ts', 'test/setup-unit.ts'],
        },
      },
      {
        extends: true,
        test: {
          // The CDK stack. Its global setup bundles the functions once; with files sharing one module registry per
          // worker, the unbundled synth of the cdk.json stack (helpers.ts `defaultStack`) is built once per worker
          // too, instead of once per file. Hooks that synthesize say their own (generous) timeout.
          name: 'infra',
          include: ['test/unit/infra/**/*.test.ts'],
          globalSetup: ['test/unit/infra/bundled-synth.ts'],
          isolate: false,
          setupFiles: ['test/setup.ts'],
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
