/**
 * Named errors of the service. Exactly one place maps them to HTTP (`http.ts`); a message reaches a user only for
 * 4xx errors, and no message here ever includes a code, state, token or secret.
 */

import type { OutcomeReason } from './outcome-reasons.js';

/**
 * The type of the `reason=` codes, defined with their meanings in outcome-reasons.ts. Only the type: a function
 * never needs the list, and importing it would carry every code's explanation into each bundle.
 */
export type { OutcomeReason } from './outcome-reasons.js';

/** A request the service refuses with a 4xx; `message` is safe to show to the user. */
export class RequestError extends Error {
  override readonly name: string = 'RequestError';
  constructor(
    readonly statusCode: 400 | 403 | 404 | 405 | 409,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Why a connect token was refused; the user sees a 400 page, the log sees the reason. */
export type ConnectTokenProblem =
  | 'malformed'
  | 'bad_signature'
  | 'expired'
  | 'missing_claims'
  | 'return_to_not_allowed'
  /** `return_to` (or `sub` with it) longer than the attempt's cookie can carry. */
  | 'too_long'
  /** `exp` too far ahead, `iat` in the future, or `exp - iat` beyond the maximum lifetime. */
  | 'lives_too_long';

export class InvalidConnectTokenError extends RequestError {
  override readonly name = 'InvalidConnectTokenError';
  constructor(
    readonly problem: ConnectTokenProblem,
    options?: ErrorOptions,
  ) {
    super(400, problem === 'expired' ? 'This connect link has expired.' : 'This connect link is not valid.', options);
  }
}

/** The connect flow failed after the user came back from Zoom; the user lands on `error&reason=<reason>`. */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    readonly reason: OutcomeReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Recall could not be reached or kept failing (network, timeout, 429/5xx after the retry budget). */
export class RecallUnavailableError extends Error {
  override readonly name: string = 'RecallUnavailableError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * A create whose fate is unknown: the request may have reached Recall (a timeout, a dropped connection, a 5xx after
 * it was sent), so Recall may have spent the one-time code and created a credential. Never retried blindly: the
 * connect module finds out first (`credential-exchange.ts`).
 */
export class RecallOutcomeUnknownError extends RecallUnavailableError {
  override readonly name = 'RecallOutcomeUnknownError';
}

/** Recall answered with a 4xx that retrying will not change (bad key, WAF block, unknown id). */
export class RecallRejectedError extends Error {
  override readonly name = 'RecallRejectedError';
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Where a misconfiguration is: names only (a secret's name or ARN, its field names), never a value. */
export interface MisconfigurationDetails {
  /** The Secrets Manager secret (name or ARN) that is missing, unreadable or not filled in. */
  secret?: string | undefined;
  /** The fields of that secret (or the environment variables) that are wrong. */
  fields?: readonly string[] | undefined;
}

/** Deployment or secret configuration is missing or still holds a placeholder. */
export class MisconfiguredError extends Error {
  override readonly name = 'MisconfiguredError';
  readonly secret: string | undefined;
  readonly fields: readonly string[];
  constructor(message: string, options: MisconfigurationDetails & ErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.secret = options.secret;
    this.fields = options.fields ?? [];
  }
}

/** The `MisconfiguredError` behind `error`, however deeply it is wrapped (`cause` chain), if there is one. */
export function misconfigurationOf(error: unknown): MisconfiguredError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 8; current = current.cause, depth++) {
    if (current instanceof MisconfiguredError) return current;
  }
  return undefined;
}

/**
 * The fields of the one `Service misconfigured` log line: which secret and which of its fields, and the
 * message (written to name them, never to quote a value). No stack: it is not a bug, and ops need one clear line.
 */
export function misconfigurationLogFields(error: MisconfiguredError): Record<string, unknown> {
  return {
    reason: 'misconfigured',
    ...(error.secret ? { secret: error.secret } : {}),
    ...(error.fields.length > 0 ? { fields: [...error.fields] } : {}),
    problem: error.message,
  };
}
