import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  APIGatewayEventRequestContextV2,
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  Context,
} from 'aws-lambda';
import { PayloadTooLargeError, readBody } from './http-util.js';

/**
 * A local stand-in for API Gateway HTTP API with Lambda proxy integrations, payload format 2.0. It builds events
 * the way AWS does, because a handler that only works with hand-made events breaks on AWS:
 * - `cookies` from the Cookie header(s), and no `cookie` in `headers`;
 * - header names lower-cased, duplicate headers and query parameters joined with commas;
 * - `rawPath`, `http.path` and `pathParameters` percent-decoded (HTTP APIs decode the path), `rawQueryString` as
 *   received, `queryStringParameters` decoded (a `+` stays a `+`);
 * - the body as text only for `text/*`, JSON, XML and JavaScript; anything else, a form post or a missing
 *   content type included, arrives base64-encoded with `isBase64Encoded: true` (observed on AWS; the docs only
 *   say "binary");
 * - an unmatched method or path is `404 {"message":"Not Found"}`, a thrown error `500 {"message":"Internal Server
 *   Error"}`, a Lambda timeout 500 and the 30 s integration timeout 503.
 */

export type HttpApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyResultV2>;

/** One route of the HTTP API, as the stack declares it: route key, function, authorization. */
export interface LambdaRoute {
  /** `METHOD /path/{param}` as in API Gateway; `ANY` and greedy `{proxy+}` work too. */
  routeKey: string;
  functionName: string;
  /** `iam` routes are open locally; the event carries a fixed local IAM caller, as an IAM-authorized event would. */
  authorization?: 'none' | 'iam';
  load: () => Promise<{ handler: HttpApiHandler }>;
}

export interface RouteMatch<R> {
  route: R;
  pathParameters?: Record<string, string>;
}

/** A request as received, before API Gateway turns it into an event. */
export interface RequestSnapshot {
  method: string;
  /** The request target: path and query exactly as received (percent-encoded). */
  target: string;
  /** Node's `rawHeaders`: names and values alternating, duplicates kept, case as sent. */
  rawHeaders: readonly string[];
  body: Buffer;
  sourceIp: string;
  protocol: string;
}

/** A handler result as API Gateway interprets it, ready to write to a socket. */
export interface HttpApiResponse {
  statusCode: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_API_ID = 'localapi01';
/** HTTP API's payload limit. */
const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** HTTP API refuses a request whose request line and headers together pass this many bytes. */
export const MAX_REQUEST_HEADER_BYTES = 10_240;
const TEXT_CONTENT_TYPE = /^(text\/[^;]*|application\/(json|xml|javascript))\s*(;|$)/i;

/**
 * Finds the route API Gateway would pick: literal paths before `{param}` paths before greedy `{param+}` paths.
 * @param path - the request path, still percent-encoded
 */
export function matchRoute<R extends { routeKey: string }>(
  routes: readonly R[],
  method: string,
  path: string,
): RouteMatch<R> | undefined {
  const segments = path.split('/').slice(1);
  const candidates = routes
    .map((route) => ({ route, ...parseRouteKey(route.routeKey) }))
    .filter((candidate) => candidate.method === 'ANY' || candidate.method === method.toUpperCase())
    .sort((a, b) => specificity(b.template) - specificity(a.template));
  for (const candidate of candidates) {
    const pathParameters = matchTemplate(candidate.template, segments);
    if (pathParameters) {
      return Object.keys(pathParameters).length > 0
        ? { route: candidate.route, pathParameters }
        : { route: candidate.route };
    }
  }
  return undefined;
}

function parseRouteKey(routeKey: string): { method: string; template: string[] } {
  const [method = '', path = '/'] = routeKey.split(' ', 2);
  return { method: method.toUpperCase(), template: path.split('/').slice(1) };
}

/** Literal segments beat `{param}`, and anything beats a greedy `{param+}` (templates that can both match). */
function specificity(template: readonly string[]): number {
  const literals = template.filter((segment) => !segment.startsWith('{')).length;
  return template.some((segment) => /^\{.+\+\}$/.test(segment)) ? literals : 1000 + literals;
}

function matchTemplate(template: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const part = template[i] as string;
    const greedy = /^\{(.+)\+\}$/.exec(part);
    if (greedy) {
      const rest = segments.slice(i);
      if (rest.length === 0 || rest.every((segment) => segment === '')) return undefined;
      parameters[greedy[1] as string] = decodePath(rest.join('/'));
      return parameters;
    }
    const segment = segments[i];
    if (segment === undefined) return undefined;
    const param = /^\{(.+)\}$/.exec(part);
    if (param) {
      if (segment === '') return undefined;
      parameters[param[1] as string] = decodePath(segment);
    } else if (decodePath(segment) !== part) {
      return undefined;
    }
  }
  return segments.length === template.length ? parameters : undefined;
}

