import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { bindingCookieName } from '../../functions/connect/browser-binding.js';
import { randomToken, sha256Hex } from '../../functions/core/crypto.js';
import { sealOAuthState } from '../../functions/connect/oauth-state.js';

/**
 * What every bench run uses: the local stand-ins for the stack's resources and secrets, the Lambda runtime's own
 * variables, and API Gateway (payload 2.0) events. Shared by the cold-start parent and the warm-latency child.
 */
export const BENCH = {
  tableName: 'recall-zoom-connect-bench',
  recallApiKeySecretId: 'recall-zoom-connect/recall-api-key',
  zoomClientIdSecretId: 'recall-zoom-connect/zoom-client-id',
  zoomWebhookSecretTokenSecretId: 'recall-zoom-connect/zoom-webhook-secret-token',
  signingKeySecretId: 'recall-zoom-connect/connect-signing-key',
  signingKey: 'bench-connect-signing-key-0123456789abcdef',
  stateKeySecretId: 'recall-zoom-connect/state-key',
  stateKey: 'bench-state-cookie-key-0123456789abcdefghij',
  recallApiKey: 'bench-recall-api-key',
  zoomClientId: 'bench-zoom-client-id',
  /** Stands in for the execute-api URL the stack derives the redirect URI from. */
  zoomRedirectUri: 'https://abc123.execute-api.us-east-1.amazonaws.com/zoom/callback',
  region: 'us-east-1',
} as const;

/** Every secret of the stack by id, as ops fill them in and Secrets Manager generates them. */
export const benchSecrets = (): Record<string, string> => ({
  [BENCH.recallApiKeySecretId]: BENCH.recallApiKey,
  [BENCH.zoomClientIdSecretId]: BENCH.zoomClientId,
  [BENCH.zoomWebhookSecretTokenSecretId]: 'bench-webhook-token',
  [BENCH.signingKeySecretId]: BENCH.signingKey,
  [BENCH.stateKeySecretId]: BENCH.stateKey,
});

/** A CloudFormation value: a literal, or an intrinsic (`Ref`, `Fn::GetAtt`, `Fn::Join`) only known at deploy time. */
export type TemplateValue = string | number | boolean | Record<string, unknown>;

/** Values for the variables whose deployed value is an intrinsic (a table name, a secret ARN, the API URL). */
const DEPLOY_TIME_VALUES: Record<string, string> = {
  TABLE_NAME: BENCH.tableName,
  RECALL_API_KEY_SECRET_ID: BENCH.recallApiKeySecretId,
  ZOOM_CLIENT_ID_SECRET_ID: BENCH.zoomClientIdSecretId,
  ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID: BENCH.zoomWebhookSecretTokenSecretId,
  SIGNING_KEY_SECRET_ID: BENCH.signingKeySecretId,
  STATE_KEY_SECRET_ID: BENCH.stateKeySecretId,
  ZOOM_REDIRECT_URI: BENCH.zoomRedirectUri,
  EVENT_BUS_NAME: 'recall-zoom-connect-bench-bus',
  WEBHOOK_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/bench-webhooks',
};

/**
 * Variables the functions' design needs that a synthesized stack may not set yet (lib/ follows the functions in a
 * separate change): added to a function's environment only when its template lacks them, and reported, so the
 * bench measures the functions as they will be deployed.
 */
export const PENDING_STACK_VARIABLES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  authorize: { STATE_KEY_SECRET_ID: BENCH.stateKeySecretId },
  callback: { STATE_KEY_SECRET_ID: BENCH.stateKeySecretId },
};

export interface FunctionEnvironment {
  /** The function's variables as the stack sets them, with deploy-time values replaced by local ones. */
  stack: Record<string, string>;
  /** Variables that were intrinsics without a known local value (set to a placeholder; reported). */
  unresolved: string[];
  /** Variables of PENDING_STACK_VARIABLES the template did not set (added; reported). */
  added: string[];
}

/**
 * Resolves the function's `Environment.Variables` from the synthesized template. `NODE_OPTIONS` is kept here and
 * dropped by the callers that measure a clean start (see cold-start.ts).
 */
