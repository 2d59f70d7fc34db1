/**
 * The environment the CDK stack gives the functions, with Secrets Manager as the secret source: the union of what the
 * functions are given (each function is given only the secret ids it reads; the handlers' tests give all of them).
 */
export const AWS_FUNCTION_ENV = {
  TABLE_NAME: 'connect-table',
  ZOOM_REDIRECT_URI: 'https://connect.example.com/zoom/callback',
  ZOOM_AUTHORIZE_URL: 'https://zoom.us/oauth/authorize',
  RECALL_REGION: 'us-west-2',
  RECALL_ZOOM_OAUTH_APP_ID: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  RETURN_URL_ALLOWLIST: 'https://app.example.com/settings/,https://admin.example.com/',
  RECALL_API_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/recall-api-key-AbCdEf',
  ZOOM_CLIENT_ID_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/zoom-client-id-AbCdEf',
  ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID:
    'arn:aws:secretsmanager:us-west-2:123456789012:secret:recall-zoom-connect/zoom-webhook-secret-token-AbCdEf',
  SIGNING_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:signing-key-GhIjKl',
  STATE_KEY_SECRET_ID: 'arn:aws:secretsmanager:us-west-2:123456789012:secret:state-key-MnOpQr',
  AWS_REGION: 'us-west-2',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
} as const;

export const SECRETS = {
  recallApiKey: 'recall-test-api-key-0123456789',
  zoomClientId: 'zoom-client-id-abc',
  zoomWebhookSecretToken: 'zoom-webhook-token',
  signingKey: 'a-64-character-signing-key-for-tests-0123456789abcdefghijklmnopq',
  stateKey: 'the-state-cookie-key-for-tests-0123456789abcdefghijklmnopqrstuv',
} as const;

export function useAwsFunctionEnv(): void {
  for (const name of ['RECALL_API_BASE_URL', 'RECALL_API_KEY', 'ZOOM_CLIENT_ID', 'CONNECT_SIGNING_KEY', 'STATE_ENCRYPTION_KEY']) {
    delete process.env[name];
  }
  Object.assign(process.env, AWS_FUNCTION_ENV);
}
