import { RecallModel } from '../../local/recall-model.js';
import { AWS_FUNCTION_ENV, SECRETS } from './env.js';

/**
 * An in-process stand-in for Recall's credential endpoints, installed as `fetch` for handler unit tests.
 * Each test scripts the answers; every request is recorded (method, path, parsed body, auth header). What no route
 * scripts, Recall itself answers: the Recall model every stand-in shares (`local/recall-model.ts`), configured with
 * the handlers' API key and OAuth app and holding no credential until a test adds one to `model.credentials` (so an
 * unscripted retrieve is a 404, and an unscripted list is empty).
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

const newModel = () =>
  new RecallModel({
    apiKey: SECRETS.recallApiKey,
    oauthApp: {
      id: AWS_FUNCTION_ENV.RECALL_ZOOM_OAUTH_APP_ID,
      clientId: SECRETS.zoomClientId,
      webhookSecret: SECRETS.zoomWebhookSecretToken,
    },
  });

export class FakeRecallFetch {
  readonly requests: RecordedRequest[] = [];
  #routes: Route[] = [];
  #model = newModel();

  /** Recall behind the scripted routes. */
  get model(): RecallModel {
    return this.#model;
  }

  /** Answers in order of registration; the first route returning an answer wins. */
  on(route: Route): this {
    this.#routes.push(route);
    return this;
  }

  reset(): void {
    this.requests.length = 0;
    this.#routes = [];
    this.#model = newModel();
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
    const { response } = await this.#model.perform({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      headers: Object.fromEntries(headers),
      body: Buffer.from(typeof init?.body === 'string' ? init.body : ''),
      publicBase: url.origin,
    });
    return new Response(response.status === 204 ? null : (response.body ?? null), { status: response.status, headers: response.headers });
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
