import { authorizationSettingsOf } from '../../connect/authorization.js';
import type { AuthorizeDeps } from '../../connect/authorize-flow.js';
import { SecretStore } from '../../adapters/secrets.js';
import { extensionSecretReader } from '../../adapters/secrets-extension.js';
import { loadConfig, requireStateKey } from '../../core/config.js';
import { MisconfiguredError } from '../../core/errors.js';
import { logger } from '../../core/logger.js';

/**
 * The authorize step's composition root. It needs nothing from AWS but its secrets: no table (the attempt travels
 * in its cookie, sealed), and the secrets through the Parameters and Secrets extension, so its bundle carries no
 * AWS SDK, which is most of a cold start; hence a root of its own (stored-services.ts builds what it must not carry).
 *
 * The environment is the stack's, validated by its own tests: a bad one fails this cold start loudly (and every
 * retry of it) rather than serving half-configured, and so does one without a signing key or a state key. Secrets
 * are another matter: ops fill them in after the deploy, so they are read per request and a missing one is
 * answered, not crashed on.
 */
export function authorizeServices(): AuthorizeDeps {
  const config = loadConfig();
  if (config.secrets.source === 'secrets-manager' && !config.secrets.signingKeySecretId) {
    throw new MisconfiguredError('SIGNING_KEY_SECRET_ID is required: the authorize step verifies connect tokens.');
  }
  requireStateKey(config, 'authorize');
  return {
    secrets: new SecretStore(config, extensionSecretReader()),
    returnUrlAllowlist: config.returnUrlAllowlist,
    connectTokenMaxTtlSeconds: config.connectTokenMaxTtlSeconds,
    authorization: authorizationSettingsOf(config),
    now: () => Date.now(),
    log: logger,
  };
}
