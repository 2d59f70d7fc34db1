import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyConnectToken } from '../../functions/connect/connect-token.js';
import { LOCAL_DEFAULTS } from '../../local/local-settings.js';
import { TestBrowser } from './helpers/browser.js';
import { describeFlow, runConnectFlow, uniqueIdentity, uniqueUser } from './helpers/connect-flow.js';
import { settleOutbox } from './helpers/lifecycle.js';
import { useLocalService } from './helpers/local-service.js';

/**
 * The client package as a product installs it: `npm pack` of client/ (its prepack builds it with tsc), installed
 * from the tarball into a new project whose dependencies come from the npm cache, and used from plain JavaScript
 * (no TypeScript loader) against local mode's real handlers.
 */
const run = promisify(execFile);
const clientDir = fileURLToPath(new URL('../../client/', import.meta.url));
const PACKAGE = '@recall-zoom-connect/client';

const CONSUMER = `
import { createConnectClient, parseConnectionEvent, signConnectToken } from '${PACKAGE}';

const [command, ...args] = process.argv.slice(2);
const client = createConnectClient({ apiUrl: process.env.API_URL, signingKey: process.env.SIGNING_KEY });
if (command === 'token') {
  console.log(await signConnectToken({ userId: args[0], returnTo: args[1] }, process.env.SIGNING_KEY));
} else if (command === 'link') {
  console.log(await client.createConnectUrl({ userId: args[0], returnTo: args[1] }));
} else if (command === 'status') {
  console.log(JSON.stringify((await client.getConnection(args[0])) ?? null));
} else if (command === 'events') {
  const kept = await (await fetch(process.env.API_URL + '/_local/events')).json();
  const events = kept.map((e) => parseConnectionEvent({ source: e.source, 'detail-type': e.detailType, detail: e.detail }));
  console.log(JSON.stringify(events.filter((event) => event.userId === args[0])));
}
`;

const { server } = useLocalService();
let project: string;

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'client-package-'));
  // npm pack runs the package's prepack (tsc) and writes the tarball into the project.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', project], { cwd: clientDir, timeout: 120_000 });
  const [{ filename }] = JSON.parse(stdout.slice(stdout.indexOf('['))) as [{ filename: string }];
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'product-backend', version: '1.0.0', private: true, type: 'module' }));
  writeFileSync(join(project, 'consumer.mjs'), CONSUMER);
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(project, filename)], {
    cwd: project,
    timeout: 120_000,
  });
}, 240_000);

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Runs the consumer with plain `node`: no tsx, no loader. */
async function consumer(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['consumer.mjs', ...args], {
    cwd: project,
    env: { PATH: process.env.PATH, API_URL: server.url, SIGNING_KEY: LOCAL_DEFAULTS.connectSigningKey },
    timeout: 20_000,
  });
  return stdout.trim();
}

