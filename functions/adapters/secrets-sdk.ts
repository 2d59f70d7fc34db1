import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MisconfiguredError } from '../core/errors.js';
import type { SecretReader } from './secrets.js';

/** Failures of GetSecretValue that ops must fix: retrying will not help. */
const UNREADABLE = new Set(['AccessDeniedException', 'DecryptionFailure']);

/**
 * Reads secrets with GetSecretValue through the AWS SDK. For the functions that load the SDK anyway (DynamoDB);
 * the authorize step, which needs no other AWS service, reads through the Lambda extension instead.
 * @param getClient - the client, created on first use: a warm invocation reads cached secrets and never needs it
 */
export function sdkSecretReader(getClient: () => SecretsManagerClient): SecretReader {
  return {
    async read(secretId, versionStage) {
      const label = versionStage === 'AWSPREVIOUS' ? ` (${versionStage})` : '';
      try {
        const { SecretString } = await getClient().send(
          new GetSecretValueCommand({ SecretId: secretId, ...(versionStage ? { VersionStage: versionStage } : {}) }),
        );
        if (!SecretString) throw new MisconfiguredError(`Secret ${secretId}${label} has no string value.`, { secret: secretId });
        return SecretString;
      } catch (error) {
        if (error instanceof MisconfiguredError) throw error;
        const name = error instanceof Error ? error.name : 'Error';
        // No such secret, or no version in that stage (a key never rotated has no AWSPREVIOUS).
        if (name === 'ResourceNotFoundException') return undefined;
        if (UNREADABLE.has(name)) {
          throw new MisconfiguredError(`Secret ${secretId}${label} cannot be read (${name}).`, { secret: secretId, cause: error });
        }
        throw error;
      }
    },
  };
}
