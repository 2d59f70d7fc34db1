import { describe, expect, it, vi } from 'vitest';
import { RecallRejectedError, RecallUnavailableError } from '../../../functions/core/errors.js';
import { RecallClient } from '../../../functions/adapters/recall-client.js';
import { recordRawRequests } from '../../helpers/zoom-webhook.js';

const BASE = 'https://us-west-2.recall.ai';
const OAUTH_APP = '2d40abfe-c692-4723-b26f-869ebfbde4cf';
const BODY = new TextEncoder().encode('{ "event":"app_deauthorized", "payload": {"user_id":"zu-1"} }');
const HEADERS = {
  'x-zm-signature': `v0=${'ab'.repeat(32)}`,
  'x-zm-request-timestamp': '1796061600',
  'content-type': 'application/json; charset=utf-8',
};

/** A client whose fetch answers from a script and whose sleeps return at once. */
function harness(replies: Array<Response | Error>) {
  const inner = vi.fn(async () => {
    const reply = replies.shift();
    if (!reply) throw new Error('unexpected request');
    if (reply instanceof Error) throw reply;
    return reply;
  });
  const raw = recordRawRequests(inner as unknown as typeof fetch);
  const apiKey = vi.fn(async () => 'recall-api-key');
  const client = new RecallClient({ baseUrl: `${BASE}/`, apiKey, fetch: raw.fetch, sleep: async () => undefined, random: () => 0.5 });
  return { client, requests: raw.requests, apiKey };
}

describe('RecallClient.forwardZoomWebhook', () => {
  it('posts the exact bytes with the Zoom headers to the OAuth app webhook, without the API key', async () => {
    // Prepare
    const { client, requests, apiKey } = harness([new Response(null, { status: 200 })]);

    // Act
    await client.forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: HEADERS });

    // Assess
    expect(requests).toHaveLength(1);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`${BASE}/api/v2/zoom-oauth-apps/${OAUTH_APP}/webhook`);
    expect(Buffer.from(request?.body ?? new Uint8Array()).equals(Buffer.from(BODY))).toBe(true);
    expect(request?.headers.get('x-zm-signature')).toBe(HEADERS['x-zm-signature']);
    expect(request?.headers.get('x-zm-request-timestamp')).toBe(HEADERS['x-zm-request-timestamp']);
    expect(request?.headers.get('content-type')).toBe(HEADERS['content-type']);
    expect(request?.headers.get('authorization')).toBeNull();
    expect(apiKey).not.toHaveBeenCalled();
  });

  it('retries a network error and a 503, then succeeds', async () => {
    const { client, requests } = harness([
      new TypeError('fetch failed'),
      new Response('{}', { status: 503 }),
      new Response(null, { status: 202 }),
    ]);

    await client.forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: HEADERS });

    expect(requests).toHaveLength(3);
    for (const request of requests) expect(Buffer.from(request.body ?? new Uint8Array()).equals(Buffer.from(BODY))).toBe(true);
  });

  it('gives up after the retry budget with RecallUnavailableError', async () => {
    const { client, requests } = harness([
      new Response('{}', { status: 502 }),
      new Response('{}', { status: 502 }),
      new Response('{}', { status: 502 }),
    ]);

    await expect(client.forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: HEADERS })).rejects.toBeInstanceOf(
      RecallUnavailableError,
    );
    expect(requests).toHaveLength(3);
  });

  it('treats a 500 as unavailable (SQS retries later), without retrying here', async () => {
    const { client, requests } = harness([new Response('{}', { status: 500 })]);

    await expect(client.forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: HEADERS })).rejects.toMatchObject({
      name: 'RecallUnavailableError',
      status: 500,
    });
    expect(requests).toHaveLength(1);
  });

  it('fails a 4xx at once with RecallRejectedError', async () => {
    const { client, requests } = harness([new Response('{"detail":"Invalid signature"}', { status: 401 })]);

    const error = await client
      .forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: HEADERS })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RecallRejectedError);
    expect(error).toMatchObject({ status: 401, message: 'Recall forward answered 401: Invalid signature' });
    expect(requests).toHaveLength(1);
  });

  it('sends application/json when Zoom sent no content-type', async () => {
    const { client, requests } = harness([new Response(null, { status: 200 })]);
    const { 'content-type': _omitted, ...zoomHeaders } = HEADERS;

    await client.forwardZoomWebhook({ oauthApp: OAUTH_APP, body: BODY, headers: zoomHeaders });

    expect(requests[0]?.headers.get('content-type')).toBe('application/json');
  });

  it('still sends the API key on the credential endpoints', async () => {
    const { client, requests } = harness([new Response(null, { status: 204 })]);

    await client.deleteCredential('cred-1');

    expect(requests[0]?.headers.get('authorization')).toBe('Token recall-api-key');
    expect(requests[0]?.headers.get('content-type')).toBeNull();
  });
});
