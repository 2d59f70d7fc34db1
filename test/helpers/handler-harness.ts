import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
  DynamoDBStreamEvent,
  ScheduledEvent,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import type { HealthSyncSummary } from '../../functions/lifecycle/health-sync.js';
import type { StreamBatchResult, SweepSummary } from '../../functions/lifecycle/outbox-publisher.js';
import type { ReconcileReport } from '../../functions/lifecycle/reconcile.js';
import { mockSecretsManager, type SecretsManagerMock } from './aws.js';
import { lambdaContext } from './context.js';
import { AWS_FUNCTION_ENV, useAwsFunctionEnv } from './env.js';
import { FakeRecallFetch } from './fake-recall-fetch.js';
import { type MemoryTable, memoryTable } from './memory-table.js';
import { type CapturedOutput, captureOutput, type EmittedMetric, metricsOf } from './output.js';
import { type SecretsExtensionStandIn, startSecretsExtension } from './secrets-extension.js';

/** Each function's event and what it answers. */
interface Invocations {
  authorize: [APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2];
  callback: [APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2];
  connections: [APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2];
  webhook: [APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2];
  'webhook-worker': [SQSEvent, SQSBatchResponse];
  'health-sync': [ScheduledEvent, HealthSyncSummary];
  reconcile: [ScheduledEvent, ReconcileReport];
  'outbox-publisher': [DynamoDBStreamEvent | ScheduledEvent, StreamBatchResult | SweepSummary];
}
export type HandlerName = keyof Invocations;
/** A function's handler; the Lambda context defaults to the tests' one. */
export type HandlerOf<N extends HandlerName> = (event: Invocations[N][0], context?: Context) => Promise<Invocations[N][1]>;

/** A function's entry point from the repository root, as the stack bundles it; `importHandler` loads the same file. */
export const handlerEntry = (name: HandlerName): string => `functions/handlers/${name}/handler.ts`;

/**
 * The one place that loads a function's entry point (`handlerEntry`, spelled as a literal pattern so the test runner
 * can resolve it): a fresh module instance after `vi.resetModules()`, else the one this test file already loaded.
 */
export async function importHandler<N extends HandlerName>(name: N): Promise<HandlerOf<N>> {
  const { handler } = (await import(`../../functions/handlers/${name}/handler.ts`)) as {
    handler: (event: unknown, context: Context) => Promise<unknown>;
  };
  return (event, context = lambdaContext()) => handler(event, context) as Promise<Invocations[N][1]>;
}

export interface HarnessOptions {
  /** Variables on top of the stack's environment (`useAwsFunctionEnv`); `undefined` removes one. */
  env?: Record<string, string | undefined>;
  /** Powertools' log level (`SILENT` unless a test asserts on logs). */
  logLevel?: 'SILENT' | 'DEBUG' | 'INFO';
  /** CloudWatch EMF metrics on stdout (off unless a test asserts on them). */
  metrics?: boolean;
  /** DynamoDB answered by an in-memory table (`MemoryTable`), anew for each test. */
  table?: boolean;
  /** Secrets read through a stand-in of the Parameters and Secrets extension over the Secrets Manager mock. */
  secretsExtension?: boolean;
  /** What the function gets as `fetch`, around the fake Recall's (to record raw requests, say). */
  fetch?: (recall: FakeRecallFetch['fetch']) => typeof fetch;
  /** Load the handler once before the tests, as a warm container (default); off when each test loads its own. */
  warm?: boolean;
}

