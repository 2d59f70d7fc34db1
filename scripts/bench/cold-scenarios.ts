import { signConnectToken } from '../../functions/connect/connect-token.js';
import type { DeployedFunction } from './bundles.js';
import type { ColdInvocation, ColdVariant } from './cold-start.js';
import { type HttpFake, type LocalTable, startAwsJsonFake, startLocalTable, startMinimalRecall } from './fakes.js';
import {
  benchSecrets,
  BENCH,
  httpEvent,
  lambdaRuntimeEnvironment,
  resolveStackEnvironment,
  returnToFor,
  sealedAttempt,
} from './scenario.js';

/** The functions the cold-start, warm and budget parts cover; every deployed function gets its size reported. */
export const MEASURED = ['authorize', 'callback'] as const;
export type Measured = (typeof MEASURED)[number];

export interface FunctionEnvironment {
  /** Lambda's runtime variables + the stack's (NODE_OPTIONS left out) + the given endpoints. */
  clean: Record<string, string>;
  /** The stack's NODE_OPTIONS, if it sets one. */
  nodeOptions: string | undefined;
  /** Stack variables that were deploy-time intrinsics without a local value. */
  unresolved: string[];
  /** Variables the design needs that the template does not set yet, added by the bench. */
  added: string[];
}

/** The child environment of one function: Lambda's runtime variables, the stack's, and the local endpoints. */
export function functionEnvironment(fn: DeployedFunction, endpoints: Readonly<Record<string, string>>): FunctionEnvironment {
  const { stack, unresolved, added } = resolveStackEnvironment(fn.variables, fn.name);
  const { NODE_OPTIONS: nodeOptions, ...withoutNodeOptions } = stack;
  return {
    clean: { ...lambdaRuntimeEnvironment(`bench-${fn.name}`), ...withoutNodeOptions, ...endpoints },
    nodeOptions,
    unresolved,
    added,
  };
}

export interface LocalEndpoints {
  table: LocalTable;
  aws: HttpFake;
  recall: HttpFake;
  /** The variables that point the functions at them. */
  env: Record<string, string>;
  /** Builds one valid invocation of a function (not timed): a signed connect token, or a state + sealed cookie. */
  invocation(name: Measured, env: Readonly<Record<string, string>>): () => Promise<ColdInvocation>;
  close(): Promise<void>;
}

/**
 * Dynalite with the service table, the Secrets Manager (its extension's API included) and EventBridge fake, and
 * the minimal Recall.
 */
export async function startLocalEndpoints(): Promise<LocalEndpoints> {
  const table = await startLocalTable(BENCH.tableName);
  const aws = await startAwsJsonFake(
    benchSecrets(),
    lambdaRuntimeEnvironment('bench').AWS_SESSION_TOKEN as string,
  );
  const recall = await startMinimalRecall(BENCH.recallApiKey);
  let serial = 0;
  return {
    table,
    aws,
    recall,
    env: {
      AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: aws.url,
      // Where the extension layer listens in Lambda (CDK's paramsAndSecrets sets the variable); here the fake.
      PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: new URL(aws.url).port,
      RECALL_API_BASE_URL: recall.url,
    },
    invocation(name, env) {
      if (name === 'authorize') {
        const zoomAuthorizeUrl = env.ZOOM_AUTHORIZE_URL ?? 'https://zoom.us/oauth/authorize';
        return async () => {
          const userId = `bench-user-${++serial}`;
          const token = await signConnectToken({ userId, returnTo: returnToFor(env) }, BENCH.signingKey);
          return {
            event: httpEvent({ path: '/zoom/authorize', query: { connect_token: token } }),
            verify: (r) =>
              r.statusCode === 302 && r.location?.startsWith(zoomAuthorizeUrl) ? undefined : `expected 302 to Zoom, got ${JSON.stringify(r)}`,
          };
        };
      }
      return async () => {
        // A new user each time: every callback takes the first-connect path, as a fresh state would.
        const { state, cookie } = await sealedAttempt(`bench-user-${++serial}`, returnToFor(env));
        return {
          event: httpEvent({ path: '/zoom/callback', query: { code: `bench-code-${serial}`, state }, cookies: [cookie] }),
          verify: (r) =>
            r.statusCode === 302 && r.location?.includes('zoom_connect=connected')
              ? undefined
              : `expected 302 with zoom_connect=connected, got ${JSON.stringify(r)}`,
        };
      };
    },
    close: async () => {
      await Promise.all([table.close(), aws.close(), recall.close()]);
    },
  };
}

/** A variant that serves one invocation of `name` from `bundlePath` with the function's clean environment. */
export function invokeVariant(
  key: string,
  fn: DeployedFunction,
  bundlePath: string,
  endpoints: LocalEndpoints,
  extraEnv: Readonly<Record<string, string>> = {},
): ColdVariant {
  const env = functionEnvironment(fn, endpoints.env).clean;
  return {
    key,
    bundlePath,
    exportName: fn.handler.slice(fn.handler.lastIndexOf('.') + 1),
    env: { ...env, ...extraEnv },
    bareEnv: env,
    prepare: endpoints.invocation(fn.name as Measured, env),
  };
}

/** The same bundle imported and not invoked: splits a cold start into init and first invocation. */
export function importOnlyVariant(key: string, fn: DeployedFunction, bundlePath: string, endpoints: LocalEndpoints): ColdVariant {
  const env = functionEnvironment(fn, endpoints.env).clean;
  return {
    key,
    bundlePath,
    exportName: '-',
    env,
    bareEnv: env,
    prepare: async () => ({ event: httpEvent({ path: '/' }), verify: (r) => (r.statusCode === 0 ? undefined : 'import failed') }),
  };
}
