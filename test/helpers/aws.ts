import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { FILLED_SECRET_NAMES, FILLED_SECRETS, type FilledSecret } from '../../functions/core/filled-secrets.js';
import { AWS_FUNCTION_ENV, SECRETS } from './env.js';

const secretsManagerMock = () => mockClient(SecretsManagerClient);
export type SecretsManagerMock = ReturnType<typeof secretsManagerMock>;

/**
 * Secrets Manager answering with the three filled-in secrets and the generated signing and state keys. The keys have
 * no `AWSPREVIOUS` version, as before their first rotation: asking for it fails the way Secrets Manager fails.
 */
export function mockSecretsManager(): SecretsManagerMock {
  const secretsManager = secretsManagerMock();
  for (const name of FILLED_SECRET_NAMES) filledSecret(secretsManager, name, SECRETS[name]);
  generatedKey(secretsManager, AWS_FUNCTION_ENV.SIGNING_KEY_SECRET_ID, SECRETS.signingKey);
  generatedKey(secretsManager, AWS_FUNCTION_ENV.STATE_KEY_SECRET_ID, SECRETS.stateKey);
  return secretsManager;
}

/**
 * What one of the secrets ops fill in holds (`REPLACE_ME` until they do): the bare value.
 * @returns the secret's id, as the functions are given it
 */
export function filledSecret(secretsManager: SecretsManagerMock, name: FilledSecret, value: string): string {
  const secretId = AWS_FUNCTION_ENV[FILLED_SECRETS[name].variable];
  secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ SecretString: value });
  return secretId;
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
