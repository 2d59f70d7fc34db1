import {
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { connectionItem } from '../../../functions/adapters/connection-repository.js';
import { usedLinkItem, usedStateItem } from '../../../functions/adapters/consumed-state-repository.js';
import { detailTypeOf } from '../../../functions/adapters/event-publisher.js';
import { lockFromItem } from '../../../functions/adapters/identity-lock.js';
import { outboxEntriesOf } from '../../../functions/adapters/outbox.js';
import { bindingCookieName } from '../../../functions/connect/browser-binding.js';
import { type OAuthState, openOAuthState, sealOAuthState } from '../../../functions/connect/oauth-state.js';
import { sha256Hex } from '../../../functions/core/crypto.js';
import { connectionKey, lockKey, usedLinkKey, usedStateKey } from '../../../functions/core/table-schema.js';
import { filledSecret, generatedKey } from '../../helpers/aws.js';
import { bundleHandler } from '../../helpers/bundle.js';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { credential, type RecordedRequest } from '../../helpers/fake-recall-fetch.js';
import { handlerEntry, handlerHarness, type HandlerOf } from '../../helpers/handler-harness.js';
import { metricSum } from '../../helpers/output.js';
import { aConnection, recordItem, storedConnection } from '../../helpers/records.js';

// EVENT_BUS_NAME set as a careless deployment might: the callback must still never call EventBridge. Logs and
// metrics on: some tests assert on them; the capture keeps them out of the test output.
const h = handlerHarness('callback', {
  env: { EVENT_BUS_NAME: 'recall-zoom-connect-events' },
  logLevel: 'INFO',
  metrics: true,
  table: true,
});
const { ddb, eventBridge, recall } = h;

const STATE = 'state-from-zoom-redirect-0123456789abcdefghijklmnop';
const STATE_ID = sha256Hex(STATE);
const COOKIE_NAME = `zc_${STATE_ID.slice(0, 16)}`;
/** RFC 7636's example verifier. */
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CODE = 'one-time-zoom-code-XYZ';
const RETURN_TO = 'https://app.example.com/settings/?tab=zoom';
const APP = AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID;
const CREDENTIALS = '/api/v2/zoom-oauth-credentials/';
const ROTATED_STATE_KEY = 'the-state-key-after-the-rotation-0123456789abcdefgh';

/** The attempt the authorize step sealed into this browser's cookie (5 minutes left by default). */
const attempt = (overrides: Partial<OAuthState> = {}): OAuthState => ({
  stateId: STATE_ID,
  userId: 'user-42',
  returnTo: RETURN_TO,
  codeVerifier: VERIFIER,
  expiresAt: Math.floor(Date.now() / 1000) + 300,
  startedAtMs: Date.now() - 300_000,
  reauthCount: 0,
  correlationId: 'corr-1',
  ...overrides,
});
const sealedCookie = async (overrides: Partial<OAuthState> = {}, key: string = SECRETS.stateKey) =>
  `${COOKIE_NAME}=${await sealOAuthState(attempt(overrides), key)}`;

/** The cookie the browser sends with the next callback; a test may replace it. */
let cookie: string;
beforeEach(async () => {
  cookie = await sealedCookie();
});

/** The conditional puts that use a state (the single-use guarantee). */
const isConsume = (input: PutItemCommandInput) => input.Item?.pk?.S?.startsWith(usedStateKey('')) === true;
const consumes = () => ddb.commandCalls(PutItemCommand).filter((c) => isConsume(c.args[0].input)).map((c) => c.args[0].input);
/** The state was used before (a replay): its item is in the table. */
const alreadyUsed = () => h.table.put(usedStateItem(STATE_ID, attempt().expiresAt));

/** user-42's connection record as stored, or `undefined` when none was written. */
const storedRecord = () => h.table.get(connectionKey('user-42'));
const recordOf = async (userId: string) => storedConnection(await h.table.get(connectionKey(userId)));
/** The write of user-42's connection record (a conditional update that answers the item as it was) fails. */
const failRecordWrite = (error: Error) =>
  ddb.on(UpdateItemCommand, { Key: { pk: { S: connectionKey('user-42') } }, ReturnValues: 'ALL_OLD' }).rejects(error);
/** A newer attempt of user-42 recorded its connection already (on `cred-newer`). */
const newerAttemptRecorded = () =>
  h.table.put(connectionItem(aConnection('user-42', { recallCredentialId: 'cred-newer' }), Date.now() + 3_600_000));
/** The identity locks taken (their conditional puts), and whether each is still held (released by its owner or not). */
const lockPuts = () =>
  ddb
    .commandCalls(PutItemCommand)
    .map((c) => lockFromItem(c.args[0].input.Item))
    .filter((lock) => lock !== undefined);
const lockHeld = async (identity: string) => (await h.table.get(lockKey(identity))) !== undefined;

/** A record of the tests' Zoom user (`user#zu-1`, no account id), as the callback's own write would have stored it. */
const connectionRecord = (userId: string, credentialId: string, status: 'connected' | 'unhealthy' | 'disconnected' = 'connected') =>
  recordItem(userId, status, credentialId, { zoomAccountId: null });

/** A handler with nothing cached yet: a fresh module instance, as a cold start gets. */
const coldHandler = (env?: Record<string, string | undefined>) => h.cold(env);

/**
 * The events the callback's writes stored in the outbox, in write order, as the publisher derives them. Nothing
 * reaches EventBridge from the callback.
 */
const publishedEvents = () => {
  expect(eventBridge.calls()).toHaveLength(0);
  return h.table.outboxEvents().map((detail) => ({ DetailType: detailTypeOf(detail.type), detail }));
};
const publishedTypes = () => publishedEvents().map(({ detail }) => `${detail.type} ${detail.userId}`);

async function callback(
  query: Record<string, string>,
  cookies: string[] | undefined = [cookie],
  handler: HandlerOf<'callback'> = h.handler,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  return handler(httpEvent({ path: '/zoom/callback', query, ...(cookies ? { cookies } : {}) }), context);
}
const emitted = () => h.emitted();
const output = { logs: () => h.output.logs(), text: () => h.output.text() };
const SERVICE = { service: 'recall-zoom-connect' };

const outcomeOf = (response: APIGatewayProxyStructuredResultV2) => {
  const url = new URL(String(response.headers?.location));
  return { url, connect: url.searchParams.get('zoom_connect'), reason: url.searchParams.get('reason') };
};

const creates = () => recall.requests.filter((r) => r.method === 'POST');

/** Recall rate-limits the first create (Retry-After: 0) and creates `cred-1` on the next. */
function scriptRateLimitedOnce(): void {
  let created = 0;
  recall.on((r) =>
    r.method === 'POST'
      ? created++ === 0
        ? { status: 429, body: {}, headers: { 'retry-after': '0' } }
        : { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }
      : undefined,
  );
}

/**
 * Recall answers the first create with a user-level conflict (zu-1), lists `cred-old` for that Zoom user, deletes
 * on request (telling `onDelete`), and answers the next create with `cred-new`.
 */
function scriptConflictResolved(onDelete: (request: RecordedRequest) => void = () => undefined): void {
  let created = 0;
  recall
    .on((r) => (r.method === 'POST' && created++ === 0 ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } } : undefined))
    .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-new', { user_id: 'zu-1' }) } : undefined))
    .on((r) => (r.method === 'GET' && r.path.includes('?') ? { status: 200, body: { next: null, results: [credential('cred-old', { user_id: 'zu-1' })] } } : undefined))
    .on((r) => {
      if (r.method !== 'DELETE') return undefined;
      onDelete(r);
      return { status: 204 };
    });
}

