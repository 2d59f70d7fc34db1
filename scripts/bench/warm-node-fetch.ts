import type { HttpFetch, HttpRequestInit, HttpResponse } from '../../functions/adapters/node-fetch.js';

/**
 * The warm child's Recall transport, in place of functions/adapters/node-fetch.ts (see warm-hooks.mjs): whatever the
 * child set with `setRecallTransport`, answering in memory with a response as light as nodeFetch's own.
 */
let transport: HttpFetch = async () => {
  throw new Error('The warm child set no Recall transport.');
};

export function setRecallTransport(fetch: HttpFetch): void {
  transport = fetch;
}

export const nodeFetch: HttpFetch = (url: string, init?: HttpRequestInit): Promise<HttpResponse> => transport(url, init);

/** A response with a JSON body, shaped like nodeFetch's (no undici `Response`: production never builds one). */
export function jsonResponse(status: number, body: unknown): HttpResponse {
  const text = JSON.stringify(body);
  let used = false;
  const read = async () => {
    if (used) throw new TypeError('Body is unusable: it has already been read');
    used = true;
    return text;
  };
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => (name.toLowerCase() === 'content-type' ? 'application/json' : null) },
    text: read,
    json: async () => JSON.parse(await read()),
    body: {
      cancel: async () => {
        used = true;
      },
    },
  };
}
