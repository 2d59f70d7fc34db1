/**
 * The ways Zoom's webhook endpoint refuses a request, apart from the protocol code in `zoom-webhook.ts`: the HTTP
 * edge maps these errors for every function, and importing them from here keeps the protocol (and its schemas)
 * out of the bundles that never receive a webhook.
 */

/** Why a webhook request was refused. Logged; the caller sees only the status and a generic message. */
export type WebhookProblem =
  | 'missing_signature'
  | 'malformed_timestamp'
  | 'stale_timestamp'
  | 'bad_signature'
  | 'too_large'
  | 'not_json'
  | 'not_an_event'
  | 'bad_url_validation'
  | 'bad_headers';

const REFUSALS: Record<WebhookProblem, { status: 400 | 401 | 413; message: string }> = {
  missing_signature: { status: 401, message: 'The request signature could not be verified.' },
  malformed_timestamp: { status: 401, message: 'The request signature could not be verified.' },
  stale_timestamp: { status: 401, message: 'The request signature could not be verified.' },
  bad_signature: { status: 401, message: 'The request signature could not be verified.' },
  too_large: { status: 413, message: 'The request body is too large.' },
  not_json: { status: 400, message: 'The request body is not JSON.' },
  not_an_event: { status: 400, message: 'The request body is not a Zoom event.' },
  bad_url_validation: { status: 400, message: 'endpoint.url_validation needs payload.plainToken.' },
  bad_headers: { status: 400, message: 'The request headers are not acceptable.' },
};

/** A webhook request refused before anything was queued; `message` is safe to send back. */
export class WebhookRejectedError extends Error {
  override readonly name = 'WebhookRejectedError';
  readonly statusCode: 400 | 401 | 413;
  constructor(
    readonly problem: WebhookProblem,
    options?: ErrorOptions,
  ) {
    super(REFUSALS[problem].message, options);
    this.statusCode = REFUSALS[problem].status;
  }
}
