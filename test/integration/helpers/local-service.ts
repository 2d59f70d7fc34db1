import { afterEach, beforeAll } from 'vitest';
import {
  type SandboxRecall,
  type SandboxRecallBehaviour,
  type SandboxRecallOptions,
  startFakeRecall,
} from '../../../local/sandbox-recall.js';
import { type LocalServer, type LocalServerOptions, startLocalServer } from '../../../local/server.js';
import { lateBound, startForFile } from '../../helpers/file-fixture.js';
import { ServiceTable } from '../../helpers/service-table.js';

/**
 * The one fixture of the integration tests: local mode on a random port (dynalite with the service table, the
 * sandbox Recall and Zoom, the real handlers behind the API Gateway stand-in), and a client on its table.
 */
export interface LocalService {
  server: LocalServer;
  /** The server's own table in its dynalite, for what no route shows or changes. */
  table: ServiceTable;
  /**
   * The Recall the server talks to: its built-in sandbox, or with `externalRecall` the sandbox run as a server of
   * its own that the server reaches over `RECALL_API_BASE_URL`.
   */
  recall: SandboxRecall;
  close(): Promise<void>;
}

export interface LocalServiceOptions extends LocalServerOptions {
  /**
   * Runs a sandbox Recall as its own HTTP server and points local mode at it (`RECALL_API_BASE_URL`, its API key,
   * OAuth app and Zoom client id), the way a developer points local mode at real Recall.
   */
  externalRecall?: SandboxRecallOptions;
}

/**
 * Starts local mode quietly on a random port, for one test file: one local server per process, since the handlers
 * read `process.env` once. Every event is kept, so a test can check that each transition's event arrived.
 */
export async function startLocalService(options: LocalServiceOptions = {}): Promise<LocalService> {
  const { externalRecall, ...serverOptions } = options;
  const external = externalRecall ? await startFakeRecall(externalRecall) : undefined;
  try {
    const server = await startLocalServer({
      port: 0,
      log: () => undefined,
      eventCapacity: 10_000,
      ...serverOptions,
      env: {
        ...(external && {
          RECALL_API_BASE_URL: external.url,
          RECALL_API_KEY: external.sandbox.apiKey,
          RECALL_ZOOM_OAUTH_APP_ID: external.sandbox.oauthApp.id,
          ZOOM_CLIENT_ID: external.sandbox.oauthApp.clientId,
        }),
        ...serverOptions.env,
      },
    });
    // The standalone Recall exchanges codes with the sandbox Zoom that issued them.
    external?.sandbox.useZoom(server.sandboxZoom);
    const table = tableOf(server);
    return {
      server,
      table,
      recall: external?.sandbox ?? server.sandboxRecall,
      close: async () => {
        await table.close();
        await server.close();
        await external?.close();
      },
    };
  } catch (error) {
    await external?.close();
    throw error;
  }
}

/** A client on the server's own table (its dynalite, its `TABLE_NAME`); close it after use. */
export function tableOf(server: LocalServer): ServiceTable {
  return new ServiceTable(server.dynamoDbEndpoint, server.settings.tableName);
}

export interface UseLocalServiceOptions extends Omit<LocalServiceOptions, 'env'> {
  /** The variables, or a function giving them at the start, for values only known once earlier hooks ran. */
  env?: LocalServerOptions['env'] | (() => LocalServerOptions['env']);
  /**
   * After each test: wait for the queued webhooks, drop the faults a test left queued at the sandbox Recall and
   * set its behaviour back to the one it started with, so that no test inherits another's Recall.
   */
  resetAfterEach?: boolean;
  /** The start hook's timeout (default: the configured hookTimeout). */
  timeoutMs?: number;
}

/**
 * `startLocalService` for the test file (or the `describe` it is called in): started before its tests, closed after
 * them.
 * @returns stand-ins (`lateBound`) for the service's parts, usable from the file's top: `const { server } = ...`
 */
export function useLocalService(options: UseLocalServiceOptions = {}): Omit<LocalService, 'close'> {
  const { resetAfterEach, timeoutMs, env, ...serviceOptions } = options;
  const current = startForFile(
    () => startLocalService({ ...serviceOptions, env: typeof env === 'function' ? env() : env }),
    timeoutMs,
  );
  const part = <K extends keyof LocalService>(key: K) => lateBound(`The local service's ${key}`, () => current()?.[key]);
  const service = { server: part('server'), table: part('table'), recall: part('recall') };
  if (resetAfterEach) {
    let initial: SandboxRecallBehaviour | undefined;
    beforeAll(() => {
      initial = { ...service.recall.behaviour };
    });
    afterEach(async () => {
      await service.server.localAws.drain();
      service.recall.state.faults.length = 0;
      service.recall.configure(initial ?? {});
    });
  }
  return service;
}
