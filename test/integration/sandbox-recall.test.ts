import { createHash, createHmac, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RecallClient } from '../../functions/adapters/recall-client.js';
import { DEFAULT_BEHAVIOUR, type SandboxRecallState, startFakeRecall } from '../../local/sandbox-recall.js';
import { deauthorizationEvent, s256, SandboxZoom, type ZoomIdentity, zoomWebhookHeaders } from '../../local/sandbox-zoom.js';

/**
 * The sandbox Recall as a real HTTP server: it must be as strict as docs/upstream.md says Recall is, or local mode
 * hides the bugs it exists to catch. The service's own RecallClient is the client where it fits.
 */
const API_KEY = 'fake-recall-key';
const APP = {
  id: '3f0c2b1a-9d8e-4f7a-8b6c-5d4e3f2a1b0c',
  clientId: 'fake-zoom-client',
  webhookSecret: 'fake-zoom-secret-token',
};
const REDIRECT_URI = 'https://connect.example/zoom/callback';

let fake: Awaited<ReturnType<typeof startFakeRecall>>;
let state: SandboxRecallState;
const zoom = new SandboxZoom({ clientId: APP.clientId, redirectUri: REDIRECT_URI });

/** Told when a request with latency starts waiting it out: after its idempotency key is taken, before it is performed. */
let onLatency: (() => void) | undefined;

beforeAll(async () => {
  const random = () => {
    onLatency?.();
    return Math.random();
  };
  fake = await startFakeRecall({ apiKey: API_KEY, oauthApp: APP, zoom, random });
  state = fake.state;
});
afterEach(() => {
  onLatency = undefined;
  fake.sandbox.configure(DEFAULT_BEHAVIOUR);
  state.faults.length = 0;
});
afterAll(async () => {
  await fake?.close();
});

const client = () => new RecallClient({ baseUrl: fake.url, apiKey: async () => API_KEY, retry: { maxAttempts: 1 } });
const identity = (tag: string): ZoomIdentity => ({
  accountId: `acct-${tag}-${randomBytes(3).toString('hex')}`,
  userId: `user-${tag}-${randomBytes(3).toString('hex')}`,
});

/** A code as Zoom would issue it after consent, with its PKCE verifier. */
function consent(who: ZoomIdentity, redirectUri = REDIRECT_URI) {
  const codeVerifier = randomBytes(32).toString('base64url');
  const code = zoom.issueCode({ redirectUri, codeChallenge: s256(codeVerifier), identity: who, clientId: APP.clientId });
  return { code, codeVerifier, redirectUri };
}

/** A fresh idempotency key: each create here is its own request. */
const randomKey = () => randomBytes(16).toString('hex');

const create = (grant: ReturnType<typeof consent>) =>
  client().createCredential({ oauthApp: APP.id, idempotencyKey: randomKey(), ...grant });

const raw = (path: string, init: RequestInit = {}) =>
  fetch(`${fake.url}${path}`, {
    ...init,
    headers: { authorization: `Token ${API_KEY}`, ...(init.headers as Record<string, string>) },
  });