/** Percent-decoding that leaves a malformed sequence as it is instead of throwing. */
function decodePath(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** The size API Gateway limits: the request line and every header, as sent. */
export function requestHeaderBytes(request: Pick<RequestSnapshot, 'method' | 'target' | 'protocol' | 'rawHeaders'>): number {
  let bytes = Buffer.byteLength(`${request.method} ${request.target} ${request.protocol}\r\n`);
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    bytes += Buffer.byteLength(`${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}\r\n`);
  }
  return bytes;
}

/** Reads what API Gateway needs from a Node request. */
export async function snapshotOf(req: IncomingMessage): Promise<RequestSnapshot> {
  return {
    method: req.method ?? 'GET',
    target: req.url ?? '/',
    rawHeaders: req.rawHeaders,
    body: await readBody(req, MAX_PAYLOAD_BYTES),
    sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    protocol: `HTTP/${req.httpVersion}`,
  };
}

export interface EventOptions {
  routeKey: string;
  pathParameters?: Record<string, string>;
  authorization?: 'none' | 'iam';
  requestId?: string;
  now?: number;
}

/**
 * Builds the payload 2.0 event API Gateway would send for this request.
 * @param request - the request as received
 * @param options - the matched route and its path parameters
 */
export function toHttpApiEvent(request: RequestSnapshot, options: EventOptions): APIGatewayProxyEventV2 {
  const now = options.now ?? Date.now();
  const queryStart = request.target.indexOf('?');
  const encodedPath = queryStart === -1 ? request.target : request.target.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? '' : request.target.slice(queryStart + 1);
  const path = decodePath(encodedPath);
  const { headers, cookies } = joinHeaders(request.rawHeaders);

  // API Gateway adds these on the way in; handlers may read them (client IP, scheme).
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${request.sourceIp}`
    : request.sourceIp;
  headers['x-forwarded-proto'] = 'http';
  const host = headers.host ?? 'localhost';
  headers['x-forwarded-port'] = /:(\d+)$/.exec(host)?.[1] ?? '80';
  headers['x-amzn-trace-id'] = `Root=1-${Math.floor(now / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  const requestId = options.requestId ?? randomBytes(10).toString('base64');
  const requestContext: APIGatewayEventRequestContextV2 & { authorizer?: object } = {
    accountId: LOCAL_ACCOUNT_ID,
    apiId: LOCAL_API_ID,
    domainName: host,
    domainPrefix: host.split('.')[0]?.split(':')[0] ?? host,
    http: {
      method: request.method.toUpperCase(),
      path,
      protocol: request.protocol,
      sourceIp: request.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId,
    routeKey: options.routeKey,
    stage: '$default',
    time: formatRequestTime(now),
    timeEpoch: now,
  };
  if (options.authorization === 'iam') requestContext.authorizer = { iam: LOCAL_IAM_CALLER };

  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: options.routeKey,
    rawPath: path,
    rawQueryString,
    headers,
    requestContext,
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  const query = parseQuery(rawQueryString);
  if (query) event.queryStringParameters = query;
  if (options.pathParameters) event.pathParameters = { ...options.pathParameters };
  if (request.body.length > 0) {
    const isText = TEXT_CONTENT_TYPE.test(headers['content-type'] ?? '');
    event.body = request.body.toString(isText ? 'utf8' : 'base64');
    event.isBase64Encoded = !isText;
  }
  return event;
}

/** The IAM caller an IAM-authorized route sees locally (no signature is checked). */
const LOCAL_IAM_CALLER = {
  accessKey: 'LOCALACCESSKEY',
  accountId: LOCAL_ACCOUNT_ID,
  callerId: 'LOCALCALLER',
  cognitoIdentity: null,
  principalOrgId: null,
  userArn: `arn:aws:iam::${LOCAL_ACCOUNT_ID}:user/local-developer`,
  userId: 'LOCALCALLER',
};

function joinHeaders(rawHeaders: readonly string[]): { headers: Record<string, string>; cookies: string[] } {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = rawHeaders[i + 1] as string;
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((cookie) => cookie.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  return { headers, cookies };
}

function parseQuery(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const pair of rawQueryString.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = decodePath(equals === -1 ? pair : pair.slice(0, equals));
    const value = decodePath(equals === -1 ? '' : pair.slice(equals + 1));
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return Object.keys(parameters).length > 0 ? parameters : undefined;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's `requestContext.time`. */
function formatRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} +0000`;
}

/**
 * Interprets a handler's return value as HTTP API does for payload 2.0: a structured result is used as given; a
 * value without `statusCode` is a 200 JSON response of that value.
 * @returns undefined when the result is malformed (API Gateway answers 500)
 */
export function toHttpApiResponse(result: unknown): HttpApiResponse | undefined {
  if (typeof result === 'string') {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, cookies: [], body: Buffer.from(result) };
  }
  if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      cookies: [],
      body: Buffer.from(JSON.stringify(result ?? null)),
    };
  }
  const { statusCode, headers = {}, cookies = [], body = '', isBase64Encoded = false } = result as Record<string, unknown>;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    return undefined;
  }
  if (typeof headers !== 'object' || headers === null || !Array.isArray(cookies) || typeof body !== 'string') {
    return undefined;
  }
  const headerValues: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) headerValues[name.toLowerCase()] = String(value);
  return {
    statusCode,
    headers: headerValues,
    cookies: cookies.map(String),
    body: Buffer.from(body, isBase64Encoded === true ? 'base64' : 'utf8'),
  };
}

/** Writes a response; each cookie becomes its own `set-cookie` header. */
export function writeHttpApiResponse(res: ServerResponse, response: HttpApiResponse, requestId: string): void {
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  const setCookie = [...(response.headers['set-cookie'] ? [response.headers['set-cookie']] : []), ...response.cookies];
  if (setCookie.length > 0) res.setHeader('set-cookie', setCookie);
  res.setHeader('apigw-requestid', requestId);
  res.writeHead(response.statusCode);
  res.end(response.body);
}

const gatewayError = (statusCode: number, message: string): HttpApiResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json' },
  cookies: [],
  body: Buffer.from(JSON.stringify({ message })),
});

export interface LambdaContextOptions {
  functionName: string;
  region: string;
  timeoutMs: number;
  now?: number;
}

/** A Lambda `Context` like the Node.js runtime's, with a real deadline behind `getRemainingTimeInMillis`. */
export function lambdaContext({ functionName, region, timeoutMs, now = Date.now() }: LambdaContextOptions): Context {
  const deadline = now + timeoutMs;
  const date = new Date(now).toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${LOCAL_ACCOUNT_ID}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `${date}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface HttpApiOptions {
  routes: readonly LambdaRoute[];
  region?: string;
  /** The functions' timeout; past it the invocation fails with 500. Default 25 s. */
  lambdaTimeoutMs?: number;
  /** HTTP APIs give up on an integration after 30 s with 503. */
  integrationTimeoutMs?: number;
  /** Called when a handler throws, times out or returns a malformed result. */
  onFunctionError?: (info: { functionName: string; error: unknown }) => void;
}

/** The HTTP API: routes requests to handlers, loading each handler module on first use. */
export class HttpApi {
  readonly #options: Required<Omit<HttpApiOptions, 'onFunctionError'>> & Pick<HttpApiOptions, 'onFunctionError'>;
  readonly #handlers = new Map<LambdaRoute, Promise<HttpApiHandler>>();

  constructor(options: HttpApiOptions) {
    this.#options = { region: 'us-east-1', lambdaTimeoutMs: 25_000, integrationTimeoutMs: 30_000, ...options };
  }

  /** Imports every handler now, so a configuration error fails the start instead of the first request. */
  async loadAll(): Promise<void> {
    await Promise.all(this.#options.routes.map((route) => this.#handlerOf(route)));
  }

  /** Serves a request that no local route took. Always answers. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomBytes(10).toString('base64');
    let response: HttpApiResponse;
    try {
      response = await this.invoke(await snapshotOf(req), requestId);
    } catch (error) {
      response =
        error instanceof PayloadTooLargeError
          ? gatewayError(413, 'Request Entity Too Large')
          : gatewayError(500, 'Internal Server Error');
    }
    writeHttpApiResponse(res, response, requestId);
  }

  /** Routes one request to its handler in-process; the demo page reads connections this way. */
  async invoke(request: RequestSnapshot, requestId = randomBytes(10).toString('base64')): Promise<HttpApiResponse> {
    // Before routing, as API Gateway does: too many cookies lock a browser out of every route.
    if (requestHeaderBytes(request) > MAX_REQUEST_HEADER_BYTES) return gatewayError(431, 'Request Header Fields Too Large');
    const path = request.target.split('?')[0] ?? '/';
    const match = matchRoute(this.#options.routes, request.method, path);
    if (!match) return gatewayError(404, 'Not Found');
    const { route } = match;
    const event = toHttpApiEvent(request, {
      routeKey: route.routeKey,
      authorization: route.authorization ?? 'none',
      requestId,
      ...(match.pathParameters ? { pathParameters: match.pathParameters } : {}),
    });
    const { lambdaTimeoutMs, integrationTimeoutMs, region } = this.#options;
    const context = lambdaContext({ functionName: route.functionName, region, timeoutMs: lambdaTimeoutMs });
    const timers: NodeJS.Timeout[] = [];
    const after = <T>(ms: number, value: T) =>
      new Promise<T>((resolve) => timers.push(setTimeout(() => resolve(value), ms)));
    try {
      const handler = await this.#handlerOf(route);
      const outcome = await Promise.race([
        handler(event, context).then(
          (result) => ({ kind: 'result' as const, result }),
          (error: unknown) => ({ kind: 'error' as const, error }),
        ),
        after(lambdaTimeoutMs, { kind: 'lambda-timeout' as const }),
        after(integrationTimeoutMs, { kind: 'integration-timeout' as const }),
      ]);
      if (outcome.kind === 'integration-timeout') return gatewayError(503, 'Service Unavailable');
      if (outcome.kind === 'lambda-timeout') {
        this.#functionError(route, new Error(`Task timed out after ${lambdaTimeoutMs / 1000} seconds`));
        return gatewayError(500, 'Internal Server Error');
      }
      if (outcome.kind === 'error') {
        this.#functionError(route, outcome.error);
        return gatewayError(500, 'Internal Server Error');
      }
      const response = toHttpApiResponse(outcome.result);
      if (!response) {
        this.#functionError(route, new Error('The function returned a malformed response.'));
        return gatewayError(500, 'Internal Server Error');
      }
      return response;
    } catch (error) {
      this.#functionError(route, error);
      return gatewayError(500, 'Internal Server Error');
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  }

  #handlerOf(route: LambdaRoute): Promise<HttpApiHandler> {
    let handler = this.#handlers.get(route);
    if (!handler) {
      handler = route.load().then((module) => {
        if (typeof module.handler !== 'function') throw new Error(`${route.functionName} exports no handler.`);
        return module.handler;
      });
      this.#handlers.set(route, handler);
    }
    return handler;
  }

  #functionError(route: LambdaRoute, error: unknown): void {
    this.#options.onFunctionError?.({ functionName: route.functionName, error });
  }
}
