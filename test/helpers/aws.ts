import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { AWS_FUNCTION_ENV, SECRETS } from './env.js';

const secretsManagerMock = () => mockClient(SecretsManagerClient);
export type SecretsManagerMock = ReturnType<typeof secretsManagerMock>;

/**
 * Secrets Manager answering with the filled-in app secret and the generated signing and state keys. The keys have
 * no `AWSPREVIOUS` version, as before their first rotation: asking for it fails the way Secrets Manager fails.
 */
export function mockSecretsManager(): SecretsManagerMock {
  const secretsManager = secretsManagerMock();
  secretsManager.on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.APP_SECRET_ID }).resolves({
    SecretString: JSON.stringify({
      recallApiKey: SECRETS.recallApiKey,
      zoomClientId: SECRETS.zoomClientId,
      zoomWebhookSecretToken: SECRETS.zoomWebhookSecretToken,
    }),
  });
  generatedKey(secretsManager, AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID, SECRETS.signingKey);
  generatedKey(secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, SECRETS.stateKey);
  return secretsManager;
}

/**
 * A generated key's versions: `AWSCURRENT`, and `AWSPREVIOUS` when given (none before a first rotation: asking
 * for it fails the way Secrets Manager fails).
 */
export function generatedKey(
  secretsManager: SecretsManagerMock,
  secretId: string,
  current: string,
  previous?: string,
): void {
  secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).callsFake((input: GetSecretValueCommandInput) => {
    if (input.VersionStage !== 'AWSPREVIOUS') return { SecretString: current };
    if (previous !== undefined) return { SecretString: previous };
    throw new ResourceNotFoundException({
      message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
      $metadata: {},
    });
  });
}
