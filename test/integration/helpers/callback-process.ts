/**
 * One invocation of the real callback handler in a process of its own, so that a test can kill it (SIGKILL) at a
 * chosen step, as a Lambda dies: no `finally`, no lock release, no half-sent request finished.
 *
 * Forked by `crash-harness.ts` (`node --import tsx`, with the handlers' environment and an IPC channel). Imports the
 * handler first, as Lambda's init does, says `ready`, then takes one `invoke` message carrying an API Gateway
 * payload 2.0 event, invokes the handler with a Lambda-like context whose remaining time is real, and answers
 * `result`.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { lambdaContext } from '../../../local/api-gateway.js';

/** The callback function's timeout as the stack sets it; the callback's own deadline comes from the environment. */
const LAMBDA_TIMEOUT_MS = 25_000;

const send = (message: unknown): Promise<void> =>
  new Promise((resolve, reject) => process.send?.(message, undefined, {}, (error: Error | null) => (error ? reject(error) : resolve())));

const { handler } = await import('../../../functions/handlers/callback/handler.js');
process.once('message', (message: { kind: string; event: APIGatewayProxyEventV2 }) => {
  const context = lambdaContext({
    functionName: 'callback',
    region: process.env.AWS_REGION ?? 'us-east-1',
    timeoutMs: LAMBDA_TIMEOUT_MS,
  });
  handler(message.event, context)
    .then((result) => send({ kind: 'result', result }))
    .then(() => process.exit(0));
});
await send({ kind: 'ready' });
