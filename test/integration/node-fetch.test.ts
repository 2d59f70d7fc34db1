import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../functions/adapters/node-fetch.js';
import { RecallClient } from '../../functions/adapters/recall-client.js';
import { rejectionOf } from '../helpers/rejection.js';

/*
 * The Recall client's own HTTP transport against a real HTTP server (no fetch stub here: the integration project
 * does not route it anywhere else).
 */

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** Which connection carried it. */
  socket: Socket;
}

let server: Server;
let base: string;
let received: Received[] = [];
let handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, socket: req.socket });
      handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received = [];
  handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});

const rejection = (promise: Promise<unknown>) => rejectionOf(promise, Error);

describe('nodeFetch: requests', () => {
  it('sends the method, path and query, and headers as given', async () => {
    await nodeFetch(`${base}/api/v2/zoom-oauth-credentials/?oauth_app=a%20b&user_id=zu-1`, {
      method: 'GET',
      headers: { Authorization: 'Token abc', Accept: 'application/json' },
    });

    expect(received[0]).toMatchObject({ method: 'GET', url: '/api/v2/zoom-oauth-credentials/?oauth_app=a%20b&user_id=zu-1' });
    expect(received[0]?.headers).toMatchObject({ authorization: 'Token abc', accept: 'application/json', host: base.slice(7) });
    expect(received[0]?.headers['content-length']).toBeUndefined();
  });

  it('sends a byte body exactly as given, with its Content-Length (the webhook forward)', async () => {
    // Not valid UTF-8 on purpose: nothing may decode and re-encode it on the way.
    const bytes = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x7d, 0x0a]);

    await nodeFetch(`${base}/api/v2/zoom-oauth-apps/app/webhook`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'x-zm-signature': 'v0=abc' },
      body: bytes,
    });

    expect([...(received[0]?.body ?? [])]).toEqual([...bytes]);
    expect(received[0]?.headers['content-length']).toBe(String(bytes.byteLength));
    expect(received[0]?.headers['transfer-encoding']).toBeUndefined();
    expect(received[0]?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(received[0]?.headers['x-zm-signature']).toBe('v0=abc');
  });

  it('sends a string body as UTF-8, its Content-Length in bytes', async () => {
    const json = JSON.stringify({ code: 'zoom-code-é-✓' });

    await nodeFetch(`${base}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: json });

    expect(received[0]?.body.toString('utf8')).toBe(json);
    expect(received[0]?.headers['content-length']).toBe(String(Buffer.byteLength(json)));
  });
});

describe('nodeFetch: responses', () => {
  it('gives status, ok, headers (case-insensitive, repeated ones joined) and the JSON body', async () => {
    handle = (_req, res) => {
      res.writeHead(201, [
        ['Content-Type', 'application/json'],
        ['Retry-After', '7'],
        ['X-Multi', 'a'],
        ['X-Multi', 'b'],
      ]);
      res.end(JSON.stringify({ id: 'cred-1', nested: { ok: true } }));
    };

    const response = await nodeFetch(`${base}/`);

    expect(response.status).toBe(201);
    expect(response.ok).toBe(true);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('RETRY-AFTER')).toBe('7');
    expect(response.headers.get('x-multi')).toBe('a, b');
    expect(response.headers.get('x-absent')).toBeNull();
    expect(await response.json()).toEqual({ id: 'cred-1', nested: { ok: true } });
  });

  it.each([400, 404, 429, 500, 503])('answers %i as a response, not a rejection', async (status) => {
    handle = (_req, res) => res.writeHead(status).end('{"detail":"no"}');

    const response = await nodeFetch(`${base}/`);

    expect(response.status).toBe(status);
    expect(response.ok).toBe(false);
    expect(await response.text()).toBe('{"detail":"no"}');
  });

  it('reads an empty body (204) as empty text, and refuses to read a body twice', async () => {
    handle = (_req, res) => res.writeHead(204).end();

    const response = await nodeFetch(`${base}/`);

    expect(await response.text()).toBe('');
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(response.body).toBeNull();
  });

  it('rejects json() for a body that is not JSON', async () => {
    handle = (_req, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>');

    const response = await nodeFetch(`${base}/`);

    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  it('keeps one connection alive across requests, a cancelled body included', async () => {
    handle = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ filler: 'x'.repeat(10_000) }));

    const first = await nodeFetch(`${base}/one`);
    await first.json();
    const second = await nodeFetch(`${base}/two`);
    await second.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const third = await nodeFetch(`${base}/three`);
    await third.text();

    expect(received).toHaveLength(3);
    expect(new Set(received.map((r) => r.socket)).size).toBe(1);
    expect(received[0]?.headers.connection).toBe('keep-alive');
  });
});

describe('nodeFetch: failures', () => {
  it('rejects at once with the reason of an already aborted signal, sending nothing', async () => {
    const controller = new AbortController();
    controller.abort();

    const error = await rejection(nodeFetch(`${base}/`, { signal: controller.signal }));

    expect(error.name).toBe('AbortError');
    expect(received).toHaveLength(0);
  });

  it('rejects with the signal\'s TimeoutError when the server does not answer in time', async () => {
    handle = () => undefined; // never answers
    const started = performance.now();

    const error = await rejection(nodeFetch(`${base}/slow`, { signal: AbortSignal.timeout(100) }));

    expect(error.name).toBe('TimeoutError');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('rejects reading a body the signal aborts halfway', async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
    };
    const controller = new AbortController();

    const response = await nodeFetch(`${base}/`, { signal: controller.signal });
    const reading = response.json();
    controller.abort(new DOMException('deadline', 'TimeoutError'));
    const error = await rejection(reading);

    expect(error.name).toBe('TimeoutError');
  });

  it('rejects with a TypeError carrying ECONNRESET when the connection is reset before an answer', async () => {
    handle = (req) => req.socket.destroy();

    const error = await rejection(nodeFetch(`${base}/`, { method: 'POST', body: '{}' }));

    expect(error).toBeInstanceOf(TypeError);
    expect((error.cause as { code?: string }).code).toBe('ECONNRESET');
  });

  it('rejects reading a body cut off by a reset', async () => {
    handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"partial":', () => res.socket?.destroy());
    };

    const response = await nodeFetch(`${base}/`);
    const error = await rejection(response.json());

    expect(error).toBeInstanceOf(TypeError);
  });

  it('rejects with a TypeError carrying ECONNREFUSED when nothing listens', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const error = await rejection(nodeFetch(`http://127.0.0.1:${port}/`));

    expect(error).toBeInstanceOf(TypeError);
    expect((error.cause as { code?: string }).code).toBe('ECONNREFUSED');
  });

  it.each(['ftp://example.com/', 'not a url'])('refuses %j without sending anything', async (url) => {
    expect(await rejection(nodeFetch(url))).toBeInstanceOf(TypeError);
  });
});

