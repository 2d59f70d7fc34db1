import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MisconfiguredError } from '../../../functions/core/errors.js';
import {
  extensionSecretReader,
  SECRETS_EXTENSION_TOKEN_HEADER,
  SecretsExtensionError,
} from '../../../functions/adapters/secrets-extension.js';
import { SecretStore } from '../../../functions/adapters/secrets.js';

/*
 * The extension reader against a real HTTP server on localhost, scripted per test: what it asks (path, query,
 * header) and how it reads each kind of answer the extension gives.
 */

const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE//session+token==';
const SECRET_ID = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/app-AbCdEf';
const SECRET_VALUE = '{"recallApiKey":"recall-api-key-VALUE-never-logged"}';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

let server: Server;
let port: number;
let seen: Seen[] = [];
let answer: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, 'localhost', () => resolve()));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  seen = [];
  answer = (_req, res) => json(res, 200, getSecretValue(SECRET_VALUE));
});

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
const getSecretValue = (SecretString: string | null, extra: Record<string, unknown> = {}) => ({
  ARN: SECRET_ID,
  Name: 'recall-zoom-connect/app',
  SecretString,
  SecretBinary: null,
  VersionId: 'b1c367b9-7f53-4a47-82c4-be51a054b953',
  VersionStages: ['AWSCURRENT'],
  CreatedDate: '2026-11-30T18:00:00.000Z',
  ResultMetadata: {},
  ...extra,
});
const BARE_400 = 'an unexpected error occurred while executing request';

const reader = (env: NodeJS.ProcessEnv = { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port), AWS_SESSION_TOKEN: TOKEN }, timeoutMs?: number) =>
  extensionSecretReader({ env, ...(timeoutMs === undefined ? {} : { timeoutMs }) });

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(Error);
  const message = (error as Error).message;
  // Whatever went wrong, no answer body and no token reaches a message.
  for (const text of [SECRET_VALUE, 'recall-api-key-VALUE', BARE_400, TOKEN]) expect(message).not.toContain(text);
  return error as Error;
}

describe('extensionSecretReader: the request', () => {
  it('GETs /secretsmanager/get on localhost with the secret id encoded and the session token in its header', async () => {
    const value = await reader().read(SECRET_ID);

    expect(value).toBe(SECRET_VALUE);
    expect(seen).toHaveLength(1);
    const url = new URL(seen[0]?.url ?? '', 'http://localhost');
    expect(seen[0]?.method).toBe('GET');
    expect(url.pathname).toBe('/secretsmanager/get');
    expect([...url.searchParams.keys()]).toEqual(['secretId']);
    expect(url.searchParams.get('secretId')).toBe(SECRET_ID);
    // ':' and '/' of the ARN are encoded, not sent raw.
    expect(seen[0]?.url).toContain('secretId=arn%3Aaws%3Asecretsmanager');
    expect(seen[0]?.headers[SECRETS_EXTENSION_TOKEN_HEADER.toLowerCase()]).toBe(TOKEN);
    expect(seen[0]?.headers.host).toBe(`localhost:${port}`);
  });

  it.each(['AWSCURRENT', 'AWSPREVIOUS'] as const)('asks for versionStage=%s when given one', async (stage) => {
    await reader().read(SECRET_ID, stage);

    const url = new URL(seen[0]?.url ?? '', 'http://localhost');
    expect(url.searchParams.get('versionStage')).toBe(stage);
  });

  it('reads PARAMETERS_SECRETS_EXTENSION_HTTP_PORT and AWS_SESSION_TOKEN at each read', async () => {
    const env: NodeJS.ProcessEnv = { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port), AWS_SESSION_TOKEN: 'first-token' };
    const read = extensionSecretReader({ env });

    await read.read(SECRET_ID);
    env.AWS_SESSION_TOKEN = 'second-token';
    await read.read(SECRET_ID);

    expect(seen.map((s) => s.headers[SECRETS_EXTENSION_TOKEN_HEADER.toLowerCase()])).toEqual(['first-token', 'second-token']);
  });
});

