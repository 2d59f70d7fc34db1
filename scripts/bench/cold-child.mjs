// One cold start: import a bundle and serve one invocation, as Lambda's init + first invoke would. Plain JS on
// purpose (no loader, nothing to compile); it measures nothing itself — the parent times spawn to exit.
// argv: <bundle path> <export name, or - to only import> <event JSON> <context JSON (scenario.ts lambdaContextFields)>
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [bundlePath, exportName, eventJson, contextJson] = process.argv.slice(2);
const context = { ...JSON.parse(contextJson), getRemainingTimeInMillis: () => 25_000, done() {}, fail() {}, succeed() {} };

// As Lambda's Node.js runtime loads a handler: `.mjs` with import(), `.js` (no "type": "module") and `.cjs` with
// require().
const mod = bundlePath.endsWith('.mjs')
  ? await import(pathToFileURL(bundlePath).href)
  : createRequire(import.meta.url)(bundlePath);
const response = exportName === '-' ? { statusCode: 0 } : await mod[exportName](JSON.parse(eventJson), context);
// Whether Node's fetch implementation (undici, loaded lazily on the first global fetch or Response) was loaded.
const undici = process.moduleLoadList.some((name) => name.includes('internal/deps/undici'));
// One marker line among the function's own log lines; stdout to a pipe is synchronous, so exit loses nothing.
process.stdout.write(
  `\nBENCH_RESULT ${JSON.stringify({ statusCode: response?.statusCode, location: response?.headers?.location ?? null, undici })}\n`,
);
// Lambda freezes the sandbox after the response; don't wait for keep-alive sockets or timers to wind down.
process.exit(0);
