import { rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { synthesize } from './helpers.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cloud assembly of the cdk.json stack (`Test`), bundled: templates and `asset.<hash>/` directories. */
    bundledAssemblyDir: string;
  }
}

/**
 * Global setup of the infrastructure tests: bundles the eight functions once per test run, before any test file
 * starts, and hands the assembly's directory to every file (`inject('bundledAssemblyDir')`). Bundling is the slow
 * part of a synth (esbuild over eight handlers); done here, it is outside every test's and hook's timeout, and no
 * file repeats it. The tests read the construct tree from an unbundled synth (`defaultStack()`), which is quick.
 */
export default function setup(project: TestProject): () => void {
  const { app } = synthesize({}, true);
  const { directory } = app.synth();
  project.provide('bundledAssemblyDir', directory);
  return () => rmSync(directory, { recursive: true, force: true });
}
