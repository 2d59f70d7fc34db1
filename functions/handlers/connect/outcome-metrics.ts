import type { AuthorizeRedirect } from '../../connect/authorize-flow.js';
import type { CallbackRedirect } from '../../connect/callback-flow.js';
import { connectFailed, correlateMetrics, count } from '../../adapters/metrics.js';
import { logger } from '../../core/logger.js';
import { httpErrors } from '../http/http.js';

/** From here on every log line and metric of this invocation carries the attempt's id (authorize's, then the callback's). */
export function correlate(correlationId: string): void {
  logger.appendKeys({ correlationId });
  correlateMetrics(correlationId);
}

/**
 * The connect steps' error mapping: pages, and a 5xx page (no signing key, the table unreachable, the state key
 * unreadable) ends the attempt as surely as an error redirect, so it counts as failed; a 4xx page (a bad link, a
 * replayed state, a browser without the attempt's cookie) does not.
 */
export const connectErrors = () => httpErrors('html', { onFailure: (reason) => connectFailed(reason) });

/** An attempt started (`ConnectStarted`), or ended at once because the service is not configured yet. */
export function countAuthorizeOutcome(next: AuthorizeRedirect, correlationId: string): void {
  if (next.outcome === 'started') count('ConnectStarted');
  else connectFailed('misconfigured', correlationId);
}

/** How a callback ended, as the dashboard counts attempts. */
export function countCallbackOutcome(next: CallbackRedirect): void {
  switch (next.outcome) {
    case 'connected':
      return count('ConnectCompleted');
    case 'denied':
      return count('ConnectDenied');
    case 'reauthorize':
      return count('Reauthorization');
    case 'error':
      return connectFailed(next.reason ?? 'internal', next.correlationId);
    case 'install':
      // No attempt of this service's: nothing started, so nothing ended (the log line names it).
      return;
  }
}
