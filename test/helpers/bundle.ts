import { fileURLToPath } from 'node:url';
import { bundleLikeTheStack } from '../../scripts/bench/bundles.js';

/**
 * Bundles one handler with the stack's bundling settings (lib/constructs/service-function.ts) in memory, the way
 * the bench does.
 * @returns the bundle's code and the input modules that contribute bytes to it (esbuild reads, then drops,
 * unused pure modules, so those are not counted)
 */
export async function bundleHandler(relativeEntry: string): Promise<{ code: string; included: string[] }> {
  const { code, output } = await bundleLikeTheStack(fileURLToPath(new URL(`../../${relativeEntry}`, import.meta.url)));
  const included = Object.entries(output?.inputs ?? {})
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
  return { code, included };
}
