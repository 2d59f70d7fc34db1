/**
 * Warm latency and calls per request, in one process per function (run with `node --import tsx`, environment
 * set by the parent): the TypeScript handler against zero-latency in-memory fakes — aws-sdk-client-mock for the
 * AWS clients and an in-memory Recall behind the Recall client's transport — and, for a function that reads its secrets through the Parameters and
 * Secrets extension, the extension's localhost API served in this process (reached on a cache miss only). Results
 * go to the parent over IPC; stdout (the function's logs) is discarded by the parent.
 * argv: <function name> <handler entry> <iterations> <warm-up iterations>
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { signConnectToken } from '../../functions/connect/connect-token.js';
import { startAwsJsonFake } from './fakes.js';
import { jsonResponse, setRecallTransport } from './warm-node-fetch.js';
import { benchSecrets, BENCH, httpEvent, lambdaContext, returnToFor, sealedAttempt } from './scenario.js';
import { percentile } from './stats.js';

export interface CallCounts {
  dynamodb: number;
  secretsManager: number;
  recall: number;
  eventBridge: number;
  sqs: number;
}

export interface WarmResult {
  name: string;
  iterations: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /**
   * p99 of the process CPU time (user + system, all threads) per invocation: excludes time the machine took the
   * CPU away, includes GC and the crypto thread pool.
   */
  cpuP99Ms: number;
  /** Garbage collections during the timed loop: how many, their total and longest pause. */
  gc: { count: number; totalMs: number; maxMs: number };
  /** Of the invocations at or above p99, the share during which a garbage collection ran. */
  tailWithGc: number;
  /**
   * The machine's own tail: p99 of a busy-wait as long as the handler's p50, run the same way right after. On a
   * loaded machine a p99 close to this is the machine, not the code.
   */
  noiseFloorP99Ms: number;
  /** Calls made by the very first invocation (empty caches). */
  firstCalls: CallCounts;
  /** Calls made by one invocation after a warm-up invocation. */
  warmCalls: CallCounts;
  /** DynamoDB commands of that warm invocation, in order. */
  warmDynamoDbCommands: string[];
}

const [name, entry, iterationsArg, warmupArg] = process.argv.slice(2) as [string, string, string, string];
const iterations = Number(iterationsArg);
const warmup = Number(warmupArg);

// --- Recall: an in-memory fake behind the Recall client's own transport (routed here by warm-hooks.mjs). ---
let recallCalls = 0;
let credentialSerial = 0;
setRecallTransport(async (input, init) => {
  recallCalls++;
  const url = new URL(input);
  const method = init?.method ?? 'GET';
  if (method === 'POST' && url.pathname.endsWith('/api/v2/zoom-oauth-credentials/')) {
    credentialSerial++;
    return jsonResponse(201, {
      id: `00000000-0000-4000-8000-${String(credentialSerial).padStart(12, '0')}`,
      oauth_app: process.env.RECALL_ZOOM_OAUTH_APP_ID,
      status: 'healthy',
      user_id: 'bench-zoom-user',
      account_id: 'bench-zoom-account',
      // Made just now, as on a first connect: the callback then also looks for records of the Zoom identity left
      // on a deleted credential (one query), which a reconnect that Recall answers in place skips.
      created_at: new Date().toISOString(),
    });
  }
  return jsonResponse(404, { detail: 'Not found.' });
});

// --- AWS: zero-latency mocks at the SDK boundary. ---
const dynamodb = mockClient(DynamoDBClient);
const secretsManager = mockClient(SecretsManagerClient);
const eventBridge = mockClient(EventBridgeClient);
const sqs = mockClient(SQSClient);

// One fake per client on the sinon stub behind `send`, dispatching on the command class: `.on(Command, input)`
// behaviours would make sinon deep-compare every call against each of them, which costs more than the handler.
type Answer = [new (...args: never[]) => object, (input: Record<string, unknown>) => unknown];
const respond =
  (answers: Answer[]) =>
  // Typed as never: each answer is the plain output object of its command, which the stub's types cannot express.
  async (command: object): Promise<never> => {
    for (const [type, answer] of answers) {
      if (command instanceof type) return answer((command as { input: Record<string, unknown> }).input) as never;
    }
    throw new Error(`The bench has no fake answer for ${command.constructor.name}.`);
  };
const SECRETS: Record<string, string> = benchSecrets();
secretsManager.send.callsFake(
  respond([
    [
      GetSecretValueCommand,
      (input) => {
        // Generated keys never rotated: no AWSPREVIOUS version.
        const value = input.VersionStage === 'AWSPREVIOUS' ? undefined : SECRETS[String(input.SecretId)];
        if (value !== undefined) return { SecretString: value };
        throw Object.assign(new Error('Secrets Manager cannot find the specified secret.'), { name: 'ResourceNotFoundException' });
      },
    ],
  ]),
);
// The extension's API (the same stand-in the cold starts use), for functions that read secrets through it.
const extension = await startAwsJsonFake(SECRETS, process.env.AWS_SESSION_TOKEN ?? '');
process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = new URL(extension.url).port;
eventBridge.send.callsFake(respond([[PutEventsCommand, () => ({ FailedEntryCount: 0, Entries: [] })]]));
sqs.send.callsFake(respond([[SendMessageCommand, () => ({ MessageId: 'bench' })]]));

