// Module resolution hook of the warm-latency child (registered by warm-register.mjs): the Recall client's HTTP
// transport (functions/adapters/node-fetch.ts) resolves to warm-node-fetch.ts, whose in-memory Recall the child sets:
// zero latency, and a response as light as nodeFetch's.
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.endsWith('/functions/adapters/node-fetch.ts')) {
    return { ...resolved, url: new URL('./warm-node-fetch.ts', import.meta.url).href };
  }
  return resolved;
}
