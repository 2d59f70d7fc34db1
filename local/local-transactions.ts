import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';

/**
 * `TransactWriteItems` for dynalite, which has none: the callback uses a state and its connect link in one
 * transaction of conditional puts, and local mode and the integration tests must run that code unchanged.
 *
 * Transactions are applied one at a time (a mutex), item by item with each item's own condition; when one fails,
 * the items already written are put back as they were and the call is answered as DynamoDB answers it, a
 * `TransactionCanceledException` with one reason per item. Writes outside transactions are not held back meanwhile:
 * that is weaker isolation than DynamoDB's, enough for conditional puts of fresh keys (what the service does).
 * `Put` and `Delete` items are supported; anything else is refused as a validation error.
 * @param client - a client of this dynalite, which applies the items; destroyed by the returned stop
 */
export function serveTransactions(server: Server, client: DynamoDBClient): () => void {
  const dynaliteListeners = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  let queue: Promise<unknown> = Promise.resolve();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.headers['x-amz-target'] !== 'DynamoDB_20120810.TransactWriteItems') {
      for (const listener of dynaliteListeners) listener.call(server, req, res);
      return;
    }
    // Answered whatever happens: an unanswered request would hold the calling handler until its Lambda timeout.
    queue = queue
      .then(() => transact(req, res, client))
      .catch((error: unknown) => {
        if (!res.headersSent) answerError(res, error);
        else res.end();
      });
  });
  return () => client.destroy();
}

interface TransactItem {
  Put?: { TableName: string; Item: Record<string, AttributeValue>; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> };
  Delete?: { TableName: string; Key: Record<string, AttributeValue>; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, AttributeValue> };
}

const keyNames = new Map<string, Promise<string[]>>();

async function transact(req: IncomingMessage, res: ServerResponse, client: DynamoDBClient): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  let items: TransactItem[];
  try {
    items = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { TransactItems?: TransactItem[] }).TransactItems ?? [];
  } catch {
    return answer(res, 400, { __type: 'com.amazon.coral.service#SerializationException', message: 'Invalid JSON.' });
  }
  if (items.length === 0 || items.some((item) => !item.Put && !item.Delete)) {
    return answer(res, 400, {
      __type: 'com.amazon.coral.validate#ValidationException',
      message: 'Local mode supports TransactWriteItems with Put and Delete items only.',
    });
  }
  const undo: (() => Promise<unknown>)[] = [];
  const reasons: { Code: string; Message?: string }[] = items.map(() => ({ Code: 'None' }));
  for (const [index, item] of items.entries()) {
    try {
      const tableName = (item.Put ?? item.Delete)?.TableName as string;
      const key = item.Put ? await keyOf(client, tableName, item.Put.Item) : (item.Delete?.Key as Record<string, AttributeValue>);
      const { Item: before } = await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
      if (item.Put) await client.send(new PutItemCommand(item.Put));
      else if (item.Delete) await client.send(new DeleteItemCommand(item.Delete));
      undo.push(() =>
        before
          ? client.send(new PutItemCommand({ TableName: tableName, Item: before }))
          : client.send(new DeleteItemCommand({ TableName: tableName, Key: key })),
      );
    } catch (error) {
      // All or nothing, whichever item failed and however.
      for (const restore of undo.reverse()) await restore();
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      reasons[index] = { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' };
      return answer(res, 400, {
        __type: 'com.amazonaws.dynamodb.v20120810#TransactionCanceledException',
        message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
        CancellationReasons: reasons,
      });
    }
  }
  answer(res, 200, {});
}

/** DynamoDB's answer for an item it refused (a missing table, an invalid item), as dynalite gave it to us. */
function answerError(res: ServerResponse, error: unknown): void {
  const { name, message, $metadata } = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode ?? 500;
  answer(res, status, {
    __type: `com.amazonaws.dynamodb.v20120810#${status < 500 && name ? name : 'InternalServerError'}`,
    message: status < 500 && message ? message : 'Local mode could not apply the transaction.',
  });
}

async function keyOf(client: DynamoDBClient, tableName: string, item: Record<string, AttributeValue>): Promise<Record<string, AttributeValue>> {
  let names = keyNames.get(tableName);
  if (!names) {
    names = client
      .send(new DescribeTableCommand({ TableName: tableName }))
      .then(({ Table }) => (Table?.KeySchema ?? []).map((element) => element.AttributeName as string));
    keyNames.set(tableName, names);
    names.catch(() => keyNames.delete(tableName));
  }
  return Object.fromEntries((await names).map((name) => [name, item[name] as AttributeValue]));
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' });
  res.end(JSON.stringify(body));
}
