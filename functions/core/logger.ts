import { Logger } from '@aws-lambda-powertools/logger';
import { SERVICE_NAME } from './metric-names.js';

/**
 * The service's structured JSON logger. Log lines carry ids and outcomes only: never a Zoom code, OAuth state,
 * PKCE verifier, connect token, API key or signing key.
 */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
