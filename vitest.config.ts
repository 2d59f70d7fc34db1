import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // CDK synth (esbuild bundling) and dynalite servers are heavy; two workers fit the 2-core CI machine.
    maxWorkers: 2,
  },
});
