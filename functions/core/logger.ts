import { Logger } from '@aws-lambda-powertools/logger';
import { misconfigurationLogFields, misconfigurationOf } from './errors.js';
import { SERVICE_NAME } from './metric-names.js';

/**
 * The service's structured JSON logger. Log lines carry ids and outcomes only: never a Zoom code, OAuth state,
 * PKCE verifier, connect token, API key or signing key.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/** Where a misconfiguration line goes: the logger, or a use case's own log that forwards to it. */
export interface ErrorLog {
  error(message: string, fields: Record<string, unknown>): void;
}

/**
 * Writes the one `Service misconfigured` line every function writes when `error` is (or wraps) a
 * `MisconfiguredError`: which secret and which of its fields, never a value, and no stack (it is not a bug, and
 * ops need one clear line). The only place that line is written.
 * @returns whether `error` was a misconfiguration (and so was logged)
 */
export function logMisconfiguration(error: unknown, log: ErrorLog = logger): boolean {
  const misconfigured = misconfigurationOf(error);
  if (misconfigured) log.error('Service misconfigured', misconfigurationLogFields(misconfigured));
  return misconfigured !== undefined;
}