/**
 * Recall answers the first create with a user-level conflict and every later one as if the code were spent,
 * listing `existing` for the conflicting Zoom user and deleting on request.
 */
function scriptConflictThenSpentCode(existing: ReturnType<typeof credential>[] = []): void {
  let created = 0;
  recall
    .on((r) =>
      r.method === 'POST'
        ? created++ === 0
          ? { status: 400, body: { detail: 'exists', conflicting_zoom_user_id: 'zu-1' } }
          : { status: 400, body: { detail: `invalid_grant for code ${CODE}` } }
        : undefined,
    )
    .on((r) => (r.method === 'GET' && r.path.includes('?') ? { status: 200, body: { next: null, results: existing } } : undefined))
    .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
}

describe('GET /zoom/callback', () => {
  it('exchanges the code at Recall, records the connection and lands on zoom_connect=connected', async () => {
    // The attempt's expiry, fixed: read again at the assertion, Date.now() may have passed a second on a busy machine.
    const expiresAt = Math.floor(Date.now() / 1000) + 300;
    cookie = await sealedCookie({ expiresAt });
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(302);
    expect(String(response.headers?.location)).toBe(`${RETURN_TO}&zoom_connect=connected`);
    expect(recall.requests).toEqual([
      {
        method: 'POST',
        path: CREDENTIALS,
        authorization: `Token ${SECRETS.recallApiKey}`,
        contentType: 'application/json',
        body: {
          oauth_app: APP,
          authorization_code: { code: CODE, redirect_uri: AWS_FUNCTION_ENV.ZOOM_REDIRECT_URI, code_verifier: VERIFIER },
        },
      },
    ]);
    expect(await recordOf('user-42')).toMatchObject({ status: 'connected', recallCredentialId: 'cred-1', zoomIdentity: 'user#zu-1' });
    // When the attempt began, in ms (sealed in it): orders a user's attempts, so an older one never overwrites a
    // newer one's record.
    expect((await storedRecord())?.attemptVersion).toEqual({ N: expect.stringMatching(/^\d{13}$/) });
    // Happy path budget: use the state and write the record, nothing more (no lock, no query).
    expect(ddb.calls()).toHaveLength(2);
    expect(consumes()).toHaveLength(1);
    expect(response.cookies?.[0]).toMatch(new RegExp(`^${COOKIE_NAME}=; Max-Age=0; Path=/zoom;`));
    // ...and no EventBridge call: `connected`, with the attempt's correlation id, rides in the record write (the outbox).
    expect(eventBridge.calls()).toHaveLength(0);
    expect(publishedEvents()).toEqual([
      {
        DetailType: 'Zoom connection connected.v1',
        detail: {
          schemaVersion: 1,
          eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          type: 'connected',
          userId: 'user-42',
          status: 'connected',
          recallCredentialId: 'cred-1',
          zoomAccountId: null,
          zoomUserId: 'zu-1',
          occurredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
          correlationId: 'corr-1',
        },
      },
    ]);
  });

  it('makes two DynamoDB calls on a first connect of a Zoom identity too (Recall made the credential just now)', async () => {
    // The identity had no credential a moment ago: its other records, if any, are moved by the outbox publisher's
    // follow-up, not here.
    await h.table.put(connectionRecord('user-7', 'cred-gone', 'unhealthy'));
    recall.on(() => ({ status: 201, body: { ...credential('cred-1', { user_id: 'zu-1' }), created_at: new Date().toISOString() } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual(['PutItemCommand', 'UpdateItemCommand']);
    expect(await recordOf('user-7')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-gone' });
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('publishes `replaced` for the user when their own credential for the same Zoom identity changed', async () => {
    await h.table.put(connectionRecord('user-42', 'cred-old'));
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(publishedTypes()).toEqual(['connected user-42', 'replaced user-42']);
    expect(publishedEvents()[1]?.detail).toMatchObject({
      recallCredentialId: 'cred-1',
      previousRecallCredentialId: 'cred-old',
      correlationId: 'corr-1',
    });
  });

  it('publishes only `connected` on a reconnect after a disconnect (the product already heard the old id end)', async () => {
    await h.table.put(connectionRecord('user-42', 'cred-old', 'disconnected'));
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    await callback({ code: CODE, state: STATE });

    expect(publishedTypes()).toEqual(['connected user-42']);
  });

  it('uses the state with one conditional put of its hash, expiring with the attempt, before calling Recall', async () => {
    const expiresAt = Math.floor(Date.now() / 1000) + 123;
    cookie = await sealedCookie({ expiresAt });
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    await callback({ code: CODE, state: STATE });

    expect(consumes()).toHaveLength(1);
    expect(await h.table.get(usedStateKey(STATE_ID))).toEqual(usedStateItem(STATE_ID, expiresAt));
    expect(JSON.stringify(await h.table.items())).not.toContain(STATE);
    expect(JSON.stringify(ddb.calls().map((c) => c.args[0].input))).not.toContain(STATE);
    // The order that makes it single-use: the state is spent before the code is.
    expect(ddb.calls()[0]?.args[0]).toBeInstanceOf(PutItemCommand);
    expect(isConsume(ddb.calls()[0]?.args[0].input as PutItemCommandInput)).toBe(true);
  });

  it('treats a Recall 2xx that returns the existing credential as connected (update in place)', async () => {
    await h.table.put(connectionRecord('user-42', 'cred-existing'));
    recall.on(() => ({ status: 200, body: credential('cred-existing', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(creates()).toHaveLength(1);
    expect(recall.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    // Same credential as before: nothing was replaced.
    expect(publishedTypes()).toEqual(['connected user-42']);
  });

  it.each([
    ['user', { conflicting_zoom_user_id: 'zu-1' }, 'user_id=zu-1', { user_id: 'zu-1' }],
    ['account', { conflicting_zoom_account_id: 'za-9' }, 'account_id=za-9', { account_id: 'za-9' }],
  ])(
    'resolves a %s-level conflict: the records name the credential (retrieved, no list), delete by Recall id, create again',
    async (_level, conflictBody, filter, identity) => {
      let created = 0;
      recall
        .on((r) =>
          r.method === 'POST' && created++ === 0 ? { status: 400, body: { detail: 'already exists', ...conflictBody } } : undefined,
        )
        .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-new', identity) } : undefined))
        .on((r) =>
          r.method === 'GET' && r.path.includes('?') ? { status: 200, body: { next: null, results: [credential('cred-old', identity)] } } : undefined,
        )
        .on((r) => (r.method === 'GET' && r.path === `${CREDENTIALS}cred-old/` ? { status: 200, body: credential('cred-old', identity) } : undefined))
        .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));
      const zoomIdentity = 'user_id' in identity ? 'user#zu-1' : 'account#za-9';
      await h.table.put(recordItem('user-7', 'connected', 'cred-old', { zoomAccountId: null, zoomIdentity }));

      const response = await callback({ code: CODE, state: STATE });

      expect(outcomeOf(response).connect).toBe('connected');
      expect(recall.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        `POST ${CREDENTIALS}`,
        `GET ${CREDENTIALS}cred-old/`,
        `DELETE ${CREDENTIALS}cred-old/`,
        `POST ${CREDENTIALS}`,
      ]);
      expect(filter).toContain('=');
      // The identity was locked while its credential was replaced, and given back by its owner afterwards.
      expect(lockPuts().map((lock) => lock?.identity)).toEqual([zoomIdentity]);
      expect(await lockHeld(zoomIdentity)).toBe(false);
      // The other product user of the same Zoom identity was marked unhealthy before its credential was deleted
      // (its event in that write); the publisher's follow-up moves it onto the new credential, not this request.
      expect(await recordOf('user-7')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-old' });
      expect(publishedTypes()).toEqual(['unhealthy user-7', 'connected user-42']);
      expect(publishedEvents()[0]?.detail).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-old', correlationId: 'corr-1' });
    },
  );

  it('sends the user back to Zoom with a fresh state when Recall says the code was spent during the conflict', async () => {
    scriptConflictThenSpentCode([credential('cred-old', { user_id: 'zu-1' })]);
    await h.table.put(connectionRecord('user-7', 'cred-old'));

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(302);
    const location = new URL(String(response.headers?.location));
    expect(`${location.origin}${location.pathname}`).toBe('https://zoom.us/oauth/authorize');
    const newState = location.searchParams.get('state') ?? '';
    expect(newState).not.toBe(STATE);
    // Nothing stored for the new attempt: only the old state was used. The new attempt travels in a new cookie.
    expect(consumes().map((input) => input.Item?.pk?.S)).toEqual([usedStateKey(STATE_ID)]);
    // The identity's lock was given back: the next attempt must not wait for it.
    expect(lockPuts().map((lock) => lock?.identity)).toEqual(['user#zu-1']);
    expect(await lockHeld('user#zu-1')).toBe(false);
    expect(response.cookies).toHaveLength(2);
    expect(response.cookies?.[0]).toMatch(new RegExp(`^${COOKIE_NAME}=; Max-Age=0; Path=/zoom;`));
    const next = response.cookies?.[1] ?? '';
    expect(next.startsWith(`${bindingCookieName(sha256Hex(newState))}=`)).toBe(true);
    expect(next).toMatch(/; Max-Age=660; Path=\/zoom; HttpOnly; Secure; SameSite=Lax$/);
    const reopened = await openOAuthState(next.slice(next.indexOf('=') + 1, next.indexOf(';')), sha256Hex(newState), [SECRETS.stateKey]);
    expect(reopened).toMatchObject({
      status: 'opened',
      state: { userId: 'user-42', returnTo: RETURN_TO, reauthCount: 1, correlationId: 'corr-1' },
    });
    // The sharer's record no longer claims a credential that is gone.
    expect((await recordOf('user-7')).status).toBe('unhealthy');
    expect(publishedEvents()).toEqual([
      expect.objectContaining({
        DetailType: 'Zoom connection unhealthy.v1',
        detail: expect.objectContaining({
          type: 'unhealthy',
          userId: 'user-7',
          status: 'unhealthy',
          recallCredentialId: 'cred-old',
          correlationId: 'corr-1',
        }),
      }),
    ]);
  });

  it('re-authorizes at most once: a second spent code ends with reason=code_rejected', async () => {
    cookie = await sealedCookie({ reauthCount: 1 });
    scriptConflictThenSpentCode();

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'code_rejected' });
    expect(await storedRecord()).toBeUndefined();
    expect(response.cookies).toHaveLength(1);
  });

  it('lands on reason=code_rejected when Recall rejects the code outright (invalid grant), without logging the code', async () => {
    recall.on(() => ({ status: 400, body: { detail: `Invalid Grant: code ${CODE} is invalid` } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'code_rejected' });
    expect(String(response.headers?.location)).not.toContain(CODE);
    expect(creates()).toHaveLength(1);
    expect(await storedRecord()).toBeUndefined();
  });

  it('lands on reason=recall_unavailable when Recall answers 503', async () => {
    recall.on(() => ({ status: 503, body: { detail: 'overloaded' } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    expect(eventBridge.calls()).toHaveLength(0);
  });

  it('lands on reason=recall_rejected when Recall refuses the API key', async () => {
    recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } }));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_rejected' });
  });

  it.each(['access_denied', undefined])(
    'lands on zoom_connect=denied when Zoom returns no code (error=%s) and never calls Recall',
    async (error) => {
      const response = await callback({ state: STATE, ...(error ? { error } : {}) });

      expect(String(response.headers?.location)).toBe(`${RETURN_TO}&zoom_connect=denied`);
      expect(recall.requests).toHaveLength(0);
    },
  );

  it('answers a 400 page for a replayed state (its cookie included) and never calls Recall', async () => {
    await alreadyUsed();

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(400);
    expect(response.headers?.['content-type']).toContain('text/html');
    expect(response.body).toContain('already been used');
    expect(response.body).not.toContain(CODE);
    expect(recall.requests).toHaveLength(0);
    expect(await storedRecord()).toBeUndefined();
    expect(output.logs().find((line) => line.message === 'Callback with an unknown or already used state')).toMatchObject({
      problem: 'already_used',
    });
  });

  it.each([
    ['without the cookie (another browser, or cookies blocked)', () => [], 'no_cookie'],
    ['with only cookies of other attempts', () => ['zc_0123456789abcdef=x', 'theme=dark'], 'no_cookie'],
    ['with a cookie value that is not a sealed attempt', () => [`${COOKIE_NAME}=someone-elses-nonce`], 'unreadable'],
    ['with a cookie sealed with a key the service never had', async () => [await sealedCookie({}, 'an-attackers-own-state-key-0123456789abcdef')], 'unreadable'],
    ['with a sealed attempt of another state', async () => [await sealedCookie({ stateId: sha256Hex('another-state') })], 'other_state'],
    [
      'with a tampered cookie',
      async () => {
        const [name, value = ''] = (await sealedCookie()).split('=');
        const [header, key, iv, ciphertext = '', tag] = value.split('.');
        // The first character: all six of its bits are ciphertext (the last one may carry padding bits), and the
        // replacement always differs from what was there.
        const flipped = `${ciphertext.startsWith('A') ? 'B' : 'A'}${ciphertext.slice(1)}`;
        return [`${name}=${[header, key, iv, flipped, tag].join('.')}`];
      },
      'unreadable',
    ],
    ['with a cookie longer than a browser keeps', () => [`${COOKIE_NAME}=${'a'.repeat(5000)}`], 'unreadable'],
  ])('answers a 400 page for a callback %s, writes nothing and never calls Recall', async (_case, cookies, problem) => {
    const response = await callback({ code: CODE, state: STATE }, await cookies());

    expect(response.statusCode).toBe(400);
    expect(response.headers?.location).toBeUndefined();
    expect(response.body).toContain('start again from the app in the browser you began in');
    expect(response.body).toContain('another browser');
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
    expect(output.logs().find((line) => line.message === 'Callback with an unknown or already used state')).toMatchObject({ problem });
  });

  it('lands on reason=state_expired for an expired attempt, clears its cookie, writes nothing and never calls Recall', async () => {
    cookie = await sealedCookie({ expiresAt: Math.floor(Date.now() / 1000) });

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'state_expired' });
    expect(outcomeOf(response).url.href).toBe(`${RETURN_TO}&zoom_connect=error&reason=state_expired`);
    expect(response.cookies).toEqual([expect.stringMatching(new RegExp(`^${COOKIE_NAME}=; Max-Age=0; Path=/zoom;`))]);
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });

  it('finishes an attempt sealed with the previous state key while a rotation leaves one', async () => {
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, ROTATED_STATE_KEY, SECRETS.stateKey);
    const cold = await coldHandler();
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));

    const response = await callback({ code: CODE, state: STATE }, [cookie], cold);

    expect(outcomeOf(response).connect).toBe('connected');
  });

  it('reads the state keys again for an attempt sealed with a key rotated in after they were cached, at most every 30 s', async () => {
    // Prepare: a warm container holds the old key; ops rotate, and authorize (fresh) seals with the new one.
    vi.useFakeTimers({ toFake: ['Date'] });
    const warm = await coldHandler();
    recall.on(() => ({ status: 201, body: credential('cred-1', { user_id: 'zu-1' }) }));
    const call = async (cookies: string[]) => {
      // Each with a state not used yet, as a new attempt would be.
      await h.table.reset();
      return callback({ code: CODE, state: STATE }, cookies, warm);
    };
    expect(outcomeOf(await call([cookie])).connect).toBe('connected');
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, ROTATED_STATE_KEY, SECRETS.stateKey);
    const readsBefore = h.secretsManager.commandCalls(GetSecretValueCommand).length;
    vi.setSystemTime(Date.now() + 31_000);

    // Act: forged cookies first (one refresh at most), then the real one sealed with the new key.
    for (let i = 0; i < 3; i++) {
      const forged = await call([await sealedCookie({}, `forged-state-key-${i}-0123456789abcdefghij`)]);
      expect(forged.statusCode).toBe(400);
    }
    const rotated = await call([await sealedCookie({}, ROTATED_STATE_KEY)]);

    // Assess: one refresh (current + previous) served all of them.
    expect(outcomeOf(rotated).connect).toBe('connected');
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).length - readsBefore).toBe(2);
  });

  it('answers a 503 page when the state key cannot be read: no return URL can be trusted', async () => {
    h.secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID }).rejects(
      Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }),
    );
    const cold = await coldHandler();

    const response = await callback({ code: CODE, state: STATE }, [cookie], cold);

    expect(response.statusCode).toBe(503);
    expect(response.headers?.location).toBeUndefined();
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({ message: 'Service misconfigured', secret: AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID }),
    ]);
    expect(metricSum(emitted(), 'ConnectFailed', { ...SERVICE, reason: 'misconfigured' })).toBe(1);
  });

  it('fails its cold start without STATE_KEY_SECRET_ID, and without TABLE_NAME', async () => {
    for (const variable of ['STATE_KEY_SECRET_ID', 'TABLE_NAME']) {
      await expect(coldHandler({ [variable]: undefined })).rejects.toThrow(variable);
    }
  });

  it.each([
    ['without state', { code: CODE }],
    ['with an oversized code', { code: 'x'.repeat(5000), state: STATE }],
  ])('answers a 400 page for a callback %s, before opening any cookie', async (_case, query) => {
    const response = await callback(query);

    expect(response.statusCode).toBe(400);
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });

  it('leaves the release of the credential of the Zoom identity the user left to the outbox follow-up', async () => {
    await h.table.put(recordItem('user-42', 'connected', 'cred-other', { zoomAccountId: null, zoomIdentity: 'user#zu-old' }));
    recall
      .on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined))
      .on((r) => (r.method === 'DELETE' ? { status: 204 } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(recall.requests.map((r) => r.method)).toEqual(['POST']);
    expect(ddb.calls()).toHaveLength(2);
    // What the follow-up needs rides in the entry: the identity and credential the record had before.
    expect(outboxEntriesOf(await storedRecord()).entries).toEqual([
      expect.objectContaining({
        zoomIdentity: 'user#zu-1',
        oauthAppId: APP,
        priorRecallCredentialId: 'cred-other',
        priorStatus: 'connected',
        priorZoomIdentity: 'user#zu-old',
      }),
    ]);
    expect(publishedTypes()).toEqual(['connected user-42', 'replaced user-42']);
    expect(publishedEvents()[1]?.detail.previousRecallCredentialId).toBe('cred-other');
  });
});

