import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { HttpApi } from './api-gateway.js';
import { describeError } from './aws-json.js';
import { allowedHosts, isAllowedHost, isCrossSiteWrite, refuseCrossSite, refuseWrongHost } from './local-guard.js';
import { DemoPage } from './demo-page.js';
import { LocalEventsDeliverer, withoutQuery } from './events-endpoint.js';
import { sendJson } from './http-util.js';
import { LocalEventBridge, LocalEventBus } from './local-eventbridge.js';
import { LocalQueue, LocalSqs } from './local-sqs.js';
import {
  HEALTH_SYNC_PATH,
  HealthSyncSchedule,
  LOCAL_OUTBOX_INTERVAL_SECONDS,
  OUTBOX_PATH,
  OutboxPublisherSchedule,
  RECONCILE_PATH,
  ReconcileSchedule,
} from './local-schedule.js';
import {
  handlerEnvironment,
  LOCAL_DEFAULTS,
  LOCAL_WEBHOOK_QUEUE_NAME,
  LocalConfigError,
  type LocalSettings,
  parseLocalEnv,
  resolveLocalSettings,
  SANDBOX_RECALL_PATH,
} from './local-settings.js';
import { createServiceTable, LOCAL_AWS_CREDENTIALS, startLocalDynamoDb } from './local-table.js';
import { HEALTH_SYNC, LAMBDA_ROUTES, OUTBOX_PUBLISHER, RECONCILE, WEBHOOK_WORKER } from './routes.js';
import { WEBHOOK_PATH } from '../functions/core/routes.js';
import { SandboxRecall, type SandboxRecallBehaviour } from './sandbox-recall.js';
import { SandboxZoom } from './sandbox-zoom.js';
import { registerServer } from './server-registry.js';

/**
 * Local mode: the deployed handlers behind an API Gateway HTTP API stand-in, with dynalite in memory, a local SQS
 * queue feeding the webhook worker, a local EventBridge bus, the health sync on a timer, reconcile on demand, a
 * sandbox Recall, a sandbox Zoom consent page and a demo onboarding page, on one port. No accounts, no network.
 *
 * One local server per process: the handlers read `process.env` once, at import, and Node caches modules per
 * process. In vitest, start one per test file (files are isolated); switch sandbox behaviour between tests with
 * `server.sandboxRecall.configure(...)` instead of starting another server.
 */

export interface LocalServerOptions {
  /** Variables read over `process.env` (the local-mode variables of docs/design.md and `SANDBOX_RECALL_*`). */
  env?: Record<string, string | undefined>;
  /** Overrides PORT; 0 picks a free port. */
  port?: number;
  /** Sandbox Recall behaviour, over the `SANDBOX_RECALL_*` variables. */
  sandboxRecall?: Partial<SandboxRecallBehaviour>;
  /** Banner and access log; default `console.log`. Pass `() => {}` for silence. */
  log?: (line: string) => void;
  /** The functions' timeout (default 25 s) and API Gateway's integration timeout (30 s). */
  lambdaTimeoutMs?: number;
  integrationTimeoutMs?: number;
  /** The webhook queue's redelivery: wait after a failed receive (default 1 s) and receives before the DLQ (5). */
  queue?: { retryDelayMs?: number; maxReceiveCount?: number };
  /** Events the local bus keeps for `GET /_local/events` (default 100; tests that check every event keep more). */
  eventCapacity?: number;
}

/** The SQS and EventBridge stand-ins as tests reach them. */
export interface LocalAwsStandIns {
  queue: LocalQueue;
  bus: LocalEventBus;
  /** Resolves when every queued webhook has been processed or dead-lettered. */
  drain(timeoutMs?: number): Promise<void>;
}

export interface LocalServer {
  /** `http://localhost:<port>`. */
  url: string;
  port: number;
  settings: LocalSettings;
  sandboxRecall: SandboxRecall;
  sandboxZoom: SandboxZoom;
  api: HttpApi;
  /** The local SQS queue and EventBridge bus; `localAws.drain()` waits until queued webhooks are processed. */
  localAws: LocalAwsStandIns;
  /** Posts lifecycle events to EVENTS_ENDPOINT_URL, when set; `eventsDeliverer.drain()` waits for the deliveries. */
  eventsDeliverer: LocalEventsDeliverer | undefined;
  /** The health sync's local schedule; `healthSync.run()` runs it now. */
  healthSync: HealthSyncSchedule;
  /** Reconcile, on demand: `reconcile.run()` reports, `reconcile.run({ fix: true })` repairs. */
  reconcile: ReconcileSchedule;
  /** The outbox publisher, every 250 ms; `outbox.run()` publishes what is waiting now. */
  outbox: OutboxPublisherSchedule;
  dynamoDbEndpoint: string;
  close(): Promise<void>;
}

