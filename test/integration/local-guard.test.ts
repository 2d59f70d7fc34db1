import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import { connectThroughDemo, getConnection, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * Local mode answers only loopback host names, and takes changes only from its own pages or from non-browser tools:
 * a page the developer has open elsewhere (a cross-site form) or a DNS-rebinding page (another Host) cannot drive it.
 */

const { server } = useLocalService();

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

/** A raw request over node:http, so that the Host header is exactly the one given (fetch may not set it). */
function send(path: string, options: { method?: string; host?: string; headers?: Record<string, string>; body?: string } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `localhost:${server.port}`, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            contentType: String(res.headers['content-type'] ?? ''),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('local mode answers only local hosts', () => {
  it('serves localhost, 127.0.0.1 and [::1] on its port', async () => {
    for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`, `[::1]:${server.port}`, `LOCALHOST:${server.port}`]) {
      expect((await send('/', { host })).status, host).toBe(200);
    }
  });

  it('refuses any other Host, before any route runs, with a one-line reason (421)', async () => {
    const reconcileRunsBefore = server.sandboxRecall.requestsOf('list').length;
    for (const host of ['evil.example', `evil.example:${server.port}`, `localhost:${server.port + 1}`, 'localhost', `127.0.0.2:${server.port}`]) {
      const answer = await send('/_local/reconcile?fix=true', { method: 'POST', host });
      expect(answer.status, host).toBe(421);
      expect(answer.contentType).toMatch(/^text\/plain/);
      expect(answer.body.trimEnd().split('\n')).toHaveLength(1);
      expect(answer.body).toContain(`http://localhost:${server.port}`);
    }
    expect((await send('/', { host: 'rebound.example' })).status).toBe(421);
    expect((await send('/connections/someone', { host: 'rebound.example' })).status).toBe(421);
    expect(server.sandboxRecall.requestsOf('list')).toHaveLength(reconcileRunsBefore);
  });
});

describe('local mode takes changes only from its own pages (or from tools that are not browsers)', () => {
  // Another origin on the same machine (127.0.0.1 is not the page's localhost) is another site too.
  const crossSite = (): Record<string, string>[] => [
    { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    // An opaque origin without fetch metadata: a sandboxed frame or an old browser; nothing proves it is ours.
    { origin: 'null' },
    { origin: `http://127.0.0.1:${server.port}` },
    { 'sec-fetch-site': 'same-site' },
    { origin: 'null', 'sec-fetch-site': 'cross-site' },
  ];

  it('refuses cross-site writes to every local route and to /connections, changing nothing', async () => {
    const userId = uniqueUser('guard');
    await connectThroughDemo(server, userId, uniqueIdentity('guard'));
    const credentialId = (await getConnection(server, userId)).connection?.recallCredentialId as string;
    const listsBefore = server.sandboxRecall.requestsOf('list').length;
    const targets = [
      { method: 'POST', path: '/_local/reconcile?fix=true' },
      { method: 'POST', path: '/_local/health-sync' },
      { method: 'POST', path: '/_local/dlq/redrive' },
      { method: 'DELETE', path: `/connections/${userId}` },
      { method: 'POST', path: `/sandbox/recall/_sandbox/credentials/${credentialId}/status`, body: '{"status":"unhealthy"}' },
    ];
    for (const target of targets) {
      for (const headers of crossSite()) {
        const answer = await send(target.path, { method: target.method, headers, body: target.body ?? '' });
        expect(answer.status, `${target.method} ${target.path} ${JSON.stringify(headers)}`).toBe(403);
        expect(JSON.parse(answer.body)).toEqual({ message: expect.stringContaining('Cross-site request refused') });
      }
    }
    for (const path of ['/demo/disconnect', '/demo/simulate-revoke', '/demo/sandbox-credential-status', '/demo/health-sync']) {
      for (const headers of crossSite()) {
        const answer = await send(path, { method: 'POST', headers: { ...FORM, ...headers }, body: `user=${userId}&status=unhealthy` });
        expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(answer.contentType).toMatch(/^text\/html/);
        expect(answer.body).toContain('Cross-site request refused');
        expect(answer.body).toContain('Back to the demo page');
      }
    }
    expect((await getConnection(server, userId)).connection?.status).toBe('connected');
    expect(server.sandboxRecall.state.credentials.get(credentialId)?.status).toBe('healthy');
    expect(server.sandboxRecall.requestsOf('list')).toHaveLength(listsBefore);
  });

  it('accepts a form that Chromium marks same-origin even with Origin: null (no-referrer pages), and a matching Origin', async () => {
    const userId = uniqueUser('same-origin');
    await connectThroughDemo(server, userId, uniqueIdentity('same-origin'));
    const credentialId = (await getConnection(server, userId)).connection?.recallCredentialId as string;

    const marked = await send('/demo/sandbox-credential-status', {
      method: 'POST',
      headers: { ...FORM, origin: 'null', 'sec-fetch-site': 'same-origin' },
      body: `user=${userId}&status=unhealthy`,
    });
    const synced = await send('/demo/health-sync', {
      method: 'POST',
      host: `127.0.0.1:${server.port}`,
      headers: { ...FORM, origin: `http://127.0.0.1:${server.port}` },
      body: `user=${userId}`,
    });

    expect(marked.status).toBe(302);
    expect(server.sandboxRecall.state.credentials.get(credentialId)?.status).toBe('unhealthy');
    expect(synced.status).toBe(302);
    expect((await getConnection(server, userId)).connection?.status).toBe('unhealthy');
  });

  it('lets tools that are not browsers (no Origin, no Sec-Fetch-Site) use the local routes, as the docs show with curl', async () => {
    expect((await send('/_local/health-sync', { method: 'POST' })).status).toBe(200);
    expect((await send('/_local/reconcile', { method: 'POST' })).status).toBe(200);
    expect((await send('/_local/dlq/redrive', { method: 'POST' })).status).toBe(200);
  });

  it('leaves the service\'s public routes to the handlers, as on AWS (Zoom\'s webhook is checked by its signature)', async () => {
    const answer = await send('/zoom/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      body: '{"event":"endpoint.url_validation"}',
    });
    expect(answer.status).not.toBe(403);
    expect(answer.body).not.toContain('Cross-site request refused');
  });
});