describe('sandbox Recall: the traps', () => {
  it('answers 401 {"detail":"Invalid token."} without the Token prefix or with another key', async () => {
    for (const authorization of [`Bearer ${API_KEY}`, API_KEY, 'Token wrong-key']) {
      const response = await fetch(`${fake.url}/api/v2/zoom-oauth-credentials/`, { headers: { authorization } });
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ detail: 'Invalid token.' });
    }
  });

  it('answers 404 for paths without the trailing slash', async () => {
    expect((await raw('/api/v2/zoom-oauth-credentials')).status).toBe(404);
    const [credential] = [await create(consent(identity('slash')))];
    expect(credential.kind).toBe('created');
    const id = credential.kind === 'created' ? credential.credential.id : '';
    expect((await raw(`/api/v2/zoom-oauth-credentials/${id}`, { method: 'DELETE' })).status).toBe(404);
    expect(state.credentials.has(id)).toBe(true);
  });

  it('requires a JSON body on create (415) and refuses a GET with a body (403, as Recall\'s WAF)', async () => {
    const form = await raw('/api/v2/zoom-oauth-credentials/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'oauth_app=x',
    });
    expect(form.status).toBe(415);
    // fetch cannot send a GET body; node:http can, as some clients do.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(`${fake.url}/api/v2/zoom-oauth-credentials/`, {
        method: 'GET',
        headers: { authorization: `Token ${API_KEY}`, 'content-type': 'application/json', 'content-length': '4' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end('null');
    });
    expect(status).toBe(403);
  });

  it('validates oauth_app and the authorization code fields', async () => {
    const post = (body: unknown) =>
      raw('/api/v2/zoom-oauth-credentials/', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const wrongApp = await post({ oauth_app: 'another', authorization_code: { code: 'c', redirect_uri: REDIRECT_URI } });
    expect(wrongApp.status).toBe(400);
    expect((await wrongApp.json()) as object).toHaveProperty('detail');
    const noCode = await post({ oauth_app: APP.id, authorization_code: { redirect_uri: REDIRECT_URI } });
    expect(noCode.status).toBe(400);
    expect(await noCode.json()).toEqual({ 'authorization_code.code': ['This field is required.'] });
  });

  it('rejects a localhost redirect URI with an HTML 403 when asked to behave like Recall\'s WAF', async () => {
    fake.sandbox.configure({ rejectLocalhostRedirect: true });
    const response = await raw('/api/v2/zoom-oauth-credentials/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        oauth_app: APP.id,
        authorization_code: { code: 'c', redirect_uri: 'http://localhost:3000/zoom/callback' },
      }),
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain('text/html');
  });
});

describe('sandbox Recall: codes are exchanged with Zoom once', () => {
  it('creates a user-level credential from a fresh code, then refuses the same code (invalid_grant)', async () => {
    const who = identity('once');
    const grant = consent(who);
    const first = await create(grant);
    expect(first).toMatchObject({
      kind: 'created',
      credential: { oauth_app: APP.id, status: 'healthy', user_id: who.userId, account_id: null },
    });
    const again = await create(grant);
    expect(again.kind).toBe('bad_request');
    expect(again.kind === 'bad_request' && again.detail).toContain('invalid_grant');
  });

  it('spends the code on a failed PKCE check and refuses a redirect URI that differs by a trailing slash', async () => {
    const grant = consent(identity('pkce'));
    const wrongVerifier = await create({ ...grant, codeVerifier: randomBytes(32).toString('base64url') });
    expect(wrongVerifier.kind).toBe('bad_request');
    expect((await create(grant)).kind).toBe('bad_request');

    const slash = consent(identity('slash'));
    const mismatch = await create({ ...slash, redirectUri: `${REDIRECT_URI}/` });
    expect(mismatch.kind === 'bad_request' && mismatch.detail).toContain('invalid_grant');
  });

  it('refuses an expired code', async () => {
    let now = Date.now();
    const clockZoom = new SandboxZoom({ clientId: APP.clientId, redirectUri: REDIRECT_URI, now: () => now });
    fake.sandbox.useZoom(clockZoom);
    try {
      const codeVerifier = randomBytes(32).toString('base64url');
      const code = clockZoom.issueCode({
        redirectUri: REDIRECT_URI,
        codeChallenge: s256(codeVerifier),
        identity: identity('late'),
      });
      now += 5 * 60 * 1000 + 1;
      const result = await create({ code, codeVerifier, redirectUri: REDIRECT_URI });
      expect(result.kind === 'bad_request' && result.detail).toContain('expired');
    } finally {
      fake.sandbox.useZoom(zoom);
    }
  });
});