describe('GET /zoom/callback: faults, races and crashes', () => {
  const createdAtRecall = (id = 'cred-1') =>
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential(id, { user_id: 'zu-1' }) } : undefined));

  it('lands on connected and changes nothing else when a newer attempt of the user already recorded its connection', async () => {
    // Prepare
    await newerAttemptRecorded();
    createdAtRecall();

    // Act
    const response = await callback({ code: CODE, state: STATE });

    // Assess: the newer attempt's record stays; its credential is nobody's to delete here.
    expect(outcomeOf(response).connect).toBe('connected');
    expect(await recordOf('user-42')).toMatchObject({ recallCredentialId: 'cred-newer' });
    expect(ddb.commandCalls(UpdateItemCommand)).toHaveLength(1);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
    expect(recall.requests.map((r) => r.method)).toEqual(['POST']);
    expect(publishedEvents()).toEqual([]);
    expect(output.logs().map((line) => line.message)).toContain('A newer attempt of this user already recorded its connection');
  });

  it('keeps the unhealthy events of the sharers marked before the delete when the record write then fails', async () => {
    scriptConflictResolved();
    await h.table.put(connectionRecord('user-7', 'cred-old'));
    failRecordWrite(new Error('ProvisionedThroughputExceededException'));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'internal' });
    expect(publishedTypes()).toEqual(['unhealthy user-7']);
    expect(await lockHeld('user#zu-1')).toBe(false);
  });

  it('gives the lock back when a newer attempt recorded first after a conflict, leaving the records to it', async () => {
    scriptConflictResolved();
    await h.table.put(connectionRecord('user-7', 'cred-old'));
    await newerAttemptRecorded();

    const response = await callback({ code: CODE, state: STATE });

    // The newer attempt's record stays, and its own entry's follow-up moves the identity's records.
    expect(outcomeOf(response).connect).toBe('connected');
    expect(await recordOf('user-42')).toMatchObject({ recallCredentialId: 'cred-newer' });
    expect(await recordOf('user-7')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-old' });
    expect(publishedTypes()).toEqual(['unhealthy user-7']);
    expect(lockPuts()).toHaveLength(1);
    expect(await lockHeld('user#zu-1')).toBe(false);
  });

  it.each([
    [0, 'sends the user back to Zoom for a fresh code', (response: APIGatewayProxyStructuredResultV2) => {
      expect(String(response.headers?.location)).toMatch(/^https:\/\/zoom\.us\/oauth\/authorize\?/);
    }],
    [1, 'ends with reason=recall_unavailable (once back at Zoom is enough)', (response: APIGatewayProxyStructuredResultV2) => {
      expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    }],
  ])(
    'after a create whose outcome is unknown and a credential nobody recorded appeared, reauthCount=%i %s',
    async (reauthCount, _outcome, expectOutcome) => {
      // Prepare: the create answers 503; since it was sent, Recall made a credential that no record knows.
      cookie = await sealedCookie({ reauthCount });
      recall
        .on((r) => (r.method === 'POST' ? { status: 503, body: { detail: 'overloaded' } } : undefined))
        .on((r) => (r.method === 'GET' && r.path.includes('?') ? { status: 200, body: { next: null, results: [credential('cred-maybe-ours', { user_id: 'zu-9' })] } } : undefined));

      // Act
      const response = await callback({ code: CODE, state: STATE });

      // Assess: the create is tried as often as its retries allow, with its key; then never again, and the credential
      // neither adopted nor deleted.
      expectOutcome(response);
      expect(recall.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST', 'GET']);
      const listed = new URL(`https://recall.example${recall.requests[3]?.path}`).searchParams;
      expect(listed.get('oauth_app')).toBe(APP);
      expect(Date.parse(listed.get('created_at_after') ?? '')).toBeLessThanOrEqual(Date.now() - 30_000);
      expect(await storedRecord()).toBeUndefined();
      expect(metricSum(emitted(), 'RecallOutcomeUnknown')).toBe(1);
    },
  );

  it('gives the lock back even when the record write fails after a conflict', async () => {
    // Prepare
    scriptConflictResolved();
    failRecordWrite(new Error('InternalServerError'));

    // Act
    const response = await callback({ code: CODE, state: STATE });

    // Assess
    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'internal' });
    expect(lockPuts().map((lock) => lock?.identity)).toEqual(['user#zu-1']);
    expect(await lockHeld('user#zu-1')).toBe(false);
  });

  it('marks the sharers unhealthy, each with its event, before Recall deletes their credential', async () => {
    // Prepare: when Recall is asked to delete, how many writes had reached user-7's record.
    await h.table.put(connectionRecord('user-7', 'cred-old'));
    const writesToSharer = () =>
      ddb.commandCalls(UpdateItemCommand).filter((call) => call.args[0].input.Key?.pk?.S === connectionKey('user-7')).length;
    const writesBeforeDelete: number[] = [];
    scriptConflictResolved((r) => {
      if (r.path === `${CREDENTIALS}cred-old/`) writesBeforeDelete.push(writesToSharer());
    });

    // Act
    await callback({ code: CODE, state: STATE });

    // Assess: one write, already made when the credential was deleted, and what it stored: unhealthy, with its event.
    expect(writesBeforeDelete).toEqual([1]);
    expect(writesToSharer()).toBe(1);
    expect(await recordOf('user-7')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-old' });
    expect(publishedTypes()).toEqual(['unhealthy user-7', 'connected user-42']);
  });

  it('calls Recall with the configured retry budget (RECALL_MAX_ATTEMPTS)', async () => {
    // Prepare: one attempt per call; Recall rate-limits the first create.
    const cold = await coldHandler({ RECALL_MAX_ATTEMPTS: '1' });
    scriptRateLimitedOnce();

    // Act
    const response = await callback({ code: CODE, state: STATE }, [cookie], cold);

    // Assess
    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    expect(creates()).toHaveLength(1);
  });

  it('ends with reason=recall_unavailable without calling Recall when Lambda leaves too little time to finish a create', async () => {
    createdAtRecall();

    const response = await callback({ code: CODE, state: STATE }, [cookie], h.handler, h.context({ getRemainingTimeInMillis: () => 4_000 }));

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    expect(recall.requests).toHaveLength(0);
  });
});