describe('the packed client package, installed into another project', () => {
  it('installs as built ES modules with type declarations, and without the service', () => {
    const installed = join(project, 'node_modules', ...PACKAGE.split('/'));
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
    for (const file of ['index.js', 'index.d.ts', 'token.js', 'events.d.ts']) expect(existsSync(join(installed, 'dist', file)), file).toBe(true);
    expect(existsSync(join(installed, 'index.ts'))).toBe(false);
    expect(existsSync(join(project, 'node_modules', 'jose'))).toBe(true);
    expect(readFileSync(join(installed, 'dist', 'index.js'), 'utf8')).not.toMatch(/functions\//);
  });

  it('mints, from plain JavaScript, a token that the real authorize handler accepts', async () => {
    const token = await consumer('token', 'plain-js-user', `${server.url}/?user=plain-js-user`);

    const authorize = await fetch(`${server.url}/zoom/authorize?connect_token=${encodeURIComponent(token)}`, { redirect: 'manual' });

    expect(authorize.status).toBe(302);
    expect(authorize.headers.get('location')?.startsWith(`${server.settings.zoomAuthorizeUrl}?`)).toBe(true);
    // Change the signature's first character: its last one carries two padding bits, and a change there alone
    // (A→B) can decode to the same bytes and still verify.
    const signatureStart = token.lastIndexOf('.') + 1;
    const tampered = `${token.slice(0, signatureStart)}${token[signatureStart] === 'A' ? 'B' : 'A'}${token.slice(signatureStart + 1)}`;
    const forged = await fetch(`${server.url}/zoom/authorize?connect_token=${encodeURIComponent(tampered)}`, {
      redirect: 'manual',
    });
    expect(forged.status).toBe(400);
  });

  it('connects a user through its link, then reads the connection and parses the lifecycle event', async () => {
    const userId = uniqueUser('package');
    const returnTo = `${server.url}/?user=${userId}`;
    const link = await consumer('link', userId, returnTo);

    const flow = await runConnectFlow(server, new TestBrowser(), link, uniqueIdentity('package'));
    expect(flow.finalUrl?.searchParams.get('zoom_connect'), describeFlow(flow)).toBe('connected');

    expect(JSON.parse(await consumer('status', userId))).toMatchObject({ userId, status: 'connected' });
    expect(JSON.parse(await consumer('status', uniqueUser('never')))).toBeNull();
    // The event leaves through the outbox: published by the local publisher loop, or now.
    await settleOutbox(server, [userId]);
    const events = JSON.parse(await consumer('events', userId)) as { type: string; userId: string }[];
    expect(events).toEqual([expect.objectContaining({ type: 'connected', userId, schemaVersion: 1 })]);
  });
});

/** PyJWT's `jwt.encode` for HS256 alone, for a machine without PyJWT: the compact JWS PyJWT writes. */
const PYJWT_HS256_STAND_IN = `import base64, hashlib, hmac, json

def _part(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

def encode(payload, key, algorithm):
    if algorithm != "HS256":
        raise NotImplementedError(algorithm)
    signing_input = _part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + _part(json.dumps(payload).encode())
    return signing_input + "." + _part(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())
`;

/** A fenced block of docs/integrating.md's "The connect link" section. */
function docSnippet(language: 'js' | 'python'): string {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/integrating.md', import.meta.url)), 'utf8');
  const start = doc.indexOf('\n## The connect link\n');
  const end = doc.indexOf('\n## Outcomes on the return URL\n', start);
  if (start < 0 || end < 0) throw new Error('docs/integrating.md has no "The connect link" section followed by "Outcomes on the return URL".');
  const block = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(doc.slice(start, end))?.[1];
  if (!block) throw new Error(`docs/integrating.md's connect-link section has no ${language} block.`);
  return block;
}

describe('docs/integrating.md, "The connect link": the snippets', () => {
  const KEY = 'doc-snippet-signing-key-0123456789abcdef';

  it('the Node one runs as written in the installed project and mints a token the service verifies', async () => {
    writeFileSync(join(project, 'doc-snippet.mjs'), `${docSnippet('js')}\nconsole.log(href);\n`);

    const { stdout } = await run(process.execPath, ['doc-snippet.mjs'], {
      cwd: project,
      env: { PATH: process.env.PATH, CONNECT_SIGNING_KEY: KEY, ZOOM_CONNECT_URL: 'https://api.example.com/zoom/authorize' },
      timeout: 20_000,
    });

    const href = new URL(stdout.trim());
    expect(`${href.origin}${href.pathname}`).toBe('https://api.example.com/zoom/authorize');
    await expect(
      verifyConnectToken(href.searchParams.get('connect_token') ?? '', [KEY], ['https://app.example.com/settings/']),
    ).resolves.toMatchObject({ userId: 'user-42', returnTo: 'https://app.example.com/settings/' });
  });

  // Interpreters on PATH, and Debian's own (CI installs its PyJWT package, python3-jwt, for it).
  const pythons = [
    ...['python3', 'python'].flatMap((name) =>
      (process.env.PATH ?? '').split(':').flatMap((dir) => (dir && existsSync(join(dir, name)) ? [join(dir, name)] : [])),
    ),
    ...(existsSync('/usr/bin/python3') ? ['/usr/bin/python3'] : []),
  ];
  const python = pythons[0];

  it.skipIf(!python)('the Python one runs as written and mints a token the service verifies', async () => {
    writeFileSync(join(project, 'readme_snippet.py'), docSnippet('python'));
    // The snippet signs with PyJWT: the first interpreter that has it runs the snippet. Where none has it, a stand-in
    // writes the same HS256 token (the snippet's own claims, encoding and URL are still what is checked), so the check
    // runs everywhere instead of passing unseen.
    let withPyJwt: string | undefined;
    for (const candidate of pythons) {
      const has = await run(candidate, ['-c', 'import jwt'], { timeout: 20_000 }).then(
        () => true,
        () => false,
      );
      if (has) {
        withPyJwt = candidate;
        break;
      }
    }
    const hasPyJwt = withPyJwt !== undefined;
    const standIn = join(project, 'pyjwt-stand-in');
    if (!hasPyJwt) {
      mkdirSync(standIn, { recursive: true });
      writeFileSync(join(standIn, 'jwt.py'), PYJWT_HS256_STAND_IN);
    }

    const { stdout } = await run(
      withPyJwt ?? (python as string),
      ['-c', `from readme_snippet import connect_link; print(connect_link("https://api.example.com/zoom/authorize", ${JSON.stringify(KEY)}, "user-42", "https://app.example.com/settings/"))`],
      { cwd: project, env: { ...process.env, ...(hasPyJwt ? {} : { PYTHONPATH: standIn }) }, timeout: 20_000 },
    );

    const href = new URL(stdout.trim());
    expect(`${href.origin}${href.pathname}`).toBe('https://api.example.com/zoom/authorize');
    await expect(
      verifyConnectToken(href.searchParams.get('connect_token') ?? '', [KEY], ['https://app.example.com/settings/']),
    ).resolves.toMatchObject({ userId: 'user-42', returnTo: 'https://app.example.com/settings/' });
  });
});