// The callback uses a state and its connect link in one transaction of conditional puts, which the fake always lets
// through: one attempt (state and sealed cookie) serves every invocation, each opening the cookie and taking the
// happy path.
const returnTo = returnToFor(process.env as Record<string, string>);
dynamodb.send.callsFake(
  respond([
    [PutItemCommand, () => ({})],
    [TransactWriteItemsCommand, () => ({})],
    [GetItemCommand, () => ({})],
    [QueryCommand, () => ({ Items: [] })],
    [UpdateItemCommand, () => ({})],
  ]),
);

type Handler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

async function scenario(): Promise<{ event: APIGatewayProxyEventV2; verify(result: APIGatewayProxyStructuredResultV2): boolean }> {
  if (name === 'authorize') {
    // Within the service's longest accepted lifetime (CONNECT_TOKEN_MAX_TTL_SECONDS, 900 s by default).
    const token = await signConnectToken({ userId: 'bench-user', returnTo }, BENCH.signingKey, 600);
    return {
      event: httpEvent({ path: '/zoom/authorize', query: { connect_token: token } }),
      verify: (r) => r.statusCode === 302 && String(r.headers?.location).startsWith(process.env.ZOOM_AUTHORIZE_URL ?? 'https://zoom.us/'),
    };
  }
  if (name === 'callback') {
    const { state, cookie } = await sealedAttempt('bench-user', returnTo, 7 * 24 * 3600);
    return {
      event: httpEvent({ path: '/zoom/callback', query: { code: 'bench-zoom-code', state }, cookies: [cookie] }),
      verify: (r) => r.statusCode === 302 && String(r.headers?.location).includes('zoom_connect=connected'),
    };
  }
  throw new Error(`No warm scenario for ${name}.`);
}

function resetCounts(): void {
  dynamodb.resetHistory();
  secretsManager.resetHistory();
  eventBridge.resetHistory();
  sqs.resetHistory();
  extension.calls.clear();
  recallCalls = 0;
}

function counts(): CallCounts {
  return {
    dynamodb: dynamodb.calls().length,
    // Through the SDK or the extension: either is a read the cache did not serve.
    secretsManager: secretsManager.calls().length + [...extension.calls.values()].reduce((a, b) => a + b, 0),
    recall: recallCalls,
    eventBridge: eventBridge.calls().length,
    sqs: sqs.calls().length,
  };
}

/** p99 of `iterations` async busy-waits of `ms` each: what this machine adds to any task of that length. */
async function noiseFloor(ms: number, iterations: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    await Promise.resolve();
    while (performance.now() - started < ms) {
      // busy: the same CPU demand as a median invocation, without its allocations
    }
    samples.push(performance.now() - started);
  }
  return percentile(samples, 99);
}

async function main(): Promise<WarmResult> {
  const { handler } = (await import(pathToFileURL(entry).href)) as { handler: Handler };
  const { event, verify } = await scenario();
  const context = lambdaContext(`bench-${name}`);
  // The handlers do not mutate their event, so one event object serves every invocation.
  const invoke = () => handler(event, context);
  const check = (response: APIGatewayProxyStructuredResultV2, when: string) => {
    if (!verify(response)) throw new Error(`${name} ${when}: unexpected response ${JSON.stringify(response).slice(0, 500)}`);
  };

  resetCounts();
  check(await invoke(), 'first invocation');
  const firstCalls = counts();
  for (let i = 0; i < warmup; i++) await invoke();
  resetCounts();
  check(await invoke(), 'warm invocation');
  const warmCalls = counts();
  const warmDynamoDbCommands = dynamodb.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);

  const gcPauses: { start: number; duration: number }[] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push({ start: entry.startTime, duration: entry.duration });
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const samples: number[] = [];
  const starts: number[] = [];
  const cpuSamples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // The mocks record every call; clearing them outside the timed region keeps their memory out of the figures.
    if (i % 100 === 0) resetCounts();
    const cpuStarted = process.cpuUsage();
    const started = performance.now();
    const response = await invoke();
    samples.push(performance.now() - started);
    starts.push(started);
    const cpu = process.cpuUsage(cpuStarted);
    cpuSamples.push((cpu.user + cpu.system) / 1000);
    if (i === iterations - 1) check(response, 'last timed invocation');
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const entry of gcObserver.takeRecords()) gcPauses.push({ start: entry.startTime, duration: entry.duration });
  gcObserver.disconnect();
  const p50Ms = percentile(samples, 50);
  const p99Ms = percentile(samples, 99);
  const tail = samples.flatMap((ms, i) => (ms >= p99Ms ? [[starts[i] as number, (starts[i] as number) + ms] as const] : []));
  const tailWithGc =
    tail.filter(([from, to]) => gcPauses.some((gc) => gc.start < to && gc.start + gc.duration > from)).length / tail.length;
  const pauses = gcPauses.map((gc) => gc.duration);
  return {
    name,
    iterations,
    p50Ms,
    p99Ms,
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
    maxMs: Math.max(...samples),
    cpuP99Ms: percentile(cpuSamples, 99),
    gc: { count: pauses.length, totalMs: pauses.reduce((a, b) => a + b, 0), maxMs: Math.max(0, ...pauses) },
    tailWithGc,
    noiseFloorP99Ms: await noiseFloor(p50Ms, iterations),
    firstCalls,
    warmCalls,
    warmDynamoDbCommands,
  };
}

/** Sends the outcome to the parent, then exits without waiting for the handler's timers. */
function report(message: unknown, code: number): void {
  process.send?.(message, undefined, {}, () => process.exit(code));
}

main().then(
  (result) => report({ ok: true, result }, 0),
  (error: unknown) => report({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, 1),
);
