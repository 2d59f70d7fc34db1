import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, SQSBatchResponse } from 'aws-lambda';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { signConnectToken } from '../../functions/connect/connect-token.js';
import { openOAuthState } from '../../functions/connect/oauth-state.js';
import { sha256Hex } from '../../functions/core/crypto.js';
import { FILLED_SECRET_NAMES, type FilledSecret } from '../../functions/core/filled-secrets.js';
import { connectionKey } from '../../functions/core/table-schema.js';
import { filledSecret, generatedKey } from '../helpers/aws.js';
import { context } from '../helpers/context.js';
import { AWS_FUNCTION_ENV } from '../helpers/env.js';
import { httpEvent, scheduledEvent } from '../helpers/events.js';
import { type Answer, credential, type RecordedRequest } from '../helpers/fake-recall-fetch.js';
import { handlerHarness, type HandlerOf, importHandler } from '../helpers/handler-harness.js';
import type { CapturedOutput } from '../helpers/output.js';
import { recordItem } from '../helpers/records.js';
import { queueMessageBody, signedWebhookEvent, sqsEvent, WEBHOOK_QUEUE_URL, zoomSign } from '../helpers/zoom-webhook.js';

/*
 * The redaction test the issue asks for: known, distinctive secrets go through every path of every function,
 * everything the functions write is captured (stdout and stderr, where Powertools' logger and metrics write, and
 * the global console), at DEBUG so no line is filtered out, with metrics on, and the capture is searched for each
 * secret and its base64, base64url and URL-encoded forms. Each path also asserts that its log lines were captured,
 * so a capture that silently stopped working fails the test rather than passing it.
 *
 * Secrets seen only at run time (each state, PKCE verifier, sealed attempt cookie, connect token, webhook
 * signature) are collected as they appear (from the authorize redirect and the cookie it sets, opened with the state
 * key; the signed request) and checked too.
 */

const KNOWN = {
  recallApiKey: 'RZCLEAK-recall-api-key-Qm7Tn4Vx2Lp9',
  signingKey: 'RZCLEAK-signing-key-current-Hd8Ws3Ke6Ry1Zb5Nc0Fu',
  previousSigningKey: 'RZCLEAK-signing-key-previous-Jv4Xq9Mt2Gs7Pw3Ea6',
  stateKey: 'RZCLEAK-state-key-current-Vn5Bq8Ls1Wd4Hk7Tc2Xz',
  previousStateKey: 'RZCLEAK-state-key-previous-Mg3Rf6Pj9Yb2Nu5Qe8Ka',
  webhookSecretToken: 'RZCLEAK-zoom-webhook-secret-token-Ub5Oi8Yl1',
  zoomCode: 'RZCLEAK-zoom-code-Tk2Rf6Wd9Hn3',
} as const;
const ZOOM_CLIENT_ID = 'zoom-client-id-not-secret';
const RETURN_TO = 'https://app.example.com/settings/';

// At DEBUG, with metrics on. Authorize reads its secrets through the Parameters and Secrets extension: a stand-in
// over the same mock. Every function is loaded here (`importHandlers`), not only the harness's own.
const h = handlerHarness('authorize', {
  env: { WEBHOOK_QUEUE_URL, EVENT_BUS_NAME: 'recall-zoom-connect-events' },
  logLevel: 'DEBUG',
  metrics: true,
  secretsExtension: true,
  table: true,
  warm: false,
});
const { ddb, recall } = h;

type Handlers = {
  authorize: HandlerOf<'authorize'>;
  callback: HandlerOf<'callback'>;
  connections: HandlerOf<'connections'>;
  webhook: HandlerOf<'webhook'>;
  worker: HandlerOf<'webhook-worker'>;
  healthSync: HandlerOf<'health-sync'>;
};
let warm: Handlers;

