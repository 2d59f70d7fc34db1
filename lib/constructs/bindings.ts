import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * Wiring a resource to a function is one call: the variable the runtime reads (functions/shared/config.ts) and
 * the grant that lets it use the resource are set together, so neither can be forgotten or drift apart.
 */

/** `RO` reads items; `RW` also writes and deletes them. Neither touches the table's settings. */
export type TableAccess = 'RO' | 'RW';

/**
 * Sets `envName` to the table name and grants data-plane access to the table and its indexes.
 * @param fn - the function that reads the variable
 * @param table - the table it may use
 * @param access - `RO` or `RW`
 * @param envName - the variable the runtime reads
 */
export function bindTable(
  fn: lambda.Function,
  table: dynamodb.ITable,
  access: TableAccess,
  envName = 'TABLE_NAME',
): void {
  fn.addEnvironment(envName, table.tableName);
  if (access === 'RW') table.grantReadWriteData(fn);
  else table.grantReadData(fn);

  const cfnTable = table.node.defaultChild as CfnElement | undefined;
  if (fn.role && cfnTable) {
    const logicalId = Stack.of(cfnTable).resolve(cfnTable.logicalId) as string;
    Validations.of(fn.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/index/*]`,
      reason: `The grant covers the indexes of this one table (${logicalId}/index/*), which the repositories query; no other table is reachable.`,
    });
  }
}

/**
 * Sets `envName` to the secret's id and grants `secretsmanager:GetSecretValue` on that secret only. The value
 * never enters the environment: the runtime fetches it and caches it with a TTL.
 * The id is the full ARN when the stack knows it, else the name (an ARN of a secret imported by name ends in a
 * `-??????` pattern that works in a policy but not as a `SecretId`).
 * @param fn - the function that reads the variable
 * @param secret - the secret it may read
 * @param envName - the variable the runtime reads, e.g. `APP_SECRET_ID`
 */
export function bindSecret(fn: lambda.Function, secret: secretsmanager.ISecret, envName: string): void {
  fn.addEnvironment(envName, secret.secretFullArn ?? secret.secretName);
  secret.grantRead(fn);
}
