import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { build } from 'esbuild';
import { fork } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { matchRoute, toHttpApiEvent } from '../../../local/api-gateway.js';
import { LAMBDA_ROUTES } from '../../../local/routes.js';
import type { LocalServer } from '../../../local/server.js';
import type { ServiceTable } from '../../helpers/service-table.js';
import type { PendingCallback } from './pending-callback.js';

/**
 * A real crash of the callback: the handler runs in a child process (`callback-process.ts`) with the environment
 * local mode gives its handlers, and the test kills it (SIGKILL) once it reached a chosen step boundary, which a
 * sandbox Recall fault or a held DynamoDB request (`DynamoProxy`) marks. Whatever the child had not done yet stays
 * undone: no `finally`, no lock release, exactly what a Lambda that dies leaves behind.
 */

const RUNNER = fileURLToPath(new URL('./callback-process.ts', import.meta.url));

/** ESM bundles cannot `require`; CommonJS dependencies inside them still do (as the stack's bundling does it). */
const ESM_REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** The API Gateway payload 2.0 event local mode would build for this browser's request to its callback URL. */
export function callbackEvent(pending: PendingCallback): APIGatewayProxyEventV2 {
  const url = new URL(pending.callbackUrl);
  const match = matchRoute(LAMBDA_ROUTES, 'GET', url.pathname);
  if (match?.route.functionName !== 'callback') throw new Error(`${url.pathname} is not the callback route.`);
  const cookie = pending.browser.cookieHeaderFor(pending.callbackUrl);
  return toHttpApiEvent(
    {
      method: 'GET',
      target: `${url.pathname}${url.search}`,
      rawHeaders: ['Host', url.host, 'User-Agent', 'integration-test-browser', ...(cookie ? ['Cookie', cookie] : [])],
      body: Buffer.alloc(0),
      sourceIp: '127.0.0.1',
      protocol: 'HTTP/1.1',
    },
    { routeKey: match.route.routeKey },
  );
}

export interface CrashOptions {
  /** The browser that came back from Zoom: its callback is the invocation that dies. */
  pending: PendingCallback;
  /** Resolves once the child reached the step it must die at (a sandbox fault applied, a DynamoDB request held). */
  crashPoint: Promise<unknown>;
  /** Variables over the handlers' environment, e.g. a short `CALLBACK_DEADLINE_MS`. */
  env?: Record<string, string>;
  /** How long the child may take to reach the crash point (its start included). */
  timeoutMs?: number;
}

export interface CrashReport {
  /** The child's log (Powertools JSON lines), for messages. */
  log: string;
}

/**
 * Kills callbacks at chosen steps. The runner and the handler are bundled once (esbuild, as the stack bundles the
 * function), so a child starts in a fraction of a second; its DynamoDB calls go through a `DynamoProxy`.
 */
export class CrashHarness {
  private constructor(
    /** Between the children and dynalite: holds the request a crash point names. */
    readonly dynamo: DynamoProxy,
    private readonly bundleDir: string,
  ) {}

