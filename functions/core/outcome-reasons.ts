/**
 * What a connect attempt lands on the return URL with, in one place: each `zoom_connect=` outcome and each stable
 * `reason=` code of `zoom_connect=error`, with what happened and what the product should tell its user. The callback
 * sends these codes, local mode's demo page explains them, and docs/integrating.md's outcomes table is rendered from
 * this file (`npm run docs:tables`; a test holds the document to it). Products may switch on a code, so a code is
 * never taken away once published.
 *
 * Plain constants only: the stack loads this module at synth and every handler bundles it.
 */

import { FUNCTION_SETTINGS } from './settings.js';

/** One outcome or reason, as the documentation explains it. */
export interface OutcomeDescription {
  /** What happened, in one line (Markdown). */
  readonly meaning: string;
  /** What the product should tell the user (Markdown); empty where there is nothing to say. */
  readonly tellUser: string;
}

/** The `zoom_connect=` outcomes besides `error`, which carries a reason. */
export const CONNECT_OUTCOMES = {
  connected: {
    meaning: "the user's Zoom account is connected; `GET /connections/{userId}` has the Recall credential",
    tellUser: '"Zoom connected."',
  },
  denied: {
    meaning:
      "the user declined at Zoom (or Zoom returned no code); also when Zoom's decline carries no `state` and the browser has exactly one attempt under way",
    tellUser: `"You didn't allow access. Connect again when you're ready."`,
  },
  install: {
    meaning:
      'sent to the install landing URL only (`installLandingUrl`): Zoom sent a code without a state, an install started from the Zoom App Marketplace; the code is never used',
    tellUser: 'sign the user in, then send them through a normal connect link (Zoom, already authorized, returns at once)',
  },
} as const satisfies Record<string, OutcomeDescription>;

export type ConnectOutcomeName = keyof typeof CONNECT_OUTCOMES | 'error';

const ATTEMPT_MINUTES = FUNCTION_SETTINGS.oauthStateTtlSeconds.default / 60;
const DEADLINE_SECONDS = FUNCTION_SETTINGS.callbackDeadlineMs.default / 1000;

/** The `reason=` codes of `zoom_connect=error`, in the order they were published. */
export const OUTCOME_REASON_DESCRIPTIONS = {
  state_expired: {
    meaning: `more than ${ATTEMPT_MINUTES} minutes passed between the link and Zoom's answer`,
    tellUser: '"That took too long. Please try again."',
  },
  /**
   * No longer sent: the attempt now travels in the browser's cookie, so a callback in another browser finds no
   * attempt at all and gets the 400 page ("start again from the app in the browser you began in"), like an
   * unknown or used state. Kept because products may still switch on it.
   */
  browser_mismatch: {
    meaning:
      'no longer sent (kept in the list for products that switch on it): an answer from Zoom in a browser that did not start the attempt now gets the 400 page below',
    tellUser: '',
  },
  code_rejected: {
    meaning:
      "Recall answered and rejected Zoom's code (invalid grant: redirect URI mismatch, code expired or already used), also after one fresh code from Zoom",
    tellUser: '"Please try again." Ops: check the redirect URI.',
  },
  conflict_unresolved: {
    meaning:
      'Recall kept reporting a conflicting credential, or another callback for the same Zoom account held its lock until the deadline',
    tellUser: '"Please try again."',
  },
  recall_rejected: {
    meaning: 'Recall refused the request (API key wrong or disabled, WAF block)',
    tellUser: `"Zoom can't be connected right now." Ops: check the key and region.`,
  },
  recall_unavailable: {
    meaning: `Recall could not be reached, kept failing, asked to wait longer than the budget allows, or never answered whether it created the credential, within the callback's deadline (${DEADLINE_SECONDS} s)`,
    tellUser: '"Please try again in a few minutes."',
  },
  misconfigured: {
    meaning: "the deployment's secrets are missing or still hold placeholders",
    tellUser: `"Zoom can't be connected right now." Ops: fill the secret.`,
  },
  internal: {
    meaning: 'anything else (logged in full)',
    tellUser: '"Please try again."',
  },
  /** The connect link already completed a connection: each link is good for one (mint a new one per click). */
  link_used: {
    meaning: 'the connect link already completed a connection (each link is good for one); nothing was sent to Recall',
    tellUser: '"Please try again." (mint a new link per click)',
  },
  /** Recall returned the credential as `unhealthy`: Zoom refuses its tokens, so it is no working connection. */
  credential_unhealthy: {
    meaning:
      'Recall returned the credential with `status: unhealthy` (Zoom refuses its tokens); recorded as `unhealthy`, not `connected`',
    tellUser: `"Zoom isn't working for this account. Remove the app in Zoom and connect again."`,
  },
} as const satisfies Record<string, OutcomeDescription>;

export type OutcomeReason = keyof typeof OUTCOME_REASON_DESCRIPTIONS;

/** Stable `reason=` codes on the return URL (see `OUTCOME_REASON_DESCRIPTIONS`). */
export const OUTCOME_REASONS: readonly OutcomeReason[] = Object.freeze(
  Object.keys(OUTCOME_REASON_DESCRIPTIONS) as OutcomeReason[],
);