/** What a handler test works with; the per-test parts (mocks' scripts, output) are new for each test. */
export interface HandlerHarness<N extends HandlerName> {
  readonly name: N;
  readonly recall: FakeRecallFetch;
  readonly ddb: AwsClientStub<DynamoDBClient>;
  readonly eventBridge: AwsClientStub<EventBridgeClient>;
  readonly sqs: AwsClientStub<SQSClient>;
  /** Secrets Manager holding the filled-in secrets and the generated keys (see `mockSecretsManager`). */
  readonly secretsManager: SecretsManagerMock;
  /** With `table`: the in-memory table behind `ddb`. */
  readonly table: MemoryTable;
  /** With `secretsExtension`: the stand-in. */
  readonly extension: SecretsExtensionStandIn;
  /** Everything the test's invocations wrote (logs, metrics). */
  readonly output: CapturedOutput;
  /** The metrics in `output`. */
  emitted(): EmittedMetric[];
  /** The warm handler, loaded once for the file. */
  readonly handler: HandlerOf<N>;
  /** A handler with nothing cached: a cold start with `env` set for its init (and put back after). */
  cold(env?: Record<string, string | undefined>): Promise<HandlerOf<N>>;
  context(overrides?: Partial<Context>): Context;
}

/**
 * One harness for every handler test file: the stack's environment, the fake Recall as `fetch`, DynamoDB,
 * EventBridge, SQS and Secrets Manager mocked at the SDK boundary (aws-sdk-client-mock), the handler imported, and
 * the Lambda context. Call it at the top of the file: it registers the hooks that set all this up, reset it before
 * each test and put the environment back after the file.
 */
export function handlerHarness<N extends HandlerName>(name: N, options: HarnessOptions = {}): HandlerHarness<N> {
  const savedEnv = { ...process.env };
  useAwsFunctionEnv();
  setEnv({
    POWERTOOLS_LOG_LEVEL: options.logLevel ?? 'SILENT',
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    ...options.env,
  });
  const recall = new FakeRecallFetch();
  vi.stubGlobal('fetch', options.fetch ? options.fetch(recall.fetch) : recall.fetch);
  const ddb = mockClient(DynamoDBClient);
  const eventBridge = mockClient(EventBridgeClient);
  const sqs = mockClient(SQSClient);
  let secretsManager: SecretsManagerMock = mockSecretsManager();
  let table: MemoryTable | undefined;
  let extension: SecretsExtensionStandIn | undefined;
  let handler: HandlerOf<N> | undefined;
  let output: CapturedOutput | undefined;

  beforeAll(async () => {
    if (options.table) table = await memoryTable(ddb, AWS_FUNCTION_ENV.TABLE_NAME);
    if (options.secretsExtension) {
      extension = await startSecretsExtension();
      extension.useEnv();
    }
    if (options.warm !== false) handler = await importHandler(name);
  }, 30_000);
  beforeEach(async () => {
    recall.reset();
    ddb.reset();
    eventBridge.reset();
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    sqs.reset();
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
    secretsManager = mockSecretsManager();
    await table?.reset();
    extension?.override(undefined);
    if (extension) extension.requests.length = 0;
    output = captureOutput();
  });
  afterEach(() => {
    output?.restore();
    vi.useRealTimers();
  });
  afterAll(async () => {
    await table?.close();
    await extension?.close();
    for (const variable of Object.keys(process.env)) if (!(variable in savedEnv)) delete process.env[variable];
    Object.assign(process.env, savedEnv);
  });

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`The ${name} harness has no ${what}: see its options.`);
    return value;
  };
  return {
    name,
    recall,
    ddb,
    eventBridge,
    sqs,
    get secretsManager() {
      return secretsManager;
    },
    get table() {
      return required(table, 'table');
    },
    get extension() {
      return required(extension, 'secrets extension');
    },
    get output() {
      return required(output, 'output outside a test');
    },
    emitted: () => metricsOf(required(output, 'output outside a test').emf()),
    get handler() {
      return required(handler, 'warm handler');
    },
    cold: async (env = {}) => {
      const saved = Object.fromEntries(Object.keys(env).map((variable) => [variable, process.env[variable]]));
      setEnv(env);
      try {
        vi.resetModules();
        return await importHandler(name);
      } finally {
        setEnv(saved);
      }
    },
    context: lambdaContext,
  };
}

/** Sets (or, for `undefined`, removes) environment variables. */
export function setEnv(env: Record<string, string | undefined>): void {
  for (const [variable, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[variable];
    else process.env[variable] = value;
  }
}