describe('sandbox Recall: one credential per Zoom identity', () => {
  it('answers the legacy conflict with conflicting_zoom_user_id and leaves the code usable', async () => {
    const who = identity('conflict');
    await create(consent(who));
    const grant = consent(who);
    const conflict = await create(grant);
    expect(conflict).toMatchObject({ kind: 'conflict', conflict: { user_id: who.userId } });
    const [existing] = fake.sandbox.credentialsFor({ userId: who.userId });
    await client().deleteCredential(existing?.id as string);
    expect(await create(grant)).toMatchObject({ kind: 'created', credential: { user_id: who.userId } });
  });

  it('spends the code on a conflict when spendCodeOnConflict is set', async () => {
    fake.sandbox.configure({ spendCodeOnConflict: true });
    const who = identity('spent');
    await create(consent(who));
    const grant = consent(who);
    expect((await create(grant)).kind).toBe('conflict');
    const [existing] = fake.sandbox.credentialsFor({ userId: who.userId });
    await client().deleteCredential(existing?.id as string);
    expect((await create(grant)).kind).toBe('bad_request');
  });

  it('answers conflicting_zoom_account_id for an account-level app', async () => {
    fake.sandbox.configure({ appKind: 'account_level' });
    const who = identity('acct');
    const first = await create(consent(who));
    expect(first).toMatchObject({ kind: 'created', credential: { account_id: who.accountId, user_id: null } });
    const colleague = { accountId: who.accountId, userId: `${who.userId}-colleague` };
    const response = await raw('/api/v2/zoom-oauth-credentials/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        oauth_app: APP.id,
        authorization_code: (({ code, redirectUri, codeVerifier }) => ({
          code,
          redirect_uri: redirectUri,
          code_verifier: codeVerifier,
        }))(consent(colleague)),
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, string>;
    expect(body.conflicting_zoom_account_id).toBe(who.accountId);
    expect(body.detail).toContain('A Zoom OAuth Credential already exists for this OAuth App and Zoom account');
  });

  it('updates in place with 201 in update mode', async () => {
    fake.sandbox.configure({ conflictMode: 'update' });
    const who = identity('update');
    const first = await create(consent(who));
    const second = await create(consent(who));
    expect(second.kind).toBe('created');
    expect(first.kind === 'created' && second.kind === 'created' && second.credential.id).toBe(
      first.kind === 'created' && first.credential.id,
    );
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
  });
});

describe('sandbox Recall: list, retrieve, delete', () => {
  it('pages with `next` as a full URL, filters, and the service client follows every page', async () => {
    const account = identity('paged').accountId;
    fake.sandbox.configure({ appKind: 'account_level' });
    // Account-level: one credential per account, so five accounts, created after `since` (earlier tests' are not).
    await new Promise((resolve) => setTimeout(resolve, 5));
    const since = new Date().toISOString();
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const result = await create(consent({ accountId: `${account}-${i}`, userId: 'u' }));
      if (result.kind === 'created') created.push(result.credential.id);
    }
    const firstPage = await raw(`/api/v2/zoom-oauth-credentials/?oauth_app=${APP.id}&created_at_after=${since}`);
    const page = (await firstPage.json()) as { next: string | null; results: { id: string }[] };
    expect(page.results).toHaveLength(2);
    expect(page.next?.startsWith(`${fake.url}/api/v2/zoom-oauth-credentials/?`)).toBe(true);
    expect(new URL(page.next as string).searchParams.get('created_at_after')).toBe(since);

    const all = await client().listCredentials({ oauth_app: APP.id, created_at_after: since });
    expect(all.map((credential) => credential.id)).toEqual(created);
    const one = await client().listCredentials({ oauth_app: APP.id, account_id: `${account}-3` });
    expect(one.map((credential) => credential.id)).toEqual([created[3]]);
    expect((await raw('/api/v2/zoom-oauth-credentials/?status=broken')).status).toBe(400);
  });

  it('retrieves, deletes with 204, then answers 404', async () => {
    const result = await create(consent(identity('gone')));
    const id = result.kind === 'created' ? result.credential.id : 'missing';
    expect(await client().getCredential(id)).toMatchObject({ id, meeting_sync_status: 'not_started' });
    const deleted = await raw(`/api/v2/zoom-oauth-credentials/${id}/`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    expect((await raw(`/api/v2/zoom-oauth-credentials/${id}/`, { method: 'DELETE' })).status).toBe(404);
    expect(await client().getCredential(id)).toBeUndefined();
  });

  it('answers 404, not 500, for an id, app or control path that is not valid percent-encoding', async () => {
    for (const [path, method] of [
      ['/api/v2/zoom-oauth-credentials/%E0%A4%A/', 'GET'],
      ['/api/v2/zoom-oauth-credentials/%E0%A4%A/', 'DELETE'],
      ['/api/v2/zoom-oauth-apps/%E0%A4%A/', 'GET'],
      ['/api/v2/zoom-oauth-apps/%E0%A4%A/webhook', 'POST'],
      ['/_sandbox/credentials/%E0%A4%A/status', 'POST'],
    ] as const) {
      const body = method === 'POST' ? JSON.stringify({ status: 'unhealthy' }) : undefined;
      const answer = await raw(path, { method, ...(body ? { body, headers: { 'content-type': 'application/json' } } : {}) });
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
  });

  it('never keeps a code in its request log', async () => {
    const grant = consent(identity('secret'));
    await create(grant);
    expect(JSON.stringify(state.requests)).not.toContain(grant.code);
    expect(JSON.stringify(state.requests)).not.toContain(grant.codeVerifier);
  });
});

describe('sandbox Recall: faults', () => {
  it('applies queued faults once each, in order, to the operation they match', async () => {
    fake.sandbox.failNext('list', { status: 429, headers: { 'retry-after': '0' }, body: { detail: 'Slow down' } });
    fake.sandbox.failNext('list', { status: 503 });
    const first = await raw('/api/v2/zoom-oauth-credentials/');
    const second = await raw('/api/v2/zoom-oauth-credentials/');
    const third = await raw('/api/v2/zoom-oauth-credentials/');
    expect([first.status, second.status, third.status]).toEqual([429, 503, 200]);
    expect(first.headers.get('retry-after')).toBe('0');
    expect(state.requests.slice(-3).map((request) => request.fault ?? false)).toEqual([true, true, false]);
  });

  it('can hang until the client gives up', async () => {
    const hung = fake.sandbox.failWhen((request) => request.operation === 'list', 'hang');
    const client = new AbortController();
    const request = raw('/api/v2/zoom-oauth-credentials/', { signal: client.signal });
    // Gives up only once the sandbox holds the request (however slow the machine), as a client's timeout would.
    expect(await hung).toMatchObject({ operation: 'list', status: 'hang', fault: true });
    client.abort(new DOMException('The operation timed out.', 'TimeoutError'));
    await expect(request).rejects.toMatchObject({ name: 'TimeoutError' });
    expect((await raw('/api/v2/zoom-oauth-credentials/')).status).toBe(200);
  });

  it('can drop the connection, or process the request and lose the answer', async () => {
    fake.sandbox.failNext('retrieve', 'reset');
    await expect(raw('/api/v2/zoom-oauth-credentials/00000000-0000-4000-8000-000000000000/')).rejects.toThrow();

    const who = identity('lost');
    fake.sandbox.failNext('create', { status: 502, afterProcessing: true });
    // A 5xx after the work was done: the client cannot know whether it was, and says so.
    await expect(create(consent(who))).rejects.toMatchObject({ name: 'RecallOutcomeUnknownError', status: 502 });
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
    expect(state.requests.at(-1)).toMatchObject({ operation: 'create', status: 502, fault: true, processedStatus: 201 });
  });

  it('can process a request and then hang or drop the connection: the work is done, the caller never hears', async () => {
    const hung = identity('hung');
    const held = fake.sandbox.failWhen((request) => request.operation === 'create', 'hang-after-processing');
    const caller = new AbortController();
    const created = client().createCredential({ oauthApp: APP.id, idempotencyKey: randomKey(), ...consent(hung) }, caller.signal);
    // The caller gives up once the sandbox did the work and holds the answer (however slow the machine).
    expect(await held).toMatchObject({ operation: 'create', status: 'hang', fault: true, processedStatus: 201 });
    caller.abort(new DOMException('The operation timed out.', 'TimeoutError'));
    await expect(created).rejects.toMatchObject({ name: 'RecallOutcomeUnknownError' });
    expect(fake.sandbox.credentialsFor({ userId: hung.userId })).toHaveLength(1);

    const [credential] = fake.sandbox.credentialsFor({ userId: hung.userId });
    fake.sandbox.failNext('delete', 'reset-after-processing');
    await expect(raw(`/api/v2/zoom-oauth-credentials/${credential?.id}/`, { method: 'DELETE' })).rejects.toThrow();
    expect(state.credentials.has(credential?.id as string)).toBe(false);
    expect(state.requests.at(-1)).toMatchObject({ operation: 'delete', status: 'reset', fault: true, processedStatus: 204 });
  });

  it('faults one caller\'s create by its Zoom identity and tells when the fault was applied', async () => {
    const [target, bystander] = [identity('target'), identity('bystander')];
    const applied = fake.sandbox.failWhen((request) => request.zoomIdentity?.userId === target.userId, 'hang');
    let appliedYet = false;
    void applied.then(() => (appliedYet = true));

    // The bystander's create passes untouched, and the fault stays queued for its target.
    expect(await create(consent(bystander))).toMatchObject({ kind: 'created' });
    await Promise.resolve();
    expect(appliedYet).toBe(false);
    expect(state.faults).toHaveLength(1);

    const targetCreate = client().createCredential({ oauthApp: APP.id, idempotencyKey: randomKey(), ...consent(target) }, AbortSignal.timeout(2_000));
    const recorded = await applied;
    expect(recorded).toMatchObject({ operation: 'create', status: 'hang', fault: true, zoomIdentity: target });
    expect(recorded.processedStatus).toBeUndefined();
    expect(fake.sandbox.credentialsFor({ userId: target.userId })).toEqual([]);
    fake.sandbox.close();
    await expect(targetCreate).rejects.toMatchObject({ name: 'RecallOutcomeUnknownError' });
    expect(state.faults).toEqual([]);
  });

  it('matches a delete by its credential id', async () => {
    const [kept, dropped] = [identity('kept'), identity('dropped')];
    const ids: string[] = [];
    for (const who of [kept, dropped]) {
      const result = await create(consent(who));
      ids.push(result.kind === 'created' ? result.credential.id : '');
    }
    const applied = fake.sandbox.failWhen((request) => request.credentialId === ids[1], { status: 503 });
    expect((await raw(`/api/v2/zoom-oauth-credentials/${ids[0]}/`, { method: 'DELETE' })).status).toBe(204);
    expect((await raw(`/api/v2/zoom-oauth-credentials/${ids[1]}/`, { method: 'DELETE' })).status).toBe(503);
    expect(await applied).toMatchObject({ operation: 'delete', status: 503, credentialId: ids[1] });
    expect(state.credentials.has(ids[1] as string)).toBe(true);
  });
});

describe('sandbox Recall: latency', () => {
  it('waits before processing, so concurrent creates of one identity interleave: one wins, the others conflict', async () => {
    fake.sandbox.configure({ latency: { create: { beforeMs: [20, 60] } } });
    const who = identity('race');
    const grants = [consent(who), consent(who), consent(who)];
    const started = performance.now();
    const results = await Promise.all(grants.map((grant) => create(grant)));
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    expect(results.map((result) => result.kind).sort()).toEqual(['conflict', 'conflict', 'created']);
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
  });

  it('waits after processing with the change already made: the answer is still in flight', async () => {
    fake.sandbox.configure({ latency: { create: { afterMs: [150, 150] } } });
    const who = identity('inflight');
    const pending = create(consent(who));
    // Poll the sandbox's state, not the clock: the credential exists before its create is answered.
    while (fake.sandbox.credentialsFor({ userId: who.userId }).length === 0) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    const answeredBefore = state.requests.filter((request) => request.operation === 'create').length;
    const result = await pending;
    expect(result.kind).toBe('created');
    expect(state.requests.filter((request) => request.operation === 'create')).toHaveLength(answeredBefore + 1);
  });
});

describe('sandbox Recall: forwarded Zoom webhooks', () => {
  const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
  /** What the service's worker does: forward the raw bytes with Zoom's headers, no API key. */
  const forward = (body: string, headers = zoomWebhookHeaders(APP.webhookSecret, body), appId = APP.id) =>
    client().forwardZoomWebhook({
      oauthApp: appId,
      body: new TextEncoder().encode(body),
      headers: {
        'x-zm-signature': headers['x-zm-signature'] as string,
        'x-zm-request-timestamp': headers['x-zm-request-timestamp'] as string,
        'content-type': headers['content-type'],
      },
    });
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${fake.url}${path}`, { method: 'POST', headers, body });
  const webhookPath = `/api/v2/zoom-oauth-apps/${APP.id}/webhook`;

  it('accepts a correctly signed event without an API key and records its digest, never the body', async () => {
    // Prepare
    const body = JSON.stringify({ event: 'meeting.created', payload: { object: { id: 'recorded-meeting' } } });
    const headers = zoomWebhookHeaders(APP.webhookSecret, body, 1_700_000_000);

    // Act: an old timestamp too: whether Recall refuses one is undocumented, and queued forwards are late
    await forward(body, headers);

    // Assess
    expect(state.forwardedWebhooks.at(-1)).toEqual({
      at: expect.any(String),
      appId: APP.id,
      event: 'meeting.created',
      timestamp: '1700000000',
      bodySha256: sha256(body),
      signatureSha256: sha256(headers['x-zm-signature'] as string),
      contentType: 'application/json; charset=utf-8',
      markedUnhealthy: [],
    });
    expect(JSON.stringify(state.forwardedWebhooks)).not.toContain('recorded-meeting');
    expect(JSON.stringify(state.forwardedWebhooks)).not.toContain(headers['x-zm-signature']);
    expect(state.requests.at(-1)).toMatchObject({ operation: 'webhook', path: webhookPath, status: 200 });
  });

  it('answers endpoint.url_validation with the token pair, as Recall does for Zoom', async () => {
    const body = JSON.stringify({ event: 'endpoint.url_validation', payload: { plainToken: 'challenge-1' } });
    const response = await post(webhookPath, body, zoomWebhookHeaders(APP.webhookSecret, body));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      plainToken: 'challenge-1',
      encryptedToken: createHmac('sha256', APP.webhookSecret).update('challenge-1').digest('hex'),
    });
  });

  it('refuses a wrong or missing signature (401), an unknown app (404), another path or method, and non-JSON', async () => {
    // Prepare
    const body = JSON.stringify({ event: 'meeting.created', payload: {} });
    const signed = zoomWebhookHeaders(APP.webhookSecret, body);
    const forwardedBefore = state.forwardedWebhooks.length;

    // Act + Assess
    await expect(forward(body, zoomWebhookHeaders('another-secret', body))).rejects.toMatchObject({ status: 401 });
    const tampered = await post(webhookPath, `${body} `, signed);
    expect(tampered.status).toBe(401);
    const unsigned = await post(webhookPath, body, { 'content-type': 'application/json' });
    expect(unsigned.status).toBe(401);
    await expect(forward(body, signed, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404 });
    expect((await post(`${webhookPath}/`, body, signed)).status).toBe(404);
    expect((await fetch(`${fake.url}${webhookPath}`)).status).toBe(405);
    const notJson = 'not json';
    expect((await post(webhookPath, notJson, zoomWebhookHeaders(APP.webhookSecret, notJson))).status).toBe(400);
    expect(state.forwardedWebhooks).toHaveLength(forwardedBefore);
  });

  it('makes the credential of a deauthorized Zoom user unhealthy, as Recall does, and no other', async () => {
    // Prepare: two Zoom users of one account
    const who = identity('deauth');
    const colleague = { accountId: who.accountId, userId: `${who.userId}-colleague` };
    const mine = await create(consent(who));
    const theirs = await create(consent(colleague));
    const [mineId, theirsId] = [mine, theirs].map((result) => (result.kind === 'created' ? result.credential.id : ''));

    // Act
    await forward(deauthorizationEvent({ ...who, clientId: APP.clientId }));

    // Assess
    expect(state.credentials.get(mineId as string)?.status).toBe('unhealthy');
    expect(state.credentials.get(theirsId as string)?.status).toBe('healthy');
    expect(state.forwardedWebhooks.at(-1)).toMatchObject({ event: 'app_deauthorized', markedUnhealthy: [mineId] });
  });

  it('makes an account-level credential unhealthy when any user of the account deauthorizes', async () => {
    fake.sandbox.configure({ appKind: 'account_level' });
    const who = identity('account-deauth');
    const result = await create(consent(who));
    const id = result.kind === 'created' ? result.credential.id : '';
    await forward(deauthorizationEvent({ accountId: who.accountId, userId: 'the-admin', clientId: APP.clientId }));
    expect(state.credentials.get(id)?.status).toBe('unhealthy');
  });
});

describe('sandbox Recall: health controls (sandbox only)', () => {
  const setStatus = (id: string, body: string) =>
    fetch(`${fake.url}/_sandbox/credentials/${id}/status`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });

  it('marks a credential unhealthy and healthy again; the list filters by it', async () => {
    // Prepare
    const result = await create(consent(identity('controls')));
    const id = result.kind === 'created' ? result.credential.id : '';

    // Act + Assess
    const unhealthy = await setStatus(id, JSON.stringify({ status: 'unhealthy' }));
    expect(unhealthy.status).toBe(200);
    expect(await unhealthy.json()).toMatchObject({ id, status: 'unhealthy' });
    const listed = await client().listCredentials({ oauth_app: APP.id, status: 'unhealthy' });
    expect(listed.map((credential) => credential.id)).toContain(id);
    expect(fake.sandbox.setCredentialStatus(id, 'healthy')?.status).toBe('healthy');
    expect(await client().getCredential(id)).toMatchObject({ status: 'healthy' });
  });

  it('answers 404 for an unknown credential, 400 for another status or non-JSON, 405 for GET', async () => {
    expect((await setStatus('00000000-0000-4000-8000-000000000000', '{"status":"unhealthy"}')).status).toBe(404);
    const result = await create(consent(identity('bad-control')));
    const id = result.kind === 'created' ? result.credential.id : '';
    expect((await setStatus(id, '{"status":"revoked"}')).status).toBe(400);
    expect((await setStatus(id, 'unhealthy')).status).toBe(400);
    expect((await fetch(`${fake.url}/_sandbox/credentials/${id}/status`)).status).toBe(405);
    expect(fake.sandbox.setCredentialStatus('no-such-id', 'unhealthy')).toBeUndefined();
    expect(state.credentials.get(id)?.status).toBe('healthy');
  });
});

describe('sandbox Recall: Idempotency-Key, as Recall documents it', () => {
  const post = (grant: ReturnType<typeof consent>, key: string) =>
    raw('/api/v2/zoom-oauth-credentials/', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({
        oauth_app: APP.id,
        authorization_code: { code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.codeVerifier },
      }),
    });

  it('answers a repeat of a completed create with the first response, without creating again', async () => {
    // Prepare
    const who = identity('replay');
    const grant = consent(who);
    const key = randomKey();

    // Act
    const first = await post(grant, key);
    const repeat = await post(grant, key);

    // Assess: the code was spent once; the repeat did not try to spend it again
    expect(first.status).toBe(201);
    expect(repeat.status).toBe(201);
    expect(await repeat.json()).toEqual(await first.json());
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
    expect(fake.sandbox.requestsOf('create').slice(-2).map((request) => request.replayed ?? false)).toEqual([false, true]);
  });

  it('replays a refused create (400) too, and performs a request with another key', async () => {
    const grant = consent(identity('refused'));
    const key = randomKey();
    await post(grant, key);

    const again = await post(grant, key);
    const otherKey = await post(grant, randomKey());

    expect(again.status).toBe(201);
    // Performed: Zoom refuses the spent code
    expect(otherKey.status).toBe(400);
  });

  it('answers 409 to a repeat while the first is still being processed', async () => {
    // Prepare: the first create takes a while, long enough for the repeat to arrive on a busy machine
    fake.sandbox.configure({ latency: { create: { beforeMs: [3_000, 3_000] } } });
    const who = identity('running');
    const grant = consent(who);
    const key = randomKey();
    const processing = new Promise<void>((resolve) => (onLatency = resolve));

    // Act: the repeat is sent once the first is being processed, not after a guessed pause
    const first = post(grant, key);
    await processing;
    onLatency = undefined;
    const repeat = await post(grant, key);

    // Assess
    expect(repeat.status).toBe(409);
    expect((await first).status).toBe(201);
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
  });

  it('keeps nothing for a 5xx from the edge (before processing): the repeat is performed', async () => {
    const who = identity('edge');
    const grant = consent(who);
    const key = randomKey();
    fake.sandbox.failNext('create', { status: 503 });

    const edge = await post(grant, key);
    const repeat = await post(grant, key);

    expect(edge.status).toBe(503);
    expect(repeat.status).toBe(201);
    expect(fake.sandbox.requestsOf('create').at(-1)?.replayed).toBeUndefined();
  });

  it('keeps the processed answer of a create whose own answer was lost (503 after processing)', async () => {
    const who = identity('lost');
    const grant = consent(who);
    const key = randomKey();
    fake.sandbox.failNext('create', { status: 503, afterProcessing: true });

    const lost = await post(grant, key);
    const repeat = await post(grant, key);

    expect(lost.status).toBe(503);
    expect(repeat.status).toBe(201);
    expect(fake.sandbox.credentialsFor({ userId: who.userId })).toHaveLength(1);
  });

  it('forgets a completed request after an hour: the repeat is performed again', async () => {
    // Prepare: a sandbox whose clock the test moves
    const clock = { now: Date.now() };
    const local = await startFakeRecall({ apiKey: API_KEY, oauthApp: APP, zoom, now: () => clock.now });
    try {
      const grant = consent(identity('hour'));
      const send = (key: string) =>
        fetch(`${local.url}/api/v2/zoom-oauth-credentials/`, {
          method: 'POST',
          headers: { authorization: `Token ${API_KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify({
            oauth_app: APP.id,
            authorization_code: { code: grant.code, redirect_uri: grant.redirectUri, code_verifier: grant.codeVerifier },
          }),
        });
      const key = randomKey();
      expect((await send(key)).status).toBe(201);

      // Act
      clock.now += 59 * 60 * 1000;
      const withinTheHour = await send(key);
      clock.now += 2 * 60 * 1000;
      const afterTheHour = await send(key);

      // Assess: within the hour replayed; after it performed (and Zoom refuses the spent code)
      expect(withinTheHour.status).toBe(201);
      expect(afterTheHour.status).toBe(400);
    } finally {
      await local.close();
    }
  });
});
