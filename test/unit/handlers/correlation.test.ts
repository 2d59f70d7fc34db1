import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signConnectToken } from '../../../functions/connect/connect-token.js';
import { context } from '../../helpers/context.js';
import { SECRETS } from '../../helpers/env.js';
import { httpEvent } from '../../helpers/events.js';
import { credential } from '../../helpers/fake-recall-fetch.js';
import { handlerHarness, type HandlerOf, importHandler } from '../../helpers/handler-harness.js';
import type { LogLine } from '../../helpers/output.js';

/*
 * One connect attempt, authorize to callback, through both handlers in one warm container each: every log line
 * and metric of the attempt carries the same correlation id, and the next invocation carries none of it.
 */

// Every line, debug included, so no line of the attempt escapes the check. Authorize reads its secrets through the
// Parameters and Secrets extension (a stand-in over the same mock); the callback uses states up in the table.
const h = handlerHarness('callback', {
  env: { EVENT_BUS_NAME: 'recall-zoom-connect-events' },
  logLevel: 'DEBUG',
  metrics: true,
  secretsExtension: true,
  table: true,
});
let authorize: HandlerOf<'authorize'>;
const RETURN_TO = 'https://app.example.com/settings/';

beforeAll(async () => {
  authorize = await importHandler('authorize');
});
beforeEach(() => {
  h.recall.on((r) => (r.method === 'POST' ? { status: 201, body: credential('cred-1', { user_id: 'zu-1' }) } : undefined));
});
const correlationIds = () => h.emitted().map((m) => m.metadata.correlationId);

async function startAttempt(): Promise<{ state: string; cookie: string; lines: LogLine[]; correlationIds: unknown[] }> {
  h.output.clear();
  const token = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, SECRETS.signingKey);
  const response = await authorize(httpEvent({ path: '/zoom/authorize', query: { connect_token: token } }));
  expect(response.statusCode).toBe(302);
  const state = new URL(String(response.headers?.location)).searchParams.get('state') ?? '';
  const cookie = (response.cookies?.[0] ?? '').split(';')[0] ?? '';
  return { state, cookie, lines: h.output.logs(), correlationIds: correlationIds() };
}

async function finishAttempt(state: string, cookie: string): Promise<{ response: APIGatewayProxyStructuredResultV2; lines: LogLine[]; correlationIds: unknown[] }> {
  h.output.clear();
  const response = await h.handler(httpEvent({ path: '/zoom/callback', query: { code: 'zoom-code-1', state }, cookies: [cookie] }));
  return { response, lines: h.output.logs(), correlationIds: correlationIds() };
}

describe('correlation id', () => {
  it('follows one attempt from authorize to callback on every log line, metric and event', async () => {
    // Act
    const started = await startAttempt();
    const finished = await finishAttempt(started.state, started.cookie);

    // Assess: authorize chose one id and put it everywhere...
    const id = started.lines[0]?.correlationId;
    expect(id).toEqual(expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/));
    expect(started.lines.map((line) => line.message)).toContain('Connect attempt started');
    expect(started.lines.every((line) => line.correlationId === id)).toBe(true);
    expect(started.correlationIds.length).toBeGreaterThan(0);
    expect(started.correlationIds.every((value) => value === id)).toBe(true);
    // ...and the callback, a different function, picked the same one up from the state.
    expect(String(finished.response.headers?.location)).toBe(`${RETURN_TO}?zoom_connect=connected`);
    expect(finished.lines.map((line) => line.message)).toEqual(expect.arrayContaining(['Recall call', 'Zoom account connected']));
    expect(finished.lines.every((line) => line.correlationId === id)).toBe(true);
    expect(finished.correlationIds.length).toBeGreaterThan(0);
    expect(finished.correlationIds.every((value) => value === id)).toBe(true);
    // The `connected` event, in the record write's outbox entry, carries it as well.
    const [detail] = h.table.outboxEvents();
    expect(detail?.correlationId).toBe(id);
    // Lambda's request id travels too, so one attempt's lines can be joined with the platform's.
    expect(finished.lines.every((line) => line.function_request_id === context.awsRequestId)).toBe(true);
  });

  it('gives every attempt its own id and leaks none into the next invocation of a warm container', async () => {
    // Prepare: one finished attempt in each (warm) function.
    const first = await startAttempt();
    await finishAttempt(first.state, first.cookie);
    const firstId = first.lines[0]?.correlationId;

    // Act: a second attempt, then a callback replaying the first attempt's (now used) state.
    const second = await startAttempt();
    const replayed = await finishAttempt(first.state, first.cookie);

    // Assess
    const secondId = second.lines[0]?.correlationId;
    expect(secondId).toEqual(expect.any(String));
    expect(secondId).not.toBe(firstId);
    expect(second.lines.every((line) => line.correlationId === secondId)).toBe(true);
    expect(replayed.response.statusCode).toBe(400);
    expect(replayed.lines.map((line) => line.message)).toContain('Callback with an unknown or already used state');
    // The replay belongs to no attempt this invocation knows: no id at all, certainly not the last one's.
    expect(replayed.lines.every((line) => line.correlationId === undefined)).toBe(true);
    expect(replayed.correlationIds).toEqual([]);
  });
});
