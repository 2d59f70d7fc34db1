import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The service's structured JSON logger. Log lines carry ids and outcomes only: never a Zoom code, OAuth state,
 * PKCE verifier, connect token, API key or signing key.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'recall-zoom-connect' });
