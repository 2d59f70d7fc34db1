import type { Context } from 'aws-lambda';
import { logger } from './logger.js';

/** Fields every log line of one invocation carries; reset so a warm container never leaks the last request's. */
export function logContext(context: Context): void {
  logger.resetKeys();
  logger.addContext(context);
}
