import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { AWS_FUNCTION_ENV, SECRETS } from './env.js';

/** Secrets Manager answering with the filled-in app secret and the generated signing key. */
export function mockSecretsManager() {
  const secretsManager = mockClient(SecretsManagerClient);
  secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
    SecretString: JSON.stringify({
      recallApiKey: SECRETS.recallApiKey,
      zoomClientId: SECRETS.zoomClientId,
      zoomWebhookSecretToken: SECRETS.zoomWebhookSecretToken,
    }),
  });
  secretsManager
    .on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID })
    .resolves({ SecretString: SECRETS.signingKey });
  return secretsManager;
}
