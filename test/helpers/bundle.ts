import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles one handler with the stack's bundling settings (lib/constructs/service-function.ts) in memory.
 * @returns the bundle's code and the input modules that contribute bytes to it (esbuild reads, then drops,
 * unused pure modules, so those are not counted)
 */
export async function bundleHandler(relativeEntry: string): Promise<{ code: string; included: string[] }> {
  const entry = fileURLToPath(new URL(`../../${relativeEntry}`, import.meta.url));
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    write: false,
    metafile: true,
    outfile: 'index.mjs',
    logLevel: 'silent',
  });
  const output = Object.values(result.metafile.outputs)[0];
  const included = Object.entries(output?.inputs ?? {})
    .filter(([, input]) => input.bytesInOutput > 0)
    .map(([path]) => path);
  return { code: result.outputFiles?.[0]?.text ?? '', included };
}