/** Fresh module instances: a cold start, with nothing cached (the misconfigured paths need that). */
async function importHandlers(): Promise<Handlers> {
  vi.resetModules();
  return {
    authorize: await importHandler('authorize'),
    callback: await importHandler('callback'),
    connections: await importHandler('connections'),
    webhook: await importHandler('webhook'),
    worker: await importHandler('webhook-worker'),
    healthSync: await importHandler('health-sync'),
  };
}

// ---- the secrets, and what is seen of them at run time -------------------------------------------------------

/** Values found while the tests run: states, verifiers, sealed attempts, connect tokens, signatures. */
const seen = new Set<string>();
const remember = (...values: Array<string | undefined>) => {
  for (const value of values) if (value) seen.add(value);
};

const forms = (value: string): string[] => [
  value,
  Buffer.from(value, 'utf8').toString('base64'),
  Buffer.from(value, 'utf8').toString('base64url'),
  encodeURIComponent(value),
];

function expectNothingLeaked(output: CapturedOutput): void {
  const text = output.text();
  for (const value of [...Object.values(KNOWN), ...seen]) {
    for (const form of forms(value)) {
      if (text.includes(form)) {
        const line = output.lines().find((l) => l.includes(form));
        throw new Error(`A secret (${value.slice(0, 12)}...) reached the output as ${form === value ? 'itself' : 'an encoded form'}: ${line}`);
      }
    }
  }
}

// ---- AWS and Recall as the functions see them ------------------------------------------------------------------

/** The table holds user-42's connection (the in-memory table answers every other read and write as DynamoDB would). */
const fakeTable = () => h.table.put(recordItem('user-42', 'connected', 'cred-1'));

/**
 * Secrets Manager with the known secrets: the three ops fill in (one left out holds the placeholder), and the signing
 * and state keys' current and previous versions.
 */
function fakeSecrets(filled: Partial<Record<FilledSecret, string>> = filledAppSecret()): void {
  h.secretsManager.reset();
  for (const name of FILLED_SECRET_NAMES) filledSecret(h.secretsManager, name, filled[name] ?? 'REPLACE_ME');
  generatedKey(h.secretsManager, AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID, KNOWN.signingKey, KNOWN.previousSigningKey);
  generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, KNOWN.stateKey, KNOWN.previousStateKey);
}

const filledAppSecret = (): Record<FilledSecret, string> => ({
  recallApiKey: KNOWN.recallApiKey,
  zoomClientId: ZOOM_CLIENT_ID,
  zoomWebhookSecretToken: KNOWN.webhookSecretToken,
});

/**
 * A Recall that is as indiscreet as it could be: every error detail quotes back what it was sent (the code, the
 * verifier, the API key, the webhook signature), raw and URL-encoded.
 */
function echo(request: RecordedRequest): string {
  const body = request.body as { authorization_code?: { code?: string; code_verifier?: string } } | undefined;
  const quoted = [request.authorization ?? '', body?.authorization_code?.code ?? '', body?.authorization_code?.code_verifier ?? ''];
  return `you sent ${quoted.join(' ')} (${quoted.map(encodeURIComponent).join(' ')})`;
}
const recallAnswers = (answer: (request: RecordedRequest) => Answer | undefined) => recall.on(answer);

// ---- the requests ------------------------------------------------------------------------------------------------

async function authorizeWith(handler: Handlers['authorize'], token: string): Promise<APIGatewayProxyStructuredResultV2> {
  remember(token, token.split('.')[2]);
  const response = (await handler(httpEvent({ path: '/zoom/authorize', query: { connect_token: token } }), context)) as APIGatewayProxyStructuredResultV2;
  await rememberRedirect(response);
  return response;
}

