import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type { DeployConfig } from '../config.js';

const ZOOM_AUTHORIZE_URL = 'https://zoom.us/oauth/authorize';

/**
 * The variables every function's runtime config (functions/shared/config.ts) requires, whatever the function
 * does, so every function is built from this one record and none can drift.
 *
 * `TABLE_NAME` is here because the config requires it of every function; the name alone grants nothing. Access
 * to the table comes only from `bindTable`, which sets the same variable together with the grant (the webhook
 * function, which never touches the table, has the name and no grant). Secrets, the queue and the bus are not
 * here: their bind helpers set them with their grants.
 * @param config - validated deploy configuration
 * @param zoomRedirectUri - the redirect URI registered at Zoom, byte for byte
 * @param table - the service's table
 */
export function runtimeEnvironment(
  config: DeployConfig,
  zoomRedirectUri: string,
  table: dynamodb.ITable,
): Record<string, string> {
  return {
    TABLE_NAME: table.tableName,
    ZOOM_REDIRECT_URI: zoomRedirectUri,
    ZOOM_AUTHORIZE_URL,
    RECALL_REGION: config.recallRegion,
    RECALL_ZOOM_OAUTH_APP_ID: config.recallZoomOAuthAppId,
    RETURN_URL_ALLOWLIST: config.returnUrlAllowlist.join(','),
  };
}