  /** For a started local server: the children run with its handlers' environment (set on this process). */
  static async start(server: LocalServer): Promise<CrashHarness> {
    const bundleDir = await mkdtemp(join(tmpdir(), 'callback-process-'));
    try {
      await build({
        entryPoints: [RUNNER],
        outfile: join(bundleDir, 'callback-process.mjs'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: `node${process.versions.node.split('.')[0]}`,
        mainFields: ['module', 'main'],
        banner: { js: ESM_REQUIRE_BANNER },
        logLevel: 'silent',
      });
      return new CrashHarness(await DynamoProxy.start(server.dynamoDbEndpoint), bundleDir);
    } catch (error) {
      await rm(bundleDir, { recursive: true, force: true });
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.dynamo.close();
    await rm(this.bundleDir, { recursive: true, force: true });
  }

  /**
   * Runs the callback handler for `pending` in a child process and kills it at `crashPoint`.
   * @throws when the child finished, failed or timed out before reaching the crash point (with its log)
   */
  async crash({ pending, crashPoint, env = {}, timeoutMs = 15_000 }: CrashOptions): Promise<CrashReport> {
    const child = fork(join(this.bundleDir, 'callback-process.mjs'), [], {
      execArgv: [],
      // Local mode sets this process's environment for its handlers (`startLocalServer`): the child gets the same.
      env: {
        ...process.env,
        AWS_ENDPOINT_URL_DYNAMODB: this.dynamo.url,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let log = '';
    child.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const message = (kind: string) =>
      new Promise<unknown>((resolve) => {
        const listener = (received: { kind?: string; result?: unknown }) => {
          if (received.kind !== kind) return;
          child.off('message', listener);
          resolve(received.result);
        };
        child.on('message', listener);
      });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const failure = (what: string) => new Error(`The callback process ${what} before its crash point.\n${log.slice(-6_000)}`);
    try {
      const ready = await Promise.race([message('ready').then(() => 'ready' as const), exited, timedOut]);
      if (ready !== 'ready') throw failure(ready === 'timeout' ? 'did not start in time' : 'exited');
      child.send({ kind: 'invoke', event: callbackEvent(pending) });
      const reached = await Promise.race([
        crashPoint.then(() => 'crash' as const),
        message('result').then((result) => ({ result })),
        exited,
        timedOut,
      ]);
      if (reached !== 'crash') {
        throw failure(
          reached === 'timeout' ? 'timed out' : 'result' in reached ? `finished (${JSON.stringify(reached.result)})` : 'exited',
        );
      }
      child.kill('SIGKILL');
      const { signal } = await exited;
      if (signal !== 'SIGKILL') throw failure(`ended by ${signal ?? 'itself'}`);
      return { log };
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

/** One DynamoDB request as the proxy saw it: the operation (`X-Amz-Target`) and the JSON body. */
export interface DynamoCall {
  /** `DynamoDB_20120810.UpdateItem`, ... */
  target: string;
  body: string;
}

interface Hold {
  match: (call: DynamoCall, earlier: readonly DynamoCall[]) => boolean;
  held: (call: DynamoCall) => void;
}

/**
 * A pass-through HTTP proxy in front of dynalite that can hold one chosen request forever: the handler in the
 * child waits for an answer that never comes, and the test kills it there. Requests it forwards are done by
 * dynalite even when the caller dies meanwhile, as DynamoDB does.
 */
export class DynamoProxy {
  readonly #server;
  readonly #upstream: URL;
  readonly #holds: Hold[] = [];
  readonly #held = new Set<ServerResponse>();
  /** Requests forwarded so far, oldest first. */
  readonly calls: DynamoCall[] = [];
  url = '';

  private constructor(upstream: string) {
    this.#upstream = new URL(upstream);
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
  }

  static async start(upstream: string): Promise<DynamoProxy> {
    const proxy = new DynamoProxy(upstream);
    await new Promise<void>((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve));
    proxy.url = `http://127.0.0.1:${(proxy.#server.address() as AddressInfo).port}`;
    return proxy;
  }

  /**
   * Holds the first request `match` accepts; `earlier` are the requests forwarded before it.
   * @returns the request, once it is held
   */
  holdWhen(match: Hold['match']): Promise<DynamoCall> {
    return new Promise((held) => this.#holds.push({ match, held }));
  }

  async close(): Promise<void> {
    for (const res of this.#held) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const call: DynamoCall = { target: String(req.headers['x-amz-target'] ?? ''), body: body.toString('utf8') };
    const hold = this.#holds.findIndex((candidate) => candidate.match(call, this.calls));
    if (hold >= 0) {
      const [{ held }] = this.#holds.splice(hold, 1) as [Hold];
      this.#held.add(res);
      res.on('close', () => this.#held.delete(res));
      held(call);
      return;
    }
    this.calls.push(call);
    const forwarded = request(
      {
        host: this.#upstream.hostname,
        port: this.#upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: this.#upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    forwarded.end(body);
  }
}

/**
 * Lets a crashed holder's lease on an identity lock run out now, as if its time had passed (the way `ageCredentials`
 * moves Recall's clock): the next holder takes the lock over without waiting. Only for a scenario whose point is
 * not the wait (the other crash points wait it out for real).
 * @param key - the lock item's partition key (`lockKey`)
 * @returns false when there was no lock item
 */
export function endLease(table: ServiceTable, key: string): Promise<boolean> {
  return table.set(key, { leaseUntil: { N: String(Date.now() - 1) } });
}