/** Remembers the state of a redirect to Zoom, and its sealed cookie with the PKCE verifier sealed in it. */
async function rememberRedirect(response: APIGatewayProxyStructuredResultV2): Promise<void> {
  const location = String(response.headers?.location ?? '');
  const state = location.startsWith('https://zoom.us/') ? (new URL(location).searchParams.get('state') ?? undefined) : undefined;
  remember(state);
  for (const cookie of response.cookies ?? []) {
    const sealed = cookie.slice(cookie.indexOf('=') + 1, cookie.indexOf(';'));
    remember(sealed || undefined, ...sealed.split('.').filter((part) => part.length > 8));
    if (sealed && state) {
      // It must open: a verifier not remembered would go unchecked by every test here.
      const opened = await openOAuthState(sealed, sha256Hex(state), [KNOWN.stateKey, KNOWN.previousStateKey]);
      expect(opened.status, 'the redirect\'s cookie opens with its state').toBe('opened');
      if (opened.status === 'opened') remember(opened.state.codeVerifier);
    }
  }
}

const token = (key: string = KNOWN.signingKey, claims: { returnTo?: string; ttl?: number } = {}) =>
  signConnectToken({ userId: 'user-42', returnTo: claims.returnTo ?? RETURN_TO }, key, claims.ttl ?? 600);

/** Starts an attempt on the warm authorize function; returns what Zoom would send back. */
async function startAttempt(): Promise<{ state: string; cookie: string }> {
  const response = await authorizeWith(warm.authorize, await token());
  expect(response.statusCode).toBe(302);
  const state = new URL(String(response.headers?.location)).searchParams.get('state') ?? '';
  const cookie = (response.cookies?.[0] ?? '').split(';')[0] ?? '';
  return { state, cookie };
}

async function callbackWith(
  handler: Handlers['callback'],
  query: Record<string, string>,
  cookie: string,
): Promise<APIGatewayProxyStructuredResultV2> {
  const response = (await handler(httpEvent({ path: '/zoom/callback', query, cookies: [cookie] }), context)) as APIGatewayProxyStructuredResultV2;
  await rememberRedirect(response);
  return response;
}

const outcome = (response: APIGatewayProxyStructuredResultV2) => {
  const url = new URL(String(response.headers?.location));
  return `${url.searchParams.get('zoom_connect')}${url.searchParams.get('reason') ? `:${url.searchParams.get('reason')}` : ''}`;
};

const connectionsRequest = (method: 'GET' | 'DELETE', userId = 'user-42'): APIGatewayProxyEventV2 =>
  httpEvent({ method, path: `/connections/${userId}`, routeKey: `${method} /connections/{userId}`, pathParameters: { userId } });

function signedWebhook(body: string, token: string = KNOWN.webhookSecretToken): APIGatewayProxyEventV2 {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const event = signedWebhookEvent(token, body, timestamp);
  remember(event.headers['x-zm-signature']);
  return event;
}

let lastQueuedSignature = '';
function queuedWebhook(body: string): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = zoomSign(KNOWN.webhookSecretToken, timestamp, body);
  remember(signature);
  lastQueuedSignature = signature;
  return queueMessageBody(body, { timestamp, signature });
}

const DEAUTHORIZED = JSON.stringify({
  event: 'app_deauthorized',
  event_ts: Date.now(),
  payload: { account_id: 'za-1', user_id: 'zu-1', deauthorization_time: new Date().toISOString(), client_id: ZOOM_CLIENT_ID },
});

// ---- the run -----------------------------------------------------------------------------------------------------

let output: CapturedOutput;

beforeAll(async () => {
  warm = await importHandlers();
});
beforeEach(async () => {
  await fakeTable();
  fakeSecrets();
  output = h.output;
});
afterEach(() => {
  // Whatever the test asserted, nothing it wrote may hold a secret. (Asserted here too, so no test can forget.)
  expectNothingLeaked(output);
});

/** The path's log lines were captured, and hold none of the secrets. */
function expectCapturedWithoutSecrets(...messages: string[]): void {
  const logged = output.logs().map((line) => line.message);
  expect(logged.length).toBeGreaterThan(0);
  for (const message of messages) expect(logged).toContain(message);
  expectNothingLeaked(output);
}

