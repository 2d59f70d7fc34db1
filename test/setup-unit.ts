import { vi } from 'vitest';
import type { HttpFetch } from '../functions/adapters/node-fetch.js';

/*
 * Unit tests only. The Recall client sends its requests with `nodeFetch` (node:http); the handler unit tests script
 * Recall by stubbing the global `fetch` (`vi.stubGlobal('fetch', ...)`, see test/helpers/fake-recall-fetch.ts). Here
 * the default transport is routed through whatever `globalThis.fetch` is at call time, so those stubs keep working.
 * The integration tests (test/integration) run the real nodeFetch against real servers.
 */
vi.mock('../functions/adapters/node-fetch.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../functions/adapters/node-fetch.js')>()),
  nodeFetch: ((url, init) => globalThis.fetch(url, init)) satisfies HttpFetch,
}));