type LocalHandler = (req: IncomingMessage, res: ServerResponse, pathname: string) => Promise<boolean>;

let started = false;

/**
 * Starts local mode. Sets `process.env` for the handlers (restored on `close`), then imports them.
 * @throws LocalConfigError for bad variables; any handler import error (e.g. the handlers' own config check)
 */
export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  if (started) {
    throw new Error(
      'A local server was already started in this process. The handlers read process.env once, at import, so a ' +
        'second server would run with the first one\'s configuration: use one local server per process (per test file).',
    );
  }
  const env = parseLocalEnv({ ...process.env, ...options.env });
  const log = options.log ?? ((line: string) => console.log(line));
  const requestedPort = options.port ?? env.PORT ?? LOCAL_DEFAULTS.port;

  // Local routes are tried in order before the HTTP API's routes; a later feature adds one entry.
  const localHandlers: LocalHandler[] = [];
  let api: HttpApi | undefined;
  // Known once the port is: which Host values this server answers.
  let hosts: Set<string> | undefined;
  const http = createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0] ?? '/';
    res.on('finish', () => log(`${req.method} ${pathname} ${res.statusCode}`));
    dispatch(req, res, pathname).catch((error: unknown) => {
      log(`Local route ${pathname} failed: ${error instanceof Error ? error.name : 'Error'}`);
      if (!res.headersSent) sendJson(res, 500, { message: 'Internal Server Error' });
      else res.end();
    });
  });
  const dispatch = async (req: IncomingMessage, res: ServerResponse, pathname: string) => {
    if (!api || !hosts) return sendJson(res, 503, { message: 'Starting' });
    if (!isAllowedHost(req.headers.host, hosts)) return refuseWrongHost(res, port);
    // The service's public routes answer as on AWS; everything local mode adds (and `/connections`, which has no
    // IAM locally) takes changes from its own pages or from non-browser tools only.
    if (!pathname.startsWith('/zoom/') && isCrossSiteWrite(req.method, req.headers, `http://${req.headers.host}`)) {
      return refuseCrossSite(res, pathname);
    }
    for (const handle of localHandlers) if (await handle(req, res, pathname)) return;
    await api.handle(req, res);
  };

  const listeners = await listenOnLoopback(http, requestedPort);
  const port = (listeners[0]?.address() as AddressInfo).port;
  const cleanups: (() => Promise<void> | void)[] = [() => Promise.all(listeners.map(closeServer)).then(() => undefined)];
  let closing: Promise<void> | undefined;
  const closeAll = () =>
    (closing ??= (async () => {
      for (const cleanup of [...cleanups].reverse()) await cleanup();
    })());

  try {
    const settings = resolveLocalSettings(env, port);
    hosts = allowedHosts(port, [settings.apiBaseUrl]);
    if (options.sandboxRecall) Object.assign(settings.sandboxRecall, options.sandboxRecall);

    const dynamo = await startLocalDynamoDb();
    cleanups.push(() => dynamo.close());
    await createServiceTable(dynamo.endpoint, settings.tableName);

    // From here on this process's handlers are bound to this configuration.
    started = true;
    const restoreEnv = setProcessEnv({
      ...handlerEnvironment(settings, dynamo.endpoint),
      AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
      // Local mode never talks to AWS: dummy credentials, so real ones are never signed into a local request.
      AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      // Local mode passes secret values directly; ids left over from a deployed stack's shell must not win.
      RECALL_API_KEY_SECRET_ID: undefined,
      ZOOM_CLIENT_ID_SECRET_ID: undefined,
      ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID: undefined,
      SIGNING_KEY_SECRET_ID: undefined,
      STATE_KEY_SECRET_ID: undefined,
    });
    cleanups.push(restoreEnv);

    const sandboxZoom = new SandboxZoom({
      clientId: settings.zoomClientId,
      redirectUri: settings.zoomRedirectUri,
      returnOrigins: originsOf(settings.returnUrlAllowlist),
    });
    const sandboxRecall = new SandboxRecall({
      apiKey: settings.recallApiKey,
      oauthApp: {
        id: settings.recallOAuthAppId,
        clientId: settings.zoomClientId,
        webhookSecret: settings.zoomWebhookSecretToken,
      },
      zoom: sandboxZoom,
      ...settings.sandboxRecall,
    });
    cleanups.push(() => sandboxRecall.close());

    const httpApi = new HttpApi({
      routes: LAMBDA_ROUTES,
      region: settings.recallRegion,
      ...(options.lambdaTimeoutMs ? { lambdaTimeoutMs: options.lambdaTimeoutMs } : {}),
      ...(options.integrationTimeoutMs ? { integrationTimeoutMs: options.integrationTimeoutMs } : {}),
      onFunctionError: ({ functionName, error }) => log(`Function ${functionName} failed: ${describeError(error)}`),
    });
    await httpApi.loadAll();
    const [worker, healthSyncFunction] = await Promise.all([WEBHOOK_WORKER.load(), HEALTH_SYNC.load()]);
    // Reconcile reads RECONCILE_FIX at import: one instance that only reports, whatever the shell says, and a second
    // one that repairs (`?fix=true`). Loaded one after the other, each with its own value, nothing else loading.
    const reconcileReport = await importWith({ RECONCILE_FIX: 'false' }, RECONCILE.load);
    const reconcileFix = await importWith({ RECONCILE_FIX: 'true' }, RECONCILE.loadSecondInstance);
    // No stream locally: the publisher's sweep takes every waiting entry, however young.
    const outboxPublisher = await importWith({ OUTBOX_SWEEP_MIN_AGE_SECONDS: '0' }, OUTBOX_PUBLISHER.load);

    const lambdaTimeoutMs = options.lambdaTimeoutMs ?? 25_000;
    const eventsDeliverer = settings.eventsEndpoint ? new LocalEventsDeliverer({ ...settings.eventsEndpoint, log }) : undefined;
    const webhookQueue = new LocalQueue({
      name: LOCAL_WEBHOOK_QUEUE_NAME,
      region: settings.recallRegion,
      consumer: worker.handler,
      consumerName: WEBHOOK_WORKER.functionName,
      lambdaTimeoutMs,
      log,
      ...(options.queue?.retryDelayMs !== undefined ? { retryDelayMs: options.queue.retryDelayMs } : {}),
      ...(options.queue?.maxReceiveCount !== undefined ? { maxReceiveCount: options.queue.maxReceiveCount } : {}),
    });
    const eventBus = new LocalEventBus({
      name: settings.eventBusName,
      region: settings.recallRegion,
      log,
      ...(options.eventCapacity !== undefined ? { capacity: options.eventCapacity } : {}),
    });
    const localSqs = new LocalSqs(webhookQueue);
    const localEventBridge = new LocalEventBridge({ bus: eventBus, deliveries: eventsDeliverer });
    cleanups.push(() => webhookQueue.close());
    if (eventsDeliverer) {
      eventBus.subscribe((event) => eventsDeliverer.deliver(event));
      cleanups.push(() => eventsDeliverer.close());
    }
    const healthSync = new HealthSyncSchedule({
      handler: healthSyncFunction.handler,
      functionName: HEALTH_SYNC.functionName,
      region: settings.recallRegion,
      intervalSeconds: settings.healthSyncIntervalSeconds,
      lambdaTimeoutMs,
      log,
    });
    healthSync.start();
    cleanups.push(() => healthSync.stop());
    const reconcile = new ReconcileSchedule({
      handler: reconcileReport.handler,
      fixHandler: reconcileFix.handler,
      ...(settings.recall.kind === 'external' && !settings.reconcileFixExternalRecall
        ? {
            fixRefusal:
              `Refused: fix=true deletes credentials at ${settings.recall.baseUrl}, which is not the sandbox. ` +
              'Restart local mode with RECONCILE_FIX_EXTERNAL_RECALL=true to allow it.',
          }
        : {}),
      functionName: RECONCILE.functionName,
      region: settings.recallRegion,
      lambdaTimeoutMs,
      log,
    });
    cleanups.push(() => reconcile.stop());
    const outbox = new OutboxPublisherSchedule({
      handler: outboxPublisher.handler,
      functionName: OUTBOX_PUBLISHER.functionName,
      region: settings.recallRegion,
      lambdaTimeoutMs,
      log,
    });
    outbox.start();
    // Stopped before the bus and the table go (cleanups run in reverse): a run in progress finishes first.
    cleanups.push(() => outbox.stop());

    const sandboxesOnly = settings.recall.kind === 'sandbox' && settings.zoomIsSandbox;
    const demo = new DemoPage({
      baseUrl: settings.baseUrl,
      apiBaseUrl: settings.apiBaseUrl,
      signingKey: settings.connectSigningKey,
      api: httpApi,
      healthSync,
      drain: () => webhookQueue.drain(),
      ...(sandboxesOnly
        ? {
            sandbox: {
              recall: sandboxRecall,
              webhookSecretToken: settings.zoomWebhookSecretToken,
              zoomClientId: settings.zoomClientId,
              webhookUrl: `${settings.baseUrl}${WEBHOOK_PATH}`,
            },
          }
        : {}),
    });
    localHandlers.push(
      (req, res, pathname) => localSqs.handle(req, res, pathname),
      (req, res, pathname) => localEventBridge.handle(req, res, pathname),
      async (req, res, pathname) => (eventsDeliverer ? eventsDeliverer.handle(req, res, pathname) : false),
      (req, res, pathname) => healthSync.handle(req, res, pathname),
      (req, res, pathname) => reconcile.handle(req, res, pathname),
      (req, res, pathname) => outbox.handle(req, res, pathname),
      async (req, res, pathname) => {
        if (pathname !== SANDBOX_RECALL_PATH && !pathname.startsWith(`${SANDBOX_RECALL_PATH}/`)) return false;
        const origin = `http://${req.headers.host ?? `localhost:${port}`}`;
        await sandboxRecall.handle(req, res, pathname.slice(SANDBOX_RECALL_PATH.length), `${origin}${SANDBOX_RECALL_PATH}`);
        return true;
      },
      (req, res, pathname) => sandboxZoom.handle(req, res, pathname),
      (req, res, pathname) => demo.handle(req, res, pathname),
    );
    api = httpApi;

    const server: LocalServer = {
      url: settings.baseUrl,
      port,
      settings,
      sandboxRecall,
      sandboxZoom,
      api: httpApi,
      localAws: { queue: webhookQueue, bus: eventBus, drain: (timeoutMs) => webhookQueue.drain(timeoutMs) },
      eventsDeliverer,
      healthSync,
      reconcile,
      outbox,
      dynamoDbEndpoint: dynamo.endpoint,
      close: closeAll,
    };
    log(banner(server, listeners.length > 1));
    return server;
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/**
 * Listens on 127.0.0.1 and, on the same port, ::1, so that `localhost` works whichever address it resolves to
 * (Node 17+ keeps the resolver's order, and some systems put ::1 first). Never on a public interface.
 */
async function listenOnLoopback(http: Server, port: number): Promise<Server[]> {
  await listen(http, port, '127.0.0.1');
  const actualPort = (http.address() as AddressInfo).port;
  const v6 = createServer((req, res) => http.emit('request', req, res));
  try {
    await listen(v6, actualPort, '::1');
    return [http, v6];
  } catch {
    // No IPv6 loopback here: `localhost` then resolves to 127.0.0.1 only.
    return [http];
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** The origins of a comma-separated URL list (entries that are not URLs are the handlers' config error, not ours). */
function originsOf(urls: string): string[] {
  return urls.split(',').flatMap((entry) => {
    try {
      const { origin } = new URL(entry.trim());
      return origin === 'null' ? [] : [origin];
    } catch {
      return [];
    }
  });
}

/** Imports a module with `values` set in `process.env` (for modules that read it at import), then restores it. */
async function importWith<T>(values: Record<string, string | undefined>, load: () => Promise<T>): Promise<T> {
  const restore = setProcessEnv(values);
  try {
    return await load();
  } finally {
    restore();
  }
}

/** Sets variables (undefined deletes) and returns the undo. */
function setProcessEnv(values: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const apply = (next: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(next)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(values);
  return () => apply(previous);
}

/** What the banner shows: URLs and where calls go, never a key. */
function banner({ settings, dynamoDbEndpoint }: LocalServer, dualStack: boolean): string {
  const recall =
    settings.recall.kind === 'sandbox'
      ? `sandbox at ${settings.recall.baseUrl} (${settings.sandboxRecall.appKind} app, on a second connect of one ` +
        `Zoom identity: ${settings.sandboxRecall.conflictMode}${settings.sandboxRecall.spendCodeOnConflict ? ', code spent' : ''})`
      : `${settings.recall.baseUrl} (from ${settings.recall.chosenBy})`;
  const zoom = settings.zoomIsSandbox ? `sandbox consent page at ${settings.zoomAuthorizeUrl}` : settings.zoomAuthorizeUrl;
  const lines = [
    '',
    'recall-zoom-connect — local mode',
    `  Demo page:         ${settings.baseUrl}/`,
    `  Redirect URI:      ${settings.zoomRedirectUri}`,
    `  Zoom:              ${zoom}`,
    `  Recall:            ${recall}`,
    `  DynamoDB:          dynalite in memory at ${dynamoDbEndpoint}, table ${settings.tableName}`,
    `  Zoom webhook:      ${settings.apiBaseUrl}${WEBHOOK_PATH} (queue ${settings.webhookQueueUrl}, DLQ at /_local/dlq)`,
    `  Events:            bus ${settings.eventBusName}, from the outbox every ${LOCAL_OUTBOX_INTERVAL_SECONDS * 1000} ms (now: POST ${settings.baseUrl}${OUTBOX_PATH}), last ones at ${settings.baseUrl}/_local/events`,
    ...(settings.eventsEndpoint
      ? [
          `  Events endpoint:   POST ${withoutQuery(settings.eventsEndpoint.url)} with header ${settings.eventsEndpoint.headerName}, ` +
            `${settings.eventsEndpoint.maxAttempts} attempts; failed ones at ${settings.baseUrl}/_local/events?delivery=failed`,
        ]
      : []),
    `  Health sync:       every ${settings.healthSyncIntervalSeconds} s; now: POST ${settings.baseUrl}${HEALTH_SYNC_PATH}`,
    `  Reconcile:         POST ${settings.baseUrl}${RECONCILE_PATH} (?fix=true to repair${
      settings.recall.kind === 'external' && !settings.reconcileFixExternalRecall
        ? ': refused against this Recall unless started with RECONCILE_FIX_EXTERNAL_RECALL=true'
        : ''
    })`,
    `  Return URLs:       ${settings.returnUrlAllowlist}`,
    `  Connect link:      PORT=${settings.port} npm run -s connect-link -- --user <id> --return-to ${settings.baseUrl}/`,
  ];
  if (settings.recall.kind === 'external' && settings.zoomIsSandbox) {
    lines.push('  Warning: a real Recall cannot exchange codes from the sandbox Zoom; set ZOOM_AUTHORIZE_URL too.');
  }
  if (!dualStack) lines.push('  (IPv6 loopback unavailable: listening on 127.0.0.1 only.)');
  lines.push('  Stop with Ctrl+C.', '');
  return lines.join('\n');
}

async function main(): Promise<void> {
  // Lambda runs Node.js 24; the AWS SDK's notice about an older local Node.js is not news to a developer.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let server: LocalServer;
  try {
    server = await startLocalServer();
  } catch (error) {
    if (error instanceof LocalConfigError) console.error(error.message);
    else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      console.error(`Port ${process.env.PORT ?? LOCAL_DEFAULTS.port} is in use. Set PORT to another port.`);
    } else console.error(describeError(error));
    process.exit(1);
  }
  // So that `npm run connect-link` and `npm run doctor -- --local` find this server without PORT.
  const unregister = registerServer({
    port: server.port,
    baseUrl: server.settings.baseUrl,
    apiBaseUrl: server.settings.apiBaseUrl,
    returnUrlAllowlist: server.settings.returnUrlAllowlist,
    sandboxRecall: server.settings.recall.kind === 'sandbox',
  });
  process.on('exit', unregister);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) void main();