describe('redaction: the capture works', () => {
  it('sees the logger (stdout and stderr) and the metrics (EMF on stdout), and finds a secret written to any', () => {
    // A canary: if this stops finding it, every other test here would pass for the wrong reason.
    process.stdout.write(`{"level":"INFO","message":"canary ${KNOWN.recallApiKey}"}\n`);
    process.stderr.write(`${Buffer.from(KNOWN.signingKey).toString('base64')}\n`);
    console.log(encodeURIComponent(KNOWN.zoomCode));
    const lines = output.lines();
    output.clear();

    expect(lines).toHaveLength(3);
    for (const [index, line] of lines.entries()) {
      const leaked = Object.values(KNOWN).some((value) => forms(value).some((form) => line.includes(form)));
      expect(leaked, `line ${index} should be found`).toBe(true);
    }
  });
});

describe('redaction: GET /zoom/authorize', () => {
  it('a valid token (current key, then previous key)', async () => {
    await startAttempt();
    const previous = await authorizeWith(warm.authorize, await token(KNOWN.previousSigningKey));

    expect(previous.statusCode).toBe(302);
    expectCapturedWithoutSecrets('Connect attempt started');
    expect(output.emf().length).toBeGreaterThan(0);
  });

  it.each([
    ['signed with another key', () => token('RZCLEAK-some-other-signing-key-Aa1Bb2Cc3Dd4')],
    ['expired', () => token(KNOWN.signingKey, { ttl: -60 })],
    ['returning off the allow-list', () => token(KNOWN.signingKey, { returnTo: 'https://evil.example/' })],
    ['tampered', async () => `${(await token()).slice(0, -6)}AAAAAA`],
  ])('a token %s', async (_case, make) => {
    const response = await authorizeWith(warm.authorize, await make());

    expect(response.statusCode).toBe(400);
    expectCapturedWithoutSecrets('Request refused');
  });

  it('misconfigured: the app secret is a placeholder (redirect) or the signing key unreadable (503)', async () => {
    fakeSecrets({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME', zoomWebhookSecretToken: KNOWN.webhookSecretToken });
    const cold = await importHandlers();
    const redirected = await authorizeWith(cold.authorize, await token());
    h.secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID }).rejects(
      new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }),
    );
    const colder = await importHandlers();
    const unavailable = await authorizeWith(colder.authorize, await token());

    expect(outcome(redirected)).toBe('error:misconfigured');
    expect(unavailable.statusCode).toBe(503);
    expectCapturedWithoutSecrets('Service misconfigured');
  });
});

