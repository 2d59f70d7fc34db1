import type { DeployConfig } from '../config.js';

const ZOOM_AUTHORIZE_URL = 'https://zoom.us/oauth/authorize';

/**
 * The variables every function's runtime config (functions/shared/config.ts) requires, whatever the function
 * does, so every function is built from this one record and none can drift.
 *
 * Nothing bound is here: the table (`TABLE_NAME`), the secrets, the queue and the bus are set by their bind
 * helpers together with their grants, so a function has a resource's name exactly when it may use it. The
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
  };
}
