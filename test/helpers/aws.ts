import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { AWS_FUNCTION_ENV, SECRETS } from './env.js';

/**
 * Secrets Manager answering with the filled-in app secret and the generated signing key. The signing key has no
 * `AWSPREVIOUS` version, as before its first rotation: asking for it fails the way Secrets Manager fails.
 */
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
    .callsFake((input: GetSecretValueCommandInput) => {
      if (input.VersionStage === 'AWSPREVIOUS') {
        throw new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
          $metadata: {},
        });
      }
      return { SecretString: SECRETS.signingKey };
    });
  return secretsManager;
}