describe('redaction: GET /zoom/callback', () => {
  const created = () => recallAnswers((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

  it('connected', async () => {
    created();
    const { state, cookie } = await startAttempt();

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(outcome(response)).toBe('connected');
    expectCapturedWithoutSecrets('Connect attempt started', 'Zoom account connected', 'Recall call');
  });

  it('denied', async () => {
    const { state, cookie } = await startAttempt();

    const response = await callbackWith(warm.callback, { state, error: 'access_denied' }, cookie);

    expect(outcome(response)).toBe('denied');
    expectCapturedWithoutSecrets('User did not authorize at Zoom');
  });

  it.each([
    ['Recall rejects the code, quoting it and the verifier', (r: RecordedRequest) => ({ status: 400, body: { detail: echo(r) } }), 'error:code_rejected'],
    ['Recall refuses the API key (401), quoting it', (r: RecordedRequest) => ({ status: 401, body: { detail: echo(r) } }), 'error:recall_rejected'],
    ['Recall is down (503), quoting everything', (r: RecordedRequest) => ({ status: 503, body: { detail: echo(r) } }), 'error:recall_unavailable'],
    [
      'Recall rate-limits every retry (429), quoting everything',
      (r: RecordedRequest) => ({ status: 429, body: { detail: echo(r) }, headers: { 'retry-after': '0' } }),
      'error:recall_unavailable',
    ],
    [
      'Recall keeps reporting a conflict, quoting everything',
      (r: RecordedRequest) =>
        r.method === 'POST'
          ? { status: 400, body: { detail: echo(r), conflicting_zoom_user_id: 'zu-1' } }
          : r.method === 'GET' && r.path.includes('?')
            ? { status: 200, body: { next: null, results: [credential('cred-old', { user_id: 'zu-1' })] } }
            : { status: r.method === 'GET' ? 404 : 204 },
      'error:conflict_unresolved',
    ],
  ])('error: %s', async (_case, answer, expected) => {
    recallAnswers(answer);
    const { state, cookie } = await startAttempt();

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(outcome(response)).toBe(expected);
    expectCapturedWithoutSecrets('Connect attempt failed');
  });

  it('error: Recall rejects the code, echoing it and the verifier in every form (base64, base64url, upper case, prefixes)', async () => {
    // Prepare: what Recall was sent, echoed as-is, encoded, upper-cased and cut short
    let sent: { code: string; verifier: string } | undefined;
    recallAnswers((r) => {
      const body = r.body as { authorization_code: { code: string; code_verifier: string } };
      sent = { code: body.authorization_code.code, verifier: body.authorization_code.code_verifier };
      const everyForm = (value: string) => [
        value,
        Buffer.from(value).toString('base64'),
        Buffer.from(value).toString('base64url'),
        value.toUpperCase(),
        `${value.slice(0, 10)}…`,
      ];
      return {
        status: 400,
        body: { code: 'invalid_grant', detail: [...everyForm(sent.code), ...everyForm(sent.verifier)].join(' | ') },
      };
    });
    const { state, cookie } = await startAttempt();

    // Act
    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    // Assess: Recall's error code is kept, nothing of the code or the verifier in any form or piece
    expect(outcome(response)).toBe('error:code_rejected');
    expectCapturedWithoutSecrets('Connect attempt failed');
    const text = output.text();
    expect(text).toContain('invalid_grant');
    for (const value of [sent?.code ?? '', sent?.verifier ?? '']) {
      expect(value.length).toBeGreaterThan(10);
      for (const piece of [value.slice(0, 10), value.toUpperCase().slice(0, 10), Buffer.from(value).toString('base64').slice(0, 10)]) {
        expect(text).not.toContain(piece);
      }
    }
  });

  it('error: the connection cannot be recorded (internal)', async () => {
    created();
    const { state, cookie } = await startAttempt();
    // The connection record only: the state was used (its own conditional put went through).
    ddb.on(UpdateItemCommand, { Key: { pk: { S: connectionKey('user-42') } }, ReturnValues: 'ALL_OLD' }).rejects(new Error('InternalServerError'));

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(outcome(response)).toBe('error:internal');
    expectCapturedWithoutSecrets('Connect attempt failed');
  });

  it('error: misconfigured (the Recall API key is a placeholder)', async () => {
    const { state, cookie } = await startAttempt();
    fakeSecrets({ recallApiKey: 'REPLACE_ME', zoomClientId: ZOOM_CLIENT_ID });
    const cold = await importHandlers();

    const response = await callbackWith(cold.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(outcome(response)).toBe('error:misconfigured');
    expectCapturedWithoutSecrets('Service misconfigured');
  });

  it('the code was spent on a conflict: back to Zoom with a fresh state (re-authorization)', async () => {
    let creates = 0;
    recallAnswers((r) =>
      r.method === 'POST'
        ? creates++ === 0
          ? { status: 400, body: { detail: echo(r), conflicting_zoom_user_id: 'zu-1' } }
          : { status: 400, body: { detail: `invalid_grant: ${echo(r)}` } }
        : r.method === 'GET' && r.path.includes('?')
          ? { status: 200, body: { next: null, results: [credential('cred-old', { user_id: 'zu-1' })] } }
          : { status: r.method === 'GET' ? 404 : 204 },
    );
    const { state, cookie } = await startAttempt();

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\//);
    expectCapturedWithoutSecrets('Sending the user back to Zoom for a fresh code');
  });

  it('a create whose outcome is unknown (a 503 quoting everything), looked into and sent back to Zoom', async () => {
    recallAnswers((r) =>
      r.method === 'POST'
        ? { status: 503, body: { detail: echo(r) } }
        : { status: 200, body: { next: null, results: [credential('cred-nobody-recorded', { user_id: 'zu-9' })] } },
    );
    const { state, cookie } = await startAttempt();

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\//);
    expectCapturedWithoutSecrets(
      'A Recall create ended without a usable answer; listed the credentials made since',
      'Sending the user back to Zoom for a fresh code',
    );
  });

  it('a replayed state', async () => {
    created();
    const { state, cookie } = await startAttempt();
    await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    const replayed = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(replayed.statusCode).toBe(400);
    expectCapturedWithoutSecrets('Callback with an unknown or already used state');
  });

  it('another browser (no cookie, or a cookie that is not this attempt)', async () => {
    const { state } = await startAttempt();
    const strangersCookie = 'RZCLEAK-another-browsers-cookie-Kx3';
    remember(strangersCookie);

    const forged = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, `zc_${sha256Hex(state).slice(0, 16)}=${strangersCookie}`);
    const none = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, 'theme=dark');

    expect(forged.statusCode).toBe(400);
    expect(none.statusCode).toBe(400);
    expectCapturedWithoutSecrets('Callback with an unknown or already used state');
  });

  it('an expired state', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { state, cookie } = await startAttempt();
    vi.setSystemTime(Date.now() + 11 * 60_000);

    const response = await callbackWith(warm.callback, { code: KNOWN.zoomCode, state }, cookie);

    expect(outcome(response)).toBe('error:state_expired');
    expectCapturedWithoutSecrets('Connect attempt expired before Zoom returned');
  });
});