describe('nodeFetch over TLS', () => {
  const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

  it.skipIf(!hasOpenssl)('verifies the server certificate: a self-signed one is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'node-fetch-tls-'));
    try {
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      ], { stdio: 'ignore' });
      const tls = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) =>
        res.writeHead(200).end('{}'),
      );
      await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', () => resolve()));
      try {
        const error = await rejection(nodeFetch(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/`));

        expect(error).toBeInstanceOf(TypeError);
        expect(String((error.cause as { code?: string }).code)).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY/);
      } finally {
        tls.closeAllConnections();
        await new Promise<void>((resolve) => tls.close(() => resolve()));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('RecallClient over its default transport', () => {
  it('creates a credential, honouring Retry-After on a 429, and reads the answer', async () => {
    let calls = 0;
    handle = (_req, res) => {
      calls++;
      if (calls === 1) res.writeHead(429, { 'retry-after': '0' }).end('{}');
      else res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'cred-1', user_id: 'zu-1' }));
    };
    const client = new RecallClient({ baseUrl: base, apiKey: async () => 'recall-key' });

    const result = await client.createCredential({ oauthApp: 'app', code: 'code', redirectUri: 'https://x/cb', codeVerifier: 'v', idempotencyKey: 'node-fetch-test-key-0001' });

    expect(result).toMatchObject({ kind: 'created', credential: { id: 'cred-1' } });
    expect(received).toHaveLength(2);
    expect(received[1]?.headers).toMatchObject({ authorization: 'Token recall-key', 'content-type': 'application/json' });
    expect(JSON.parse(received[1]?.body.toString() ?? '{}')).toMatchObject({ oauth_app: 'app', authorization_code: { code: 'code' } });
  });

  it('ends in RecallUnavailableError naming the network error when the connection is reset', async () => {
    handle = (req) => req.socket.destroy();
    const client = new RecallClient({ baseUrl: base, apiKey: async () => 'recall-key', retry: { maxAttempts: 1 } });

    await expect(client.getCredential('cred-1')).rejects.toThrow(/ECONNRESET/);
  });

  it('never loads undici (Node\'s fetch) to talk to Recall, in a fresh process', () => {
    // A fresh Node runs the client against its own local server and reports what it loaded.
    const script = `
      import { createServer } from 'node:http';
      import { RecallClient } from ${JSON.stringify(path.resolve('functions/adapters/recall-client.ts'))};
      const server = createServer((req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"cred-1"}'));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const client = new RecallClient({ baseUrl: 'http://127.0.0.1:' + server.address().port, apiKey: async () => 'k' });
      const result = await client.createCredential({ oauthApp: 'a', code: 'c', redirectUri: 'https://x/cb', idempotencyKey: 'fresh-process-key-0001' });
      const undici = process.moduleLoadList.some((name) => name.includes('internal/deps/undici'));
      console.log(JSON.stringify({ kind: result.kind, undici }));
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });

    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ kind: 'created', undici: false });
  });
});
