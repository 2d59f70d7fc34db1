import { vi } from 'vitest';
import { type ConnectClientOptions, createConnectClient } from '../../../client/index.js';

/** The API's host and URL, as an API Gateway HTTP API's default endpoint spells them. */
export const API_HOST = 'abc123.execute-api.us-west-2.amazonaws.com';
export const API = `https://${API_HOST}`;

/** A connection as `GET /connections/{userId}` answers it. */
export const CONNECTION = {
  userId: 'user-42',
  status: 'connected',
  recallCredentialId: 'cred-1',
  zoomAccountId: 'za-1',
  zoomUserId: 'zu-1',
  oauthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  connectedAt: '2026-11-01T00:00:00.000Z',
  updatedAt: '2026-11-01T00:00:00.000Z',
};

export interface Sent {
  url: string;
  method: string;
  headers: Headers;
}

/** A `fetch` answering every request with one scripted response (or failure), recording what was sent. */
export function fakeFetch(answer: () => Response | Error): { sent: Sent[]; fetch: typeof globalThis.fetch } {
  const sent: Sent[] = [];
  const fetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({ url: String(input), method: init?.method ?? 'GET', headers: new Headers(init?.headers) });
    const reply = answer();
    if (reply instanceof Error) throw reply;
    return reply;
  });
  return { sent, fetch: fetch as unknown as typeof globalThis.fetch };
}

/** A JSON response, as API Gateway sends the service's answers. */
export const json = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/**
 * A client of the API whose every request gets `answer`.
 * @returns the client and what it sent
 */
export function fakeClient(answer: () => Response | Error, options: Partial<ConnectClientOptions> = {}) {
  const { sent, fetch } = fakeFetch(answer);
  return { sent, connect: createConnectClient({ apiUrl: API, fetch, ...options }) };
}