describe('extensionSecretReader: answers', () => {
  it('returns SecretString of a 200', async () => {
    answer = (_req, res) => json(res, 200, getSecretValue('plain-string-secret-0123456789abcdef'));

    expect(await reader().read(SECRET_ID, 'AWSCURRENT')).toBe('plain-string-secret-0123456789abcdef');
  });

  it.each([
    ['a binary secret', getSecretValue(null, { SecretBinary: 'YmluYXJ5' })],
    ['an empty string', getSecretValue('')],
  ])('refuses %s as MisconfiguredError naming the secret, without quoting it', async (_case, body) => {
    answer = (_req, res) => json(res, 200, body);

    const error = await failure(reader().read(SECRET_ID));

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).secret).toBe(SECRET_ID);
    expect(error.message).toContain('no string value');
    expect(error.message).not.toContain('YmluYXJ5');
  });

  it('treats a 200 that is not GetSecretValue JSON as transient', async () => {
    answer = (_req, res) => res.writeHead(200).end(`<html>${SECRET_VALUE}</html>`);

    const error = await failure(reader().read(SECRET_ID));

    expect(error).toBeInstanceOf(SecretsExtensionError);
  });

  it.each([
    ['Secrets Manager\'s type', { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." }],
    ['a namespaced type', { __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException' }],
    ['a code', { code: 'ResourceNotFoundException' }],
  ])('returns undefined for a version that does not exist, typed as %s', async (_case, body) => {
    answer = (_req, res) => json(res, 400, body);

    expect(await reader().read(SECRET_ID, 'AWSCURRENT')).toBeUndefined();
    expect(await reader().read(SECRET_ID, 'AWSPREVIOUS')).toBeUndefined();
  });

  it('returns undefined for a bare 400 for AWSPREVIOUS: a secret never rotated, as deployed extensions answer it', async () => {
    answer = (_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end(BARE_400);

    expect(await reader().read(SECRET_ID, 'AWSPREVIOUS')).toBeUndefined();
  });

  it.each([undefined, 'AWSCURRENT'] as const)(
    'turns a bare 400 for the current version (stage %s) into MisconfiguredError pointing at the extension\'s log',
    async (stage) => {
      answer = (_req, res) => res.writeHead(400, { 'content-type': 'text/plain' }).end(BARE_400);

      const error = await failure(reader().read(SECRET_ID, stage));

      expect(error).toBeInstanceOf(MisconfiguredError);
      expect((error as MisconfiguredError).secret).toBe(SECRET_ID);
      expect(error.message).toContain('log');
    },
  );

  it.each(['AccessDeniedException', 'DecryptionFailure', 'InvalidRequestException'])(
    'turns a typed %s into MisconfiguredError naming the secret and the type, for either version',
    async (type) => {
      answer = (_req, res) => json(res, 400, { __type: type, message: `User is not authorized ${SECRET_VALUE}` });

      for (const stage of ['AWSCURRENT', 'AWSPREVIOUS'] as const) {
        const error = await failure(reader().read(SECRET_ID, stage));
        expect(error).toBeInstanceOf(MisconfiguredError);
        expect(error.message).toContain(type);
        expect((error as MisconfiguredError).secret).toBe(SECRET_ID);
      }
    },
  );

  it('treats a typed throttle as transient, and never takes free text from the body as a type', async () => {
    answer = (_req, res) => json(res, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
    expect(await failure(reader().read(SECRET_ID))).toBeInstanceOf(SecretsExtensionError);

    answer = (_req, res) => json(res, 400, { __type: `${SECRET_VALUE} is not a type` });
    expect(await failure(reader().read(SECRET_ID))).toBeInstanceOf(MisconfiguredError);
  });

  it.each([401, 403])('turns a %i (token refused) into MisconfiguredError naming AWS_SESSION_TOKEN', async (status) => {
    answer = (_req, res) => res.writeHead(status).end('unauthorized');

    const error = await failure(reader().read(SECRET_ID));

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).fields).toEqual(['AWS_SESSION_TOKEN']);
  });

  it.each([500, 502, 503, 429])('treats a %i as transient (SecretsExtensionError with the status)', async (status) => {
    answer = (_req, res) => res.writeHead(status).end(SECRET_VALUE);

    const error = await failure(reader().read(SECRET_ID));

    expect(error).toBeInstanceOf(SecretsExtensionError);
    expect(error).not.toBeInstanceOf(MisconfiguredError);
    expect((error as SecretsExtensionError).status).toBe(status);
    expect(error.message).toContain(String(status));
  });

  it('gives up after the timeout with a transient error, and the next read works', async () => {
    answer = () => undefined; // never answers
    const started = performance.now();

    const error = await failure(reader(undefined, 150).read(SECRET_ID));

    expect(error).toBeInstanceOf(SecretsExtensionError);
    expect(error.message).toContain('150 ms');
    expect(performance.now() - started).toBeLessThan(2_000);
    answer = (_req, res) => json(res, 200, getSecretValue(SECRET_VALUE));
    expect(await reader().read(SECRET_ID)).toBe(SECRET_VALUE);
  });

  it('gives up on an answer far larger than any secret', async () => {
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(getSecretValue('x'.repeat(2 * 1024 * 1024))));
    };

    expect(await failure(reader().read(SECRET_ID))).toBeInstanceOf(SecretsExtensionError);
  });

  it('treats a connection reset as transient', async () => {
    answer = (req) => req.socket.destroy();

    const error = await failure(reader().read(SECRET_ID));

    expect(error).toBeInstanceOf(SecretsExtensionError);
    expect(error.message).toMatch(/ECONNRESET|socket hang up|network error/);
  });
});

