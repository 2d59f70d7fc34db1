import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';

/**
 * AWS clients, created once per execution environment. The SDK honours AWS_ENDPOINT_URL_DYNAMODB,
 * AWS_ENDPOINT_URL_SECRETS_MANAGER and AWS_ENDPOINT_URL_SQS, which is how local mode and integration tests point
 * this unchanged code at dynalite or a local fake.
 *
 * Marked pure so a bundle that never uses DynamoDB (the webhook: verify and enqueue, nothing else) drops the
 * client and the whole DynamoDB SDK from its cold start.
 */
export const dynamoDb = /* @__PURE__ */ new DynamoDBClient({});

let secretsManager: SecretsManagerClient | undefined;
/** Created on first use: a warm invocation reads cached secrets and never needs it. */
export const getSecretsManager = (): SecretsManagerClient => (secretsManager ??= new SecretsManagerClient({}));

let sqs: SQSClient | undefined;
/** Created on first use, like Secrets Manager: only the webhook sends to a queue. */
export const getSqs = (): SQSClient => (sqs ??= new SQSClient({}));
