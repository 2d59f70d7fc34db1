import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageOf } from './bundles.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileShare {
  /** A package, `(project)`, `(node: module loading)`, `(garbage collector)`... */
  name: string;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  shares: ProfileShare[];
}

/**
 * Charges every sample of a `--cpu-prof` profile to the code that caused it: the innermost frame in application
 * code (the bundle, mapped back to its package through the bundle's source map, or a file under node_modules).
 * Time inside Node's own JavaScript goes to the application frame that called into it — so undici loaded by a
 * package's first request counts for that package — and only samples with no application frame on the stack stay
 * Node's: `(node: module loading)` (reading, compiling and linking modules, which grows with bundle size) or
 * `(node: other)`.
 */
export function summarizeProfile(profileFile: string, bundlePath: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as CpuProfile;
  const bundleUrl = pathToFileURL(bundlePath).href;
  const mapFile = `${bundlePath}.map`;
  const map = existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload) : undefined;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  /** The application package of a frame, or undefined for Node's own code and VM pseudo-frames. */
  const appCategory = new Map<number, string | undefined>();
  for (const node of profile.nodes) {
    const { url, lineNumber, columnNumber } = node.callFrame;
    let category: string | undefined;
    if (url === bundleUrl) {
      const entry = map?.findEntry(lineNumber, columnNumber) as { originalSource?: string } | undefined;
      category = entry?.originalSource ? packageOf(entry.originalSource) : '(bundle, unmapped)';
    } else if (url.startsWith('file:') && !url.endsWith('/cold-child.mjs')) category = packageOf(fileURLToPath(url));
    appCategory.set(node.id, category);
  }

  const chargeOf = (leaf: number): string => {
    const { functionName, url } = (nodes.get(leaf) as ProfileNode).callFrame;
    if (!url && ['(garbage collector)', '(program)', '(idle)'].includes(functionName)) return functionName;
    let loading = false;
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const category = appCategory.get(id);
      if (category) return category;
      const frameUrl = (nodes.get(id) as ProfileNode).callFrame.url;
      if (/modules\/esm|modules\/cjs|bootstrap\/realm|modules\/run_main/.test(frameUrl)) loading = true;
    }
    return loading ? '(node: module loading)' : '(node: other)';
  };

  const totals = new Map<string, number>();
  profile.samples.forEach((nodeId, i) => {
    const charge = chargeOf(nodeId);
    totals.set(charge, (totals.get(charge) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    shares: [...totals.entries()].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
  };
}