describe('GET /zoom/callback: metrics', () => {
  const created = () => recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

  it('counts ConnectCompleted and one metered Recall call, tagged with the attempt\'s correlation id', async () => {
    created();

    await callback({ code: CODE, state: STATE });

    const metrics = emitted();
    expect(metricSum(metrics, 'ConnectCompleted')).toBe(1);
    expect(metricSum(metrics, 'RecallCall')).toBe(1);
    expect(metricSum(metrics, 'ConnectFailed')).toBe(0);
    expect(metrics.find((metric) => metric.name === 'RecallLatency')).toMatchObject({ unit: 'Milliseconds' });
    expect(metrics.every((metric) => metric.namespace === 'RecallZoomConnect')).toBe(true);
    expect(metrics[0]?.metadata).toEqual({ correlationId: 'corr-1' });
    expect(output.text()).not.toContain(CODE);
  });

  it('counts ConnectDenied when the user declined at Zoom', async () => {
    await callback({ state: STATE, error: 'access_denied' });

    expect(metricSum(emitted(), 'ConnectDenied')).toBe(1);
    expect(metricSum(emitted(), 'RecallCall')).toBe(0);
  });

  it.each([
    ['ConflictResolved for a conflict deleted and created again', scriptConflictResolved, /zoom_connect=connected$/, { ConflictResolved: 1, ConnectCompleted: 1, RecallCall: 4 }],
    ['a Reauthorization when the code was spent resolving a conflict', () => scriptConflictThenSpentCode(), /^https:\/\/zoom\.us\//, { Reauthorization: 1, ConnectFailed: 0 }],
    ['RecallRetry for a 429 that was retried', scriptRateLimitedOnce, /zoom_connect=connected$/, { RecallRetry: 1, RecallCall: 2, RecallFailure: 0 }],
  ])('counts %s', async (_case, script, lands, counts) => {
    script();

    const response = await callback({ code: CODE, state: STATE });

    expect(String(response.headers?.location)).toMatch(lands);
    expect(Object.fromEntries(Object.keys(counts).map((name) => [name, metricSum(emitted(), name)]))).toEqual(counts);
  });

  const failures: Array<[string, () => void | Promise<void>, string]> = [
    ['Recall rejects the code', () => recall.on(() => ({ status: 400, body: { detail: `bad code ${CODE}` } })), 'code_rejected'],
    ['Recall answers 503', () => recall.on(() => ({ status: 503, body: { detail: 'overloaded' } })), 'recall_unavailable'],
    ['Recall refuses the API key', () => recall.on(() => ({ status: 401, body: { detail: 'Invalid token.' } })), 'recall_rejected'],
    [
      'the state expired',
      async () => {
        cookie = await sealedCookie({ expiresAt: 1 });
      },
      'state_expired',
    ],
    [
      'the record cannot be written',
      () => {
        created();
        failRecordWrite(new Error('InternalServerError'));
      },
      'internal',
    ],
  ];

  it.each(failures)('counts ConnectFailed, in total and by reason, when %s', async (_case, prepare, reason) => {
    await prepare();

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason });
    const metrics = emitted();
    expect(metricSum(metrics, 'ConnectFailed')).toBe(1);
    expect(metricSum(metrics, 'ConnectFailed', { ...SERVICE, reason })).toBe(1);
    expect(metricSum(metrics, 'ConnectCompleted')).toBe(0);
    expect(output.text()).not.toContain(CODE);
    expect(output.text()).not.toContain(STATE);
  });

  it('counts RecallFailure for each create call Recall answered 503 throughout, and RecallOutcomeUnknown for the one it looked into', async () => {
    // Prepare: every try of both create calls answers 503; the list in between finds nothing a lost create made.
    recall
      .on((r) => (r.method === 'POST' ? { status: 503, body: { detail: 'overloaded' } } : undefined))
      .on((r) => (r.method === 'GET' && r.path.includes('?') ? { status: 200, body: { next: null, results: [] } } : undefined));

    // Act
    const response = await callback({ code: CODE, state: STATE });

    // Assess
    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'recall_unavailable' });
    expect(recall.requests.map((r) => r.method)).toEqual(['POST', 'POST', 'POST', 'GET', 'POST', 'POST', 'POST']);
    expect(new Set(creates().map((r) => JSON.stringify(r.body))).size).toBe(1);
    expect(metricSum(emitted(), 'RecallFailure')).toBe(2);
    expect(metricSum(emitted(), 'RecallOutcomeUnknown')).toBe(1);
  });

  it.each([
    ['a replayed state', () => alreadyUsed(), [cookie]],
    ['a browser without the attempt\'s cookie', () => undefined, []],
  ])('counts nothing for %s (a 400 page, not an attempt)', async (_case, prepare, cookies) => {
    await prepare();

    const response = await callback({ code: CODE, state: STATE }, cookies.length > 0 ? [cookie] : []);

    expect(response.statusCode).toBe(400);
    expect(emitted()).toEqual([]);
  });

  it('counts ConnectFailed with reason=internal for a 500 page (the state could not be recorded as used)', async () => {
    ddb.on(PutItemCommand).rejects(new Error('ServiceUnavailable'));

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(500);
    expect(metricSum(emitted(), 'ConnectFailed', { ...SERVICE, reason: 'internal' })).toBe(1);
  });
});

