import { Duration, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

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

/** `send` puts messages on the queue; `consume` makes the function the queue's consumer. */
export type QueueAccess = 'send' | 'consume';

export interface QueueBindingOptions {
  /**
   * `send` only: the variable the runtime reads.
   * @default 'WEBHOOK_QUEUE_URL'
   */
  readonly envName?: string;
  /**
   * `consume` only: records per invocation.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * `consume` only: how long Lambda gathers records before invoking. The queue's visibility timeout must be at
   * least six times the function's timeout plus this window.
   * @default Duration.seconds(1)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * `consume` only: the most concurrent invocations the queue drives.
   * @default - Lambda's own scaling
   */
  readonly maxConcurrency?: number;
}

/**
 * `send`: sets the variable to the queue URL and grants sending to that queue only.
 * `consume`: subscribes the function to the queue (an event source mapping, which grants receive, delete and
 * change-visibility on that queue only). Records arrive in the event, so no variable is set. The mapping reports
 * partial batch failures: the handler returns `{batchItemFailures: [{itemIdentifier: messageId}]}` and only
 * those records are retried, then dead-lettered by the queue's redrive policy.
 * @param fn - the function that sends or consumes
 * @param queue - the queue
 * @param access - `send` or `consume`
 * @param options - see {@link QueueBindingOptions}
 */
export function bindQueue(fn: lambda.Function, queue: sqs.IQueue, access: QueueAccess, options: QueueBindingOptions = {}): void {
  if (access === 'send') {
    fn.addEnvironment(options.envName ?? 'WEBHOOK_QUEUE_URL', queue.queueUrl);
    queue.grantSendMessages(fn);
    return;
  }
  fn.addEventSource(
    new SqsEventSource(queue, {
      batchSize: options.batchSize ?? 10,
      maxBatchingWindow: options.maxBatchingWindow ?? Duration.seconds(1),
      reportBatchItemFailures: true,
      ...(options.maxConcurrency ? { maxConcurrency: options.maxConcurrency } : {}),
    }),
  );
}

/**
 * Sets `envName` to the bus name and grants `events:PutEvents` on that bus only.
 * @param fn - the function that publishes lifecycle events
 * @param bus - the bus it may publish to
 * @param envName - the variable the runtime reads
 */
export function bindEventBus(fn: lambda.Function, bus: events.IEventBus, envName = 'EVENT_BUS_NAME'): void {
  fn.addEnvironment(envName, bus.eventBusName);
  bus.grantPutEventsTo(fn);
}
