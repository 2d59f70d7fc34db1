import type * as logs from 'aws-cdk-lib/aws-logs';
import { type DeployConfig, RECALL_CALL_SETTINGS, RUNTIME_SETTINGS } from '../config.js';
import type { ServiceFunctionProps } from './service-function.js';

const ZOOM_AUTHORIZE_URL = 'https://zoom.us/oauth/authorize';

/**
 * The variables every function's runtime config (functions/core/config.ts) requires, whatever the function
 * does, so every function is built from this one record and none can drift.
 *
 * Settings only one function reads are added to that function alone (see `runtimeSettings`). Nothing bound is
 * here: the table (`TABLE_NAME`), the secrets, the queue and the bus are set by their bind helpers together with
 * their grants, so a function has a resource's name exactly when it may use it. The
 * runtime config does not require `TABLE_NAME`; the functions that use the table require it at init
 * (`requireTableName`), and authorize, which keeps nothing server-side, and the webhook, which only queues, have
 * neither the name nor a grant.
 * @param config - validated deploy configuration
 * @param zoomRedirectUri - the redirect URI registered at Zoom, byte for byte
 */
export function runtimeEnvironment(config: DeployConfig, zoomRedirectUri: string): Record<string, string> {
  return {
    ZOOM_REDIRECT_URI: zoomRedirectUri,
    ZOOM_AUTHORIZE_URL,
    RECALL_REGION: config.recallRegion,
    RECALL_ZOOM_OAUTH_APP_ID: config.recallZoomOAuthAppId,
    RETURN_URL_ALLOWLIST: config.returnUrlAllowlist.join(','),
    // How every function calls Recall: one setting each, so retries and timeouts cannot differ between functions.
    ...runtimeSettings(config, RECALL_CALL_SETTINGS),
  };
}

/**
 * The variables of runtime settings, as the runtime reads them (see `RUNTIME_SETTINGS`): for the settings every
 * function shares, and for those of one function (`callbackDeadlineMs`, `reconcileOrphanGraceSeconds`).
 */
export function runtimeSettings(
  config: DeployConfig,
  keys: readonly (keyof typeof RUNTIME_SETTINGS)[],
): Record<string, string> {
  return Object.fromEntries(keys.map((key) => [RUNTIME_SETTINGS[key].variable, String(config[key])]));
}

/**
 * What every function of the service takes from the deploy config: the shared runtime environment, the log level and
 * the log retention. A function adds its own settings to `environment`.
 * @param config - validated deploy configuration
 * @param zoomRedirectUri - the redirect URI registered at Zoom, byte for byte
 */
export function serviceFunctionDefaults(
  config: DeployConfig,
  zoomRedirectUri: string,
): Required<Pick<ServiceFunctionProps, 'environment' | 'logLevel' | 'logRetention'>> {
  return {
    environment: runtimeEnvironment(config, zoomRedirectUri),
    logLevel: config.logLevel,
    logRetention: config.logRetentionDays as logs.RetentionDays,
  };
}
