import type { MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { misconfigurationLogFields, misconfigurationOf } from '../../core/errors.js';
import { logger } from '../../core/logger.js';

/** Fields every log line of one invocation carries; reset so a warm container never leaks the last request's. */
export function logContext(context: Context): void {
  logger.resetKeys();
  logger.addContext(context);
}

/**
 * For a scheduled job: a failed run (Recall's list or the table could not be read) is logged once, a
 * misconfiguration as the one line every function writes, then rethrown so the invocation counts as an error for
 * alarms; the next tick tries again.
 */
export function logFailedRun(failure: string): MiddlewareObj {
  return {
    onError: async ({ error }) => {
      const misconfigured = misconfigurationOf(error);
      if (misconfigured) logger.error('Service misconfigured', misconfigurationLogFields(misconfigured));
      else logger.error(failure, { error });
    },
  };
}