describe('extensionSecretReader: configuration', () => {
  it('names the port when nothing listens there (the layer is not attached)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, 'localhost', () => resolve()));
    const unused = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await failure(reader({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(unused), AWS_SESSION_TOKEN: TOKEN }).read(SECRET_ID));

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).fields).toEqual(['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT']);
    expect(error.message).toContain(String(unused));
  });

  it('names AWS_SESSION_TOKEN when it is not set, without asking', async () => {
    const error = await failure(reader({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: String(port) }).read(SECRET_ID));

    expect(error).toBeInstanceOf(MisconfiguredError);
    expect((error as MisconfiguredError).fields).toEqual(['AWS_SESSION_TOKEN']);
    expect(seen).toHaveLength(0);
  });

  it.each(['0', '65536', 'http', '27.73'])('names PARAMETERS_SECRETS_EXTENSION_HTTP_PORT=%s as not a port, without asking', async (value) => {
    const error = await failure(reader({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: value, AWS_SESSION_TOKEN: TOKEN }).read(SECRET_ID));

    expect((error as MisconfiguredError).fields).toEqual(['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT']);
    expect(seen).toHaveLength(0);
  });

  it('uses the extension\'s default port 2773 when the variable is not set', async () => {
    const fallback = createServer((req, res) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      json(res, 200, getSecretValue(SECRET_VALUE));
    });
    const listening = await new Promise<boolean>((resolve) => {
      fallback.once('error', () => resolve(false));
      fallback.listen(2773, 'localhost', () => resolve(true));
    });
    try {
      if (!listening) {
        // Something else holds the port on this machine: the request must at least not go elsewhere.
        await reader({ AWS_SESSION_TOKEN: TOKEN }).read(SECRET_ID).catch(() => undefined);
        expect(seen).toHaveLength(0);
        return;
      }
      expect(await reader({ AWS_SESSION_TOKEN: TOKEN }).read(SECRET_ID)).toBe(SECRET_VALUE);
      expect(seen).toHaveLength(1);
    } finally {
      fallback.closeAllConnections();
      await new Promise<void>((resolve) => fallback.close(() => resolve()));
    }
  });
});

describe('SecretStore through the extension: the previous version of a generated key', () => {
  const CURRENT_KEY = 'the-current-signing-key-0123456789abcdefghijklmnop';
  const config = {
    secrets: { source: 'secrets-manager' as const, secretIds: {}, signingKeySecretId: SECRET_ID, stateKeySecretId: SECRET_ID },
    secretsCacheSeconds: 300,
  };

  /** The current version answered normally; the previous one as `previous` says. */
  const answerPrevious = (previous: (res: ServerResponse) => void) => {
    answer = (req, res) => {
      const stage = new URL(req.url ?? '/', 'http://localhost').searchParams.get('versionStage');
      if (stage === 'AWSPREVIOUS') previous(res);
      else json(res, 200, getSecretValue(CURRENT_KEY));
    };
  };

  it.each([
    ['a bare 400', (res: ServerResponse) => res.writeHead(400, { 'content-type': 'text/plain' }).end(BARE_400)],
    ['a bare 404', (res: ServerResponse) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')],
    ['a bare 500', (res: ServerResponse) => res.writeHead(500, { 'content-type': 'text/plain' }).end(BARE_400)],
    ['a typed 400 AccessDeniedException', (res: ServerResponse) => json(res, 400, { __type: 'AccessDeniedException', message: 'no' })],
    ['a typed 404 ResourceNotFoundException', (res: ServerResponse) => json(res, 404, { __type: 'ResourceNotFoundException' })],
    ['a 200 that is not GetSecretValue JSON', (res: ServerResponse) => json(res, 200, 'oops')],
  ])('means "no previous key" when the extension answers %s for AWSPREVIOUS, on a cold start', async (_case, previous) => {
    // Prepare: a key never rotated (or an extension that answers a missing stage some undocumented way).
    answerPrevious(previous);
    const store = new SecretStore(config, reader());

    // Act / Assess: both keys load with the current one alone; nothing fails, so no request becomes a 500.
    await expect(store.signingKeys()).resolves.toEqual([CURRENT_KEY]);
    await expect(store.stateKeys()).resolves.toEqual([CURRENT_KEY]);
    expect(seen.map(({ url }) => new URL(url, 'http://localhost').searchParams.get('versionStage')).sort()).toEqual([
      'AWSCURRENT',
      'AWSCURRENT',
      'AWSPREVIOUS',
      'AWSPREVIOUS',
    ]);
  });

  it('still fails, naming the secret, when the current version cannot be read', async () => {
    answer = (_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end(BARE_400);

    const error = await failure(new SecretStore(config, reader()).signingKeys());

    expect(error).toBeInstanceOf(SecretsExtensionError);
    expect(error.message).toContain(SECRET_ID);
  });
});
