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
