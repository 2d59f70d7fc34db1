// One cold start: import a bundle and serve one invocation, as Lambda's init + first invoke would. Plain JS on
// purpose (no loader, nothing to compile); it measures nothing itself — the parent times spawn to exit.
// argv: <bundle path> <export name, or - to only import> <event JSON>
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [bundlePath, exportName, eventJson] = process.argv.slice(2);
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'bench';
const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: '2026/11/30/[$LATEST]bench',
  getRemainingTimeInMillis: () => 25_000,
  done() {},
  fail() {},
  succeed() {},
};

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
