import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import {
  HttpApi,
  type HttpApiHandler,
  type LambdaRoute,
  lambdaContext,
  MAX_REQUEST_HEADER_BYTES,
  matchRoute,
  type RequestSnapshot,
  requestHeaderBytes,
  toHttpApiEvent,
  toHttpApiResponse,
} from '../../../local/api-gateway.js';

const snapshot = (overrides: Partial<RequestSnapshot> = {}): RequestSnapshot => ({
  method: 'GET',
  target: '/',
  rawHeaders: ['Host', 'localhost:3000', 'User-Agent', 'test-agent'],
  body: Buffer.alloc(0),
  sourceIp: '127.0.0.1',
  protocol: 'HTTP/1.1',
  ...overrides,
});

describe('toHttpApiEvent', () => {
  it('builds the payload 2.0 envelope API Gateway sends', () => {
    // Act
    const event = toHttpApiEvent(snapshot({ target: '/zoom/callback?code=abc&state=xyz' }), {
      routeKey: 'GET /zoom/callback',
      requestId: 'req-1',
      now: Date.UTC(2020, 2, 12, 19, 3, 58),
    });

    // Assess
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /zoom/callback',
      rawPath: '/zoom/callback',
      rawQueryString: 'code=abc&state=xyz',
      queryStringParameters: { code: 'abc', state: 'xyz' },
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: '/zoom/callback', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test-agent' },
        requestId: 'req-1',
        routeKey: 'GET /zoom/callback',
        stage: '$default',
        time: '12/Mar/2020:19:03:58 +0000',
        timeEpoch: Date.UTC(2020, 2, 12, 19, 3, 58),
        domainName: 'localhost:3000',
      },
    });
    expect(event.requestContext.accountId).toMatch(/^\d{12}$/);
    expect(event.cookies).toBeUndefined();
    expect(event.body).toBeUndefined();
    expect(event.pathParameters).toBeUndefined();
  });

  it('moves cookies out of the headers into `cookies`, across several Cookie headers', () => {
    const event = toHttpApiEvent(
      snapshot({ rawHeaders: ['Host', 'h', 'Cookie', 'a=1; b=2', 'cookie', 'c=3'] }),
      { routeKey: 'GET /' },
    );
    expect(event.cookies).toEqual(['a=1', 'b=2', 'c=3']);
    expect(event.headers.cookie).toBeUndefined();
  });

  it('lower-cases header names and joins duplicates with commas, even those Node would drop', () => {
    const event = toHttpApiEvent(
      snapshot({
        rawHeaders: ['Host', 'h', 'X-Custom', 'one', 'x-custom', 'two', 'User-Agent', 'a', 'User-Agent', 'b'],
      }),
      { routeKey: 'GET /' },
    );
    expect(event.headers['x-custom']).toBe('one,two');
    expect(event.headers['user-agent']).toBe('a,b');
    expect(event.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(event.headers['x-forwarded-proto']).toBe('http');
  });

  it('joins duplicate query parameters with commas, decodes values and keeps the raw query as received', () => {
    const event = toHttpApiEvent(snapshot({ target: '/p?a=1&a=2&b=x%20y%2Cz&c=a+b&flag&=v' }), { routeKey: 'GET /p' });
    expect(event.rawQueryString).toBe('a=1&a=2&b=x%20y%2Cz&c=a+b&flag&=v');
    expect(event.queryStringParameters).toEqual({ a: '1,2', b: 'x y,z', c: 'a+b', flag: '', '': 'v' });
  });

  it('decodes the path and path parameters, as HTTP APIs do', () => {
    const event = toHttpApiEvent(snapshot({ target: '/connections/user%40example.com' }), {
      routeKey: 'GET /connections/{userId}',
      pathParameters: { userId: 'user@example.com' },
    });
    expect(event.rawPath).toBe('/connections/user@example.com');
    expect(event.requestContext.http.path).toBe('/connections/user@example.com');
    expect(event.pathParameters).toEqual({ userId: 'user@example.com' });
  });

  it('passes JSON and text bodies as text', () => {
    const json = toHttpApiEvent(
      snapshot({ method: 'POST', rawHeaders: ['Content-Type', 'application/json; charset=utf-8'], body: Buffer.from('{"a":1}') }),
      { routeKey: 'POST /zoom/webhook' },
    );
    expect(json).toMatchObject({ body: '{"a":1}', isBase64Encoded: false });
  });

  it('base64-encodes form posts, binary bodies and bodies without a content type', () => {
    for (const rawHeaders of [
      ['Content-Type', 'application/x-www-form-urlencoded'],
      ['Content-Type', 'application/octet-stream'],
      [],
    ]) {
      const body = Buffer.from('a=1&b=\u00e9');
      const event = toHttpApiEvent(snapshot({ method: 'POST', rawHeaders, body }), { routeKey: 'POST /x' });
      expect(event.isBase64Encoded).toBe(true);
      expect(Buffer.from(event.body as string, 'base64').equals(body)).toBe(true);
    }
  });

  it('adds the local IAM caller on IAM-authorized routes only', () => {
    const iam = toHttpApiEvent(snapshot(), { routeKey: 'GET /connections/{userId}', authorization: 'iam' });
    expect(iam.requestContext).toHaveProperty('authorizer.iam.userArn');
    const open = toHttpApiEvent(snapshot(), { routeKey: 'GET /zoom/authorize' });
    expect(open.requestContext).not.toHaveProperty('authorizer');
  });
});

