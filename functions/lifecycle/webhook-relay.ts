import { applyDeauthorization, type DeauthorizationDeps, type DeauthorizationResult } from './deauthorization.js';
import { RecallRejectedError } from '../core/errors.js';
import type { RecallClient } from '../adapters/recall-client.js';
import { APP_DEAUTHORIZED_EVENT, appDeauthorizationOf, type QueuedZoomWebhook } from '../adapters/zoom-webhook.js';

/**
 * The worker's job for one queued Zoom event: act on the events this service cares about (`app_deauthorized`),
 * then forward every event, unchanged, to Recall, which needs Zoom's events as well. Acting first means a Recall
 * that keeps refusing the forward still never delays a deauthorization.
 */

export interface RelayDeps {
  deauthorization: DeauthorizationDeps;
  recall: Pick<RecallClient, 'forwardZoomWebhook'>;
  /** The Recall Zoom OAuth App whose webhook endpoint receives the events. */
  oauthAppId: string;
  signal?: AbortSignal;
  /** Told as soon as a deauthorization is applied, before the forward (which may still fail and be retried). */
  onDeauthorization?: (result: DeauthorizationResult) => void;
}

export interface RelayResult {
  event: string;
  deauthorization?: DeauthorizationResult;
}

/** Forwarding to Recall failed; the message is retried by SQS and dead-lettered in the end. */
export class WebhookForwardError extends Error {
  override readonly name = 'WebhookForwardError';
  /** Recall answered a 4xx: retrying will not help (most likely its webhook secret is not Zoom's Secret Token). */
  readonly rejected: boolean;
  readonly status: number | undefined;
  constructor(cause: unknown) {
    const status = (cause as { status?: unknown } | undefined)?.status;
    super(`Forwarding the Zoom webhook to Recall failed${typeof status === 'number' ? ` (${status})` : ''}.`, { cause });
    this.rejected = cause instanceof RecallRejectedError;
    this.status = typeof status === 'number' ? status : undefined;
  }
}

/**
 * @throws MalformedWebhookMessageError for an `app_deauthorized` that names no Zoom identity; WebhookForwardError
 *   when Recall did not take the event; anything the deauthorization's DynamoDB or Recall calls throw
 */
export async function relayZoomWebhook(message: QueuedZoomWebhook, deps: RelayDeps): Promise<RelayResult> {
  let deauthorization: DeauthorizationResult | undefined;
  if (message.event.event === APP_DEAUTHORIZED_EVENT) {
    deauthorization = await applyDeauthorization(appDeauthorizationOf(message.event, message.receivedAt), {
      ...deps.deauthorization,
      ...(deps.signal ? { signal: deps.signal } : {}),
    });
    deps.onDeauthorization?.(deauthorization);
  }
  try {
    await deps.recall.forwardZoomWebhook(
      { oauthApp: deps.oauthAppId, body: message.body, headers: message.headers },
      deps.signal,
    );
  } catch (error) {
    throw new WebhookForwardError(error);
  }
  return { event: message.event.event, ...(deauthorization ? { deauthorization } : {}) };
}
