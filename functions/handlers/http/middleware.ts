import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logger, logMisconfiguration } from '../../core/logger.js';

/**
 * Every function's first middleware: each log line of an invocation carries the Lambda context (request id, function
 * name, cold start), and the keys an invocation appends (a correlation id, a message id) are reset when it ends, so a
 * warm container never leaks the last invocation's. Never logs the event: it may hold a code or a connect token.
 */
export const logContext = () => injectLambdaContext(logger, { resetKeys: true, logEvent: false });

/**
 * For a scheduled job: a failed run (Recall's list or the table could not be read) is logged once, a
 * misconfiguration as the one line every function writes, then rethrown so the invocation counts as an error for
 * alarms; the next tick tries again.
 */
export function logFailedRun(failure: string): MiddlewareObj {
  return {
    onError: async ({ error }) => {
      if (!logMisconfiguration(error)) logger.error(failure, { error });
    },
  };
}