export function resolveStackEnvironment(
  variables: Readonly<Record<string, TemplateValue>>,
  functionName?: string,
): FunctionEnvironment {
  const stack: Record<string, string> = {};
  const unresolved: string[] = [];
  const added: string[] = [];
  for (const [name, value] of Object.entries(variables)) {
    if (typeof value !== 'object') stack[name] = String(value);
    else if (DEPLOY_TIME_VALUES[name] !== undefined) stack[name] = DEPLOY_TIME_VALUES[name];
    else {
      stack[name] = `bench-placeholder-${name.toLowerCase()}`;
      unresolved.push(name);
    }
  }
  for (const [name, value] of Object.entries(PENDING_STACK_VARIABLES[functionName ?? ''] ?? {})) {
    if (stack[name] !== undefined) continue;
    stack[name] = value;
    added.push(name);
  }
  return { stack, unresolved, added };
}

/**
 * One started attempt as Zoom's redirect back carries it: the `state` query value and the browser-binding cookie,
 * sealed exactly as the authorize step seals it (nothing is stored server-side until the callback uses it).
 * @param ttlSeconds - how long the attempt stays valid (the warm run reuses one attempt for every invocation)
 */
export async function sealedAttempt(
  userId: string,
  returnTo: string,
  ttlSeconds = 600,
): Promise<{ state: string; cookie: string }> {
  const state = randomToken();
  const stateId = sha256Hex(state);
  const sealed = await sealOAuthState(
    {
      stateId,
      userId,
      returnTo,
      codeVerifier: randomToken(),
      expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds,
      startedAtMs: Date.now(),
      // A connect link of its own, as authorize seals it: the callback uses it up with the state.
      link: { id: sha256Hex(randomToken()), expiresAt: Math.floor(Date.now() / 1000) + ttlSeconds },
      reauthCount: 0,
      correlationId: randomUUID(),
    },
    BENCH.stateKey,
  );
  return { state, cookie: `${bindingCookieName(stateId)}=${sealed}` };
}

/**
 * What the Lambda runtime itself sets (the parts SDK and Powertools read), with dummy credentials. Every child
 * process, bare `node -e 0` included, starts from this and nothing of the parent's environment: in particular no
 * NODE_EXTRA_CA_CERTS and no NODE_OPTIONS, which Lambda does not have.
 */
export function lambdaRuntimeEnvironment(functionName: string): Record<string, string> {
  return {
    AWS_REGION: BENCH.region,
    AWS_DEFAULT_REGION: BENCH.region,
    AWS_ACCESS_KEY_ID: 'ASIABENCHLOCAL000000',
    AWS_SECRET_ACCESS_KEY: 'bench-local-secret-access-key',
    AWS_SESSION_TOKEN: 'bench-local-session-token',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    AWS_LAMBDA_LOG_LEVEL: 'INFO',
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
  };
}

/** Where the user is sent back to: a page under the first allow-listed prefix. */
export function returnToFor(stackEnv: Readonly<Record<string, string>>): string {
  const first = (stackEnv.RETURN_URL_ALLOWLIST ?? '').split(',')[0]?.trim();
  if (!first) throw new Error('The function has no RETURN_URL_ALLOWLIST.');
  return new URL('onboarding?step=zoom', first.endsWith('/') ? first : `${first}/`).href;
}

export interface EventInput {
  path: string;
  query?: Record<string, string>;
  cookies?: string[];
}

/** An API Gateway HTTP API payload 2.0 event, cookies in `cookies` as AWS sends them. */
export function httpEvent({ path, query, cookies }: EventInput): APIGatewayProxyEventV2 {
  const routeKey = `GET ${path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: query ? new URLSearchParams(query).toString() : '',
    ...(cookies ? { cookies } : {}),
    headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com', 'user-agent': 'Mozilla/5.0 (bench)' },
    ...(query ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'Mozilla/5.0 (bench)' },
      requestId: 'bench-request',
      routeKey,
      stage: '$default',
      time: '30/Nov/2026:18:00:00 +0000',
      timeEpoch: 1_796_061_600_000,
    },
    isBase64Encoded: false,
  };
}

/**
 * The data of a Lambda context (what crosses to the cold-start child as JSON; `lambdaContext` adds the methods).
 * @param functionName - `AWS_LAMBDA_FUNCTION_NAME`
 */
export function lambdaContextFields(functionName: string): Omit<Context, 'getRemainingTimeInMillis' | 'done' | 'fail' | 'succeed'> {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/11/30/[$LATEST]bench',
  };
}

/** A Lambda context with time to spare (the cold-start child adds the same methods to `lambdaContextFields`). */
export function lambdaContext(functionName: string): Context {
  return {
    ...lambdaContextFields(functionName),
    getRemainingTimeInMillis: () => 25_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
