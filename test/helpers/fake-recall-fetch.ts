/**
 * An in-process stand-in for Recall's credential endpoints, installed as `fetch` for handler unit tests.
 * Each test scripts the answers; every request is recorded (method, path, parsed body, auth header).
 */
export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | null;
  contentType: string | null;
  body: unknown;
}

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> };
type Route = (request: RecordedRequest) => Answer | undefined;

export class FakeRecallFetch {
  readonly requests: RecordedRequest[] = [];
  #routes: Route[] = [];

  /** Answers in order of registration; the first route returning an answer wins. */
  on(route: Route): this {
    this.#routes.push(route);
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.#routes = [];
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    const request: RecordedRequest = {
      method: init?.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      authorization: headers.get('authorization'),
      contentType: headers.get('content-type'),
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    this.requests.push(request);
    for (const route of this.#routes) {
      const answer = route(request);
      if (answer) {
        const body = answer.status === 204 || answer.body === undefined ? null : JSON.stringify(answer.body);
        return new Response(body, { status: answer.status, headers: answer.headers });
      }
    }
    // A retrieve nobody scripted: Recall does not know the credential (the connect module then lists instead).
    if (request.method === 'GET' && /\/zoom-oauth-credentials\/[^/?]+\/$/.test(url.pathname)) {
      return new Response(JSON.stringify({ detail: 'Not found.' }), { status: 404 });
    }
    return new Response(JSON.stringify({ detail: 'not scripted' }), { status: 418 });
  };
}

export const credential = (id: string, identity: { user_id?: string; account_id?: string }) => ({
  id,
  oauth_app: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  status: 'healthy',
  user_id: identity.user_id ?? null,
  account_id: identity.account_id ?? null,
  access_token_callback_url: null,
  created_at: '2026-11-30T18:00:00Z',
});
