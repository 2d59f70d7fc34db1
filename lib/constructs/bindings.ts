import { type CfnResource, Duration, Names, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { FILLED_SECRETS, type FilledSecret } from '../../functions/core/filled-secrets.js';
import { lockKey } from '../../functions/core/table-schema.js';

/**
 * Wiring a resource to a function is one call: the variable the runtime reads (functions/core/config.ts) and
 * the grant that lets it use the resource are set together, so neither can be forgotten or drift apart.
 */

/** The item-level DynamoDB actions a function may be granted on the table itself. */
export type ItemAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem';

/**
 * Exactly what a function does with the table, as its repositories call it. Conditional writes and
 * `ReturnValues` need nothing more than the action itself; nothing here scans, batches or touches the table's
 * settings.
 */
export interface TableAccess {
  /** Actions on items of the table (the table ARN). */
  readonly items: readonly ItemAction[];
  /**
   * Indexes the function queries (`dynamodb:Query` on each index's own ARN, never `index/*`).
   * @default - queries no index
   */
  readonly queries?: readonly string[];
  /**
   * Actions on the identity locks only (`LOCK#<identity>` items, functions/adapters/identity-lock.ts): allowed on the
   * table's ARN under a `dynamodb:LeadingKeys` condition, so a function that takes and releases locks cannot put or
   * delete anything else with them. Name here what `items` does not already allow on every item.
   * @default - no lock
   */
  readonly lockItems?: readonly ItemAction[];
}

/** The condition that narrows an item action to the identity locks: every partition key it touches is `LOCK#...`. */
export const LOCK_ITEMS_CONDITION = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [lockKey('*')] } } as const;

/**
 * Sets `envName` to the table name and grants exactly `access`: the item actions on the table's ARN (the lock
 * actions on lock items only), and Query on the ARN of each index named. The table uses DynamoDB's AWS managed key, whose key policy lets any principal
 * allowed to use the table in this account decrypt through DynamoDB, so no KMS grant is needed.
 * @param fn - the function that reads the variable
 * @param table - the table it may use
 * @param access - the actions and indexes it uses
 * @param envName - the variable the runtime reads
 */
export function bindTable(fn: lambda.Function, table: dynamodb.ITable, access: TableAccess, envName = 'TABLE_NAME'): void {
  fn.addEnvironment(envName, table.tableName);
  if (access.items.length > 0) {
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: access.items.map((action) => `dynamodb:${action}`),
      resourceArns: [table.tableArn],
    });
  }
  if (access.lockItems && access.lockItems.length > 0) {
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: access.lockItems.map((action) => `dynamodb:${action}`),
      resourceArns: [table.tableArn],
      conditions: LOCK_ITEMS_CONDITION,
    });
  }
  if (access.queries && access.queries.length > 0) {
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:Query'],
      resourceArns: access.queries.map((index) => `${table.tableArn}/index/${index}`),
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
 * @param envName - the variable the runtime reads, e.g. `SIGNING_KEY_SECRET_ID`
 */
export function bindSecret(fn: lambda.Function, secret: secretsmanager.ISecret, envName: string): void {
  fn.addEnvironment(envName, secret.secretFullArn ?? secret.secretName);
  // Not `grantRead`, which adds DescribeSecret: the runtime only ever calls GetSecretValue. A secret imported by
  // name has no full ARN; Secrets Manager's six-character suffix is matched by "-??????", as `grantRead` does.
  iam.Grant.addToPrincipal({
    grantee: fn,
    actions: ['secretsmanager:GetSecretValue'],
    resourceArns: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
  });
}

/**
 * Binds one of the secrets ops fill in (see `FILLED_SECRETS`) under the variable the runtime reads it from.
 * @param fn - the function that reads it
 * @param secrets - the stack's filled secrets
 * @param name - which one
 */
export function bindFilledSecret(
  fn: lambda.Function,
  secrets: Readonly<Record<FilledSecret, secretsmanager.ISecret>>,
  name: FilledSecret,
): void {
  bindSecret(fn, secrets[name], FILLED_SECRETS[name].variable);
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
 * `send`: sets the variable to the queue URL and grants `sqs:SendMessage` on that queue only (not
 * `grantSendMessages`, which adds GetQueueUrl and GetQueueAttributes the runtime never calls).
 * `consume`: subscribes the function to the queue with an event source mapping, and grants the three actions
 * Lambda's poller uses on that queue only: ReceiveMessage, DeleteMessage, GetQueueAttributes (not
 * `SqsEventSource`'s grant, which adds ChangeMessageVisibility and GetQueueUrl). Records arrive in the event, so
 * no variable is set. The mapping reports partial batch failures: the handler returns
 * `{batchItemFailures: [{itemIdentifier: messageId}]}` and only those records are retried, then dead-lettered by
 * the queue's redrive policy.
 * @param fn - the function that sends or consumes
 * @param queue - the queue
 * @param access - `send` or `consume`
 * @param options - see {@link QueueBindingOptions}
 * @returns the event source mapping, for `consume`
 */
export function bindQueue(
  fn: lambda.Function,
  queue: sqs.IQueue,
  access: QueueAccess,
  options: QueueBindingOptions = {},
): lambda.EventSourceMapping | undefined {
  if (access === 'send') {
    fn.addEnvironment(options.envName ?? 'WEBHOOK_QUEUE_URL', queue.queueUrl);
    iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:SendMessage'], resourceArns: [queue.queueArn] });
    return undefined;
  }
  iam.Grant.addToPrincipal({
    grantee: fn,
    actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
    resourceArns: [queue.queueArn],
  });
  // The id `SqsEventSource` gives its mapping: an existing deployment keeps its mapping instead of replacing it,
  // which SQS would refuse while the old mapping of the same queue and function still exists.
  const mapping = fn.addEventSourceMapping(`SqsEventSource:${Names.nodeUniqueId(queue.node)}`, {
    eventSourceArn: queue.queueArn,
    batchSize: options.batchSize ?? 10,
    maxBatchingWindow: options.maxBatchingWindow ?? Duration.seconds(1),
    reportBatchItemFailures: true,
    ...(options.maxConcurrency ? { maxConcurrency: options.maxConcurrency } : {}),
  });
  Validations.of(mapping.node.defaultChild as CfnResource).acknowledge({
    id: 'Serverless-LambdaEventSourceMappingDestination',
    reason:
      "Lambda supports on-failure destinations for stream and Kafka sources, not SQS: a record that keeps failing goes to the queue's own dead-letter queue through its redrive policy, which is alarmed.",
  });
  return mapping;
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
