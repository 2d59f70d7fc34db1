import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type TransactWriteItemsCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
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

/**
 * The conditional puts of first uses (`STATE#`, `TOKEN#`) against an in-memory set, as DynamoDB answers them: a
 * single put fails its condition, a transaction is cancelled with a reason per item, both when an item was used.
 */
export function fakeFirstUses(ddb: AwsClientStub<DynamoDBClient>, used: Set<string>): void {
  const isFirstUse = (pk: string) => pk.startsWith('STATE#') || pk.startsWith('TOKEN#');
  ddb.on(PutItemCommand).callsFake((input: PutItemCommandInput) => {
    const pk = input.Item?.pk?.S ?? '';
    if (isFirstUse(pk)) {
      if (used.has(pk)) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
      used.add(pk);
    }
    return {};
  });
  ddb.on(TransactWriteItemsCommand).callsFake((input: TransactWriteItemsCommandInput) => {
    const pks = (input.TransactItems ?? []).map((item) => item.Put?.Item?.pk?.S ?? '');
    const reasons = pks.map((pk) => ({ Code: isFirstUse(pk) && used.has(pk) ? 'ConditionalCheckFailed' : 'None' }));
    if (reasons.some((reason) => reason.Code !== 'None')) {
      throw new TransactionCanceledException({ message: 'Transaction cancelled', $metadata: {}, CancellationReasons: reasons });
    }
    for (const pk of pks) used.add(pk);
    return {};
  });
}