describe('GET /zoom/callback before ops filled in the secrets', () => {
  it('lands on reason=misconfigured with one clear log line when the Recall API key is a placeholder', async () => {
    // Prepare
    h.secretsManager.reset();
    filledSecret(h.secretsManager, 'recallApiKey', 'REPLACE_ME');
    filledSecret(h.secretsManager, 'zoomClientId', SECRETS.zoomClientId);
    generatedKey(h.secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, SECRETS.stateKey);
    const cold = await coldHandler();

    // Act
    const response = await callback({ code: CODE, state: STATE }, [cookie], cold);

    // Assess
    expect(response.statusCode).toBe(302);
    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'misconfigured' });
    expect(recall.requests).toHaveLength(0);
    expect(output.logs().filter((line) => line.level === 'ERROR')).toEqual([
      expect.objectContaining({
        message: 'Service misconfigured',
        secret: AWS_FUNCTION_ENV.RECALL_API_KEY_SECRET_ID,
        fields: ['recallApiKey'],
        correlationId: 'corr-1',
      }),
    ]);
    expect(output.text()).not.toContain(SECRETS.zoomClientId);
    expect(metricSum(emitted(), 'ConnectFailed', { ...SERVICE, reason: 'misconfigured' })).toBe(1);
  });
});

describe('GET /zoom/callback across a Recall API key rotation', () => {
  it('reads the API key again after Recall refuses it (401), so the next callback uses the rotated key', async () => {
    // Prepare: a warm container holds the old key; ops have rotated it and Recall revoked the old one.
    const cold = await coldHandler();
    recall.on((r) =>
      r.authorization === `Token ${SECRETS.recallApiKey}`
        ? { status: 401, body: { detail: 'Invalid token.' } }
        : { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) },
    );
    const rotated = 'recall-api-key-after-the-rotation-42';
    const first = await callback({ code: CODE, state: STATE }, [cookie], cold);
    filledSecret(h.secretsManager, 'recallApiKey', rotated);
    // The same attempt again: as far as the table knows, its state was never used.
    await h.table.reset();

    // Act: the next callback, well within the 5-minute secrets cache.
    const second = await callback({ code: CODE, state: STATE }, [cookie], cold);

    // Assess
    expect(outcomeOf(first)).toMatchObject({ connect: 'error', reason: 'recall_rejected' });
    expect(outcomeOf(second).connect).toBe('connected');
    expect(recall.requests.map((r) => r.authorization)).toEqual([`Token ${SECRETS.recallApiKey}`, `Token ${rotated}`]);
    expect(output.logs().map((line) => line.message)).toContain(
      'Recall refused the API key (401): check the Recall API key secret; it is read again on the next call',
    );
    expect(output.text()).not.toContain(SECRETS.recallApiKey);
    expect(output.text()).not.toContain(rotated);
  });
});