describe('redaction: /connections/{userId}', () => {
  it('GET, and GET of a user never connected', async () => {
    await warm.connections(connectionsRequest('GET'), context);
    ddb.on(GetItemCommand).resolves({});
    const missing = (await warm.connections(connectionsRequest('GET', 'user-0'), context)) as APIGatewayProxyStructuredResultV2;

    expect(missing.statusCode).toBe(404);
    // A GET writes no log line of its own at INFO; at DEBUG Powertools' own note on an invocation without metrics.
    expect(output.logs().length).toBeGreaterThan(0);
    expectNothingLeaked(output);
  });

  it('DELETE, and DELETE while Recall is down (retried, then a 500), quoting the API key', async () => {
    recallAnswers((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
    const ended = (await warm.connections(connectionsRequest('DELETE'), context)) as APIGatewayProxyStructuredResultV2;
    recall.reset();
    recallAnswers((r) => ({ status: 503, body: { detail: echo(r) }, headers: { 'retry-after': '0' } }));
    await fakeTable(); // connected again, to be ended again
    const failed = (await warm.connections(connectionsRequest('DELETE'), context)) as APIGatewayProxyStructuredResultV2;

    expect(ended.statusCode).toBe(200);
    expect(failed.statusCode).toBe(500);
    expectCapturedWithoutSecrets('Connection ended', 'Retrying a Recall call', 'Request failed');
  });

  it('DELETE while the app secret is a placeholder (503)', async () => {
    fakeSecrets({ recallApiKey: 'REPLACE_ME', zoomClientId: 'REPLACE_ME' });
    const cold = await importHandlers();

    const response = (await cold.connections(connectionsRequest('DELETE'), context)) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(503);
    expectCapturedWithoutSecrets('Service misconfigured');
  });
});

describe('redaction: POST /zoom/webhook', () => {
  it('a verified event, and the url_validation challenge', async () => {
    const accepted = (await warm.webhook(signedWebhook('{"event":"meeting.started","payload":{}}'), context)) as APIGatewayProxyStructuredResultV2;
    const challenge = (await warm.webhook(
      signedWebhook('{"event":"endpoint.url_validation","payload":{"plainToken":"plain-token-123"}}'),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    expect(accepted.statusCode).toBe(200);
    expect(challenge.statusCode).toBe(200);
    expectCapturedWithoutSecrets('Zoom webhook accepted');
  });

  it('a bad signature', async () => {
    const response = (await warm.webhook(signedWebhook('{"event":"meeting.started"}', 'RZCLEAK-forged-token-Lq2'), context)) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(401);
    expectCapturedWithoutSecrets('Zoom webhook refused');
  });

  it('misconfigured: the Secret Token is still the placeholder', async () => {
    fakeSecrets({ recallApiKey: KNOWN.recallApiKey, zoomClientId: ZOOM_CLIENT_ID, zoomWebhookSecretToken: 'REPLACE_ME' });
    const cold = await importHandlers();

    const response = (await cold.webhook(signedWebhook('{"event":"meeting.started"}', 'REPLACE_ME'), context)) as APIGatewayProxyStructuredResultV2;

    expect(response.statusCode).toBe(503);
    expectCapturedWithoutSecrets('Service misconfigured');
  });
});

describe('redaction: the webhook worker', () => {
  it('a deauthorization, and a forward Recall refuses quoting the signature', async () => {
    let forwards = 0;
    recallAnswers((r) => {
      if (r.method === 'GET' && r.path.includes('?')) return { status: 200, body: { next: null, results: [credential('cred-1', { user_id: 'zu-1' })] } };
      if (r.method === 'DELETE') return { status: 204 };
      return forwards++ === 0 ? { status: 200, body: {} } : undefined;
    });
    const applied = (await warm.worker(sqsEvent([{ messageId: 'm-1', body: queuedWebhook(DEAUTHORIZED) }]), context)) as SQSBatchResponse;
    recall.reset();
    // Recall quotes the signature it could not verify, raw and URL-encoded.
    recallAnswers(() => ({
      status: 401,
      body: { detail: `bad signature ${lastQueuedSignature} (${encodeURIComponent(lastQueuedSignature)})` },
    }));
    const refused = (await warm.worker(sqsEvent([{ messageId: 'm-2', body: queuedWebhook('{"event":"meeting.started"}') }]), context)) as SQSBatchResponse;

    expect(applied.batchItemFailures).toEqual([]);
    expect(refused.batchItemFailures).toEqual([{ itemIdentifier: 'm-2' }]);
    expectCapturedWithoutSecrets('Zoom deauthorization applied', 'Zoom webhook relayed');
    expect(output.logs().some((line) => line.message.startsWith('Recall rejected a forwarded Zoom webhook'))).toBe(true);
  });

  it('a message that is not a webhook message', async () => {
    const result = (await warm.worker(sqsEvent([{ messageId: 'm-3', body: `{"v":1,"bodyBase64":"${Buffer.from(KNOWN.webhookSecretToken).toString('base64')}"}` }]), context)) as SQSBatchResponse;

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-3' }]);
    expectCapturedWithoutSecrets('Unusable webhook message; it will end in the dead-letter queue');
  });
});

describe('redaction: the health sync', () => {
  it('a run that marks a credential unhealthy, and a run Recall fails (retried), quoting the API key', async () => {
    recallAnswers(() => ({ status: 200, body: { next: null, results: [{ ...credential('cred-1', { user_id: 'zu-1' }), status: 'unhealthy' }] } }));
    await warm.healthSync(scheduledEvent('health-sync'), context);
    recall.reset();
    recallAnswers((r) => ({ status: 503, body: { detail: echo(r) }, headers: { 'retry-after': '0' } }));

    await expect(warm.healthSync(scheduledEvent('health-sync'), context)).rejects.toThrow();

    expectCapturedWithoutSecrets('Health sync finished', 'Retrying a Recall call', 'Health sync failed');
  });
});