describe('matchRoute', () => {
  const routes = [
    { routeKey: 'GET /connections/{userId}' },
    { routeKey: 'GET /connections/me' },
    { routeKey: 'DELETE /connections/{userId}' },
    { routeKey: 'ANY /files/{proxy+}' },
  ];

  it('prefers literal segments and matches methods exactly', () => {
    expect(matchRoute(routes, 'GET', '/connections/me')?.route.routeKey).toBe('GET /connections/me');
    expect(matchRoute(routes, 'GET', '/connections/u%201')).toMatchObject({
      route: { routeKey: 'GET /connections/{userId}' },
      pathParameters: { userId: 'u 1' },
    });
    expect(matchRoute(routes, 'DELETE', '/connections/u1')?.route.routeKey).toBe('DELETE /connections/{userId}');
    expect(matchRoute(routes, 'POST', '/connections/u1')).toBeUndefined();
  });

  it('does not match a trailing slash, a missing segment or an extra one', () => {
    expect(matchRoute(routes, 'GET', '/connections/u1/')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/connections/')).toBeUndefined();
    expect(matchRoute(routes, 'GET', '/connections/u1/extra')).toBeUndefined();
  });

  it('matches greedy parameters on any method', () => {
    expect(matchRoute(routes, 'PUT', '/files/a/b%20c')).toMatchObject({ pathParameters: { proxy: 'a/b c' } });
  });
});

describe('toHttpApiResponse', () => {
  it('takes a structured result as given and decodes a base64 body', () => {
    const response = toHttpApiResponse({
      statusCode: 201,
      headers: { 'X-Count': 3, 'content-type': 'application/octet-stream' },
      body: Buffer.from([0, 1, 2]).toString('base64'),
      isBase64Encoded: true,
      cookies: ['a=1'],
    });
    expect(response).toMatchObject({ statusCode: 201, headers: { 'x-count': '3' }, cookies: ['a=1'] });
    expect([...(response?.body ?? [])]).toEqual([0, 1, 2]);
  });

  it('turns a value without statusCode into a 200 JSON response, and a malformed one into undefined', () => {
    expect(toHttpApiResponse({ ok: true })).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
    expect(toHttpApiResponse('hello')?.body.toString()).toBe('hello');
    expect(toHttpApiResponse({ statusCode: 'teapot' })).toBeUndefined();
    expect(toHttpApiResponse({ statusCode: 200, body: { not: 'a string' } })).toBeUndefined();
  });
});

describe('lambdaContext', () => {
  it('counts the remaining time down from the timeout', () => {
    const context = lambdaContext({ functionName: 'callback', region: 'eu-central-1', timeoutMs: 10_000, now: Date.now() - 4_000 });
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(5_000);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(6_000);
    expect(context.invokedFunctionArn).toBe('arn:aws:lambda:eu-central-1:123456789012:function:callback');
  });
});

describe('HttpApi over HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  async function serve(handler: HttpApiHandler, options: Partial<ConstructorParameters<typeof HttpApi>[0]> = {}) {
    const routes: LambdaRoute[] = [{ routeKey: 'POST /things/{id}', functionName: 'things', load: async () => ({ handler }) }];
    const api = new HttpApi({ routes, ...options });
    server = createServer((req, res) => void api.handle(req, res));
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server?.address() as AddressInfo).port}`;
  }

  it('delivers the event and writes each cookie as its own set-cookie header', async () => {
    // Prepare
    let received: APIGatewayProxyEventV2 | undefined;
    const url = await serve(async (event) => {
      received = event;
      return { statusCode: 302, headers: { location: '/next' }, cookies: ['a=1; Path=/', 'b=2; HttpOnly'], body: '' };
    });

    // Act
    const response = await fetch(`${url}/things/t%201?x=1&x=2`, {
      method: 'POST',
      headers: { cookie: 'session=s1; theme=dark', 'content-type': 'text/plain' },
      body: 'hello',
      redirect: 'manual',
    });

    // Assess
    expect(response.status).toBe(302);
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2; HttpOnly']);
    expect(response.headers.get('apigw-requestid')).toBeTruthy();
    expect(received).toMatchObject({
      routeKey: 'POST /things/{id}',
      pathParameters: { id: 't 1' },
      cookies: ['session=s1', 'theme=dark'],
      queryStringParameters: { x: '1,2' },
      body: 'hello',
      isBase64Encoded: false,
    });
  });

  it('answers 431 like API Gateway once the request line and headers pass 10,240 bytes, without calling the function', async () => {
    // Prepare: a cookie that brings the request just over, and one just under
    let calls = 0;
    const url = await serve(async () => {
      calls++;
      return { statusCode: 200, body: 'ok' };
    });
    const { port } = new URL(url);
    const headers = (cookieBytes: number) => ['Host', `127.0.0.1:${port}`, 'Cookie', `c=${'x'.repeat(cookieBytes)}`, 'Content-Length', '0', 'Connection', 'close'];
    // Raw bytes: exactly these headers, nothing a client library adds.
    const send = (cookieBytes: number) =>
      new Promise<number>((resolve, reject) => {
        const raw = headers(cookieBytes);
        let text = 'POST /things/1 HTTP/1.1\r\n';
        for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
        let answer = '';
        const socket = connect(Number(port), '127.0.0.1', () => socket.end(`${text}\r\n`));
        socket.on('data', (chunk) => (answer += chunk.toString()));
        socket.on('end', () => resolve(Number(answer.split(' ')[1])));
        socket.on('error', reject);
      });
    const overhead = requestHeaderBytes({ method: 'POST', target: '/things/1', protocol: 'HTTP/1.1', rawHeaders: headers(0) });

    // Act
    const under = await send(MAX_REQUEST_HEADER_BYTES - overhead);
    const over = await send(MAX_REQUEST_HEADER_BYTES - overhead + 1);

    // Assess
    expect(under).toBe(200);
    expect(over).toBe(431);
    expect(calls).toBe(1);
  });

  it('answers 404 {"message":"Not Found"} for an unknown route or method', async () => {
    const url = await serve(async () => ({ statusCode: 200 }));
    for (const [method, path] of [['GET', '/things/1'], ['POST', '/nothing'], ['POST', '/things/1/']] as const) {
      const response = await fetch(`${url}${path}`, { method });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ message: 'Not Found' });
    }
  });

  it('answers 500 without details when the function throws, and calls onFunctionError', async () => {
    const errors: unknown[] = [];
    const url = await serve(
      async () => {
        throw new Error('secret detail');
      },
      { onFunctionError: ({ error }) => errors.push(error) },
    );
    const response = await fetch(`${url}/things/1`, { method: 'POST' });
    expect(response.status).toBe(500);
    expect(await response.text()).toBe('{"message":"Internal Server Error"}');
    expect(errors).toHaveLength(1);
  });

  it('answers 500 after the Lambda timeout and 503 after the integration timeout', async () => {
    const never: HttpApiHandler = () => new Promise(() => undefined);
    const lambdaUrl = await serve(never, { lambdaTimeoutMs: 30, integrationTimeoutMs: 1_000 });
    expect((await fetch(`${lambdaUrl}/things/1`, { method: 'POST' })).status).toBe(500);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const gatewayUrl = await serve(never, { lambdaTimeoutMs: 1_000, integrationTimeoutMs: 30 });
    expect((await fetch(`${gatewayUrl}/things/1`, { method: 'POST' })).status).toBe(503);
  });
});