describe('GET /zoom/callback: connect links, and callbacks without a state', () => {
  const LINK = { id: 'c'.repeat(64), expiresAt: Math.floor(Date.now() / 1000) + 600 };
  const transactions = () => ddb.commandCalls(TransactWriteItemsCommand).map((c) => c.args[0].input);
  const linkUsed = () => h.table.put(usedLinkItem(LINK.id, LINK.expiresAt));

  it('uses the state and the link up in one transaction before Recall: two DynamoDB calls on the way to connected', async () => {
    // Prepare
    cookie = await sealedCookie({ link: LINK });
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

    // Act
    const response = await callback({ code: CODE, state: STATE });

    // Assess: the transaction, then the record write; nothing else before the redirect
    expect(outcomeOf(response).connect).toBe('connected');
    expect(transactions()).toHaveLength(1);
    expect(await h.table.get(usedStateKey(STATE_ID))).toBeDefined();
    expect(await h.table.get(usedLinkKey(LINK.id))).toEqual(usedLinkItem(LINK.id, LINK.expiresAt));
    expect(consumes()).toHaveLength(0);
    expect(ddb.calls().map((call) => call.args[0].constructor.name)).toEqual(['TransactWriteItemsCommand', 'UpdateItemCommand']);
  });

  it('lands a second completion of the same link on reason=link_used, clears the cookie and never calls Recall', async () => {
    cookie = await sealedCookie({ link: LINK });
    await linkUsed();

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).url.href).toBe(`${RETURN_TO}&zoom_connect=error&reason=link_used`);
    expect(response.cookies).toEqual([expect.stringMatching(new RegExp(`^${COOKIE_NAME}=; Max-Age=0;`))]);
    expect(recall.requests).toHaveLength(0);
    expect(await storedRecord()).toBeUndefined();
    // Both or neither: the state of this attempt was not used up either.
    expect(await h.table.get(usedStateKey(STATE_ID))).toBeUndefined();
  });

  it('gives the 400 page for a replayed state even when its link is also used', async () => {
    cookie = await sealedCookie({ link: LINK });
    await linkUsed();
    await alreadyUsed();

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(400);
    expect(recall.requests).toHaveLength(0);
  });

  it('continues the link\'s one use on a re-authorize the service started: the state alone is used up', async () => {
    cookie = await sealedCookie({ link: LINK, reauthCount: 1 });
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response).connect).toBe('connected');
    expect(transactions()).toHaveLength(0);
    expect(consumes().map((input) => input.Item?.pk?.S)).toEqual([usedStateKey(STATE_ID)]);
    expect(await h.table.get(usedLinkKey(LINK.id))).toBeUndefined();
  });

  it('does not use the link up for a decline at Zoom', async () => {
    cookie = await sealedCookie({ link: LINK });

    const response = await callback({ error: 'access_denied', state: STATE });

    expect(outcomeOf(response).connect).toBe('denied');
    expect(transactions()).toHaveLength(0);
    expect(consumes()).toHaveLength(1);
    expect(await h.table.get(usedLinkKey(LINK.id))).toBeUndefined();
  });

  it('shows the 400 page when the sealed return URL is no longer on the allow-list, and calls nobody', async () => {
    cookie = await sealedCookie({ returnTo: 'https://removed.example.com/settings/' });

    const response = await callback({ code: CODE, state: STATE });

    expect(response.statusCode).toBe(400);
    expect(response.headers?.location).toBeUndefined();
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });

  it('replaces a zoom_connect and reason already in the return URL: one outcome', async () => {
    cookie = await sealedCookie({ returnTo: `${RETURN_TO}&zoom_connect=connected&reason=old` });
    recall.on((r) => (r.method === 'POST' ? { status: 400, body: { detail: 'invalid_grant' } } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    const { url } = outcomeOf(response);
    expect(url.searchParams.getAll('zoom_connect')).toEqual(['error']);
    expect(url.searchParams.getAll('reason')).toEqual(['code_rejected']);
    expect(url.searchParams.get('tab')).toBe('zoom');
  });

  it('records a credential Recall returns unhealthy as unhealthy, never connected, and lands on reason=credential_unhealthy', async () => {
    recall.on((r) => (r.method === 'POST' ? { status: 201, body: { ...credential('cred-sick', { user_id: 'zu-1' }), status: 'unhealthy' } } : undefined));

    const response = await callback({ code: CODE, state: STATE });

    expect(outcomeOf(response)).toMatchObject({ connect: 'error', reason: 'credential_unhealthy' });
    expect(await recordOf('user-42')).toMatchObject({ status: 'unhealthy', recallCredentialId: 'cred-sick' });
    expect(publishedTypes()).toEqual(['unhealthy user-42']);
  });

  describe('Zoom\'s decline without a state', () => {
    const otherState = 'another-state-0123456789abcdefghijklmnopqrstuvwx';
    const otherCookie = async (overrides: Partial<OAuthState> = {}) =>
      `${bindingCookieName(sha256Hex(otherState))}=${await sealOAuthState(attempt({ stateId: sha256Hex(otherState), ...overrides }), SECRETS.stateKey)}`;

    it('with exactly one live attempt in the browser: lands on its return URL with denied, uses its state up, clears the cookie', async () => {
      const response = await callback({ error: 'access_denied' }, [cookie]);

      expect(outcomeOf(response).url.href).toBe(`${RETURN_TO}&zoom_connect=denied`);
      expect(consumes().map((input) => input.Item?.pk?.S)).toEqual([usedStateKey(STATE_ID)]);
      expect(response.cookies).toEqual([expect.stringMatching(new RegExp(`^${COOKIE_NAME}=; Max-Age=0; Path=/zoom;`))]);
      expect(recall.requests).toHaveLength(0);
    });

    it('an expired attempt does not count: with it and one live one, denied on the live one', async () => {
      const response = await callback({ error: 'access_denied' }, [cookie, await otherCookie({ expiresAt: Math.floor(Date.now() / 1000) - 1 })]);

      expect(outcomeOf(response).connect).toBe('denied');
    });

    it.each([
      ['no attempt', async () => [] as string[]],
      ['two attempts', async () => [cookie, await otherCookie()]],
      ['a cookie no key opens', async () => [`${COOKIE_NAME}=not-a-sealed-attempt`]],
    ])('with %s: the 400 page, nothing used, no Recall call', async (_case, cookies) => {
      const response = await callback({ error: 'access_denied' }, await cookies());

      expect(response.statusCode).toBe(400);
      expect(ddb.calls()).toHaveLength(0);
      expect(recall.requests).toHaveLength(0);
    });
  });

  it('a code without a state (a Zoom Marketplace install) and no install landing URL: the 400 page saying to start from the product; never exchanged', async () => {
    const response = await callback({ code: CODE }, []);

    expect(response.statusCode).toBe(400);
    expect(String(response.body)).toContain('connect Zoom from the app');
    expect(String(response.body)).not.toContain(CODE);
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });

  it('a code without a state, with an install landing URL: redirected there with zoom_connect=install; never exchanged', async () => {
    const cold = await coldHandler({ INSTALL_LANDING_URL: 'https://app.example.com/settings/zoom-install' });

    const response = await callback({ code: CODE }, undefined, cold);

    expect(response.statusCode).toBe(302);
    expect(String(response.headers?.location)).toBe('https://app.example.com/settings/zoom-install?zoom_connect=install');
    expect(ddb.calls()).toHaveLength(0);
    expect(recall.requests).toHaveLength(0);
  });
});

describe('callback bundle', () => {
  it('leaves the EventBridge client out of the deployed bundle: its events go through the outbox', async () => {
    // Act: the stack's bundling settings (lib/constructs/service-function.ts)
    const { included } = await bundleHandler(handlerEntry('callback'));

    // Assess
    expect(included.some((path) => path.includes('functions/adapters/outbox.ts'))).toBe(true);
    expect(included.filter((path) => path.includes('@aws-sdk/client-eventbridge'))).toEqual([]);
    expect(included.filter((path) => /functions\/(adapters\/event-publisher|lifecycle\/outbox-publisher)\.ts/.test(path))).toEqual([]);
  }, 60_000);
});
