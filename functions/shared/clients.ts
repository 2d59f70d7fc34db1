import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/**
 * AWS clients, created once per execution environment. The SDK honours AWS_ENDPOINT_URL_DYNAMODB and
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, which is how local mode and integration tests point this unchanged code at
 * dynalite or a local fake.
 */
export const dynamoDb = new DynamoDBClient({});

let secretsManager: SecretsManagerClient | undefined;
/** Created on first use: a warm invocation reads cached secrets and never needs it. */
export const getSecretsManager = (): SecretsManagerClient => (secretsManager ??= new SecretsManagerClient({}));
