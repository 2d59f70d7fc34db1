import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PayloadTooLargeError, readBody, sendJson } from './http-util.js';

/**
 * The AWS JSON protocol as the local SQS (1.0) and EventBridge (1.1) stand-ins speak it: the request body read
 * within a bound, the media type checked, the JSON parsed, the operation picked by `x-amz-target`, and errors in
 * AWS's shape. Request signatures are not checked (local mode signs with dummy credentials).
 */

export const AWS_JSON_1_0 = 'application/x-amz-json-1.0';
export const AWS_JSON_1_1 = 'application/x-amz-json-1.1';

const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

/** One operation: answers `res` from the parsed request body. */
export type AwsJsonOperation = (res: ServerResponse, input: unknown) => void;

/**
 * Serves one AWS JSON request: the operation named by `x-amz-target`, or the error AWS gives for an unknown one
 * (also for the operations local mode does not implement).
 */
export async function serveAwsJson(
  req: IncomingMessage,
  res: ServerResponse,
  protocol: typeof AWS_JSON_1_0 | typeof AWS_JSON_1_1,
  operations: Readonly<Record<string, AwsJsonOperation>>,
): Promise<void> {
  const target = req.headers['x-amz-target'];
  let raw: Buffer;
  try {
    raw = await readBody(req, MAX_REQUEST_BYTES);
  } catch (error) {
    if (error instanceof PayloadTooLargeError) {
      return awsError(res, protocol, 413, 'RequestEntityTooLarge', 'Request is too large.');
    }
    throw error;
  }
  const mediaType = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== protocol) {
    const message = `Local mode speaks only the AWS JSON protocol (${protocol}).`;
    return awsError(res, protocol, 400, 'UnsupportedProtocol', message);
  }
  let input: unknown;
  try {
    input = JSON.parse(raw.toString('utf8'));
  } catch {
    return awsError(res, protocol, 400, 'SerializationException', 'The request body is not JSON.');
  }
  const operation = typeof target === 'string' && Object.hasOwn(operations, target) ? operations[target] : undefined;
  if (operation) return operation(res, input);
  awsError(res, protocol, 400, 'com.amazon.coral.service#UnknownOperationException', undefined);
}

/** A successful answer in the protocol's media type, with a request id as AWS sends one. */
export function awsResult(res: ServerResponse, protocol: string, body: unknown): void {
  sendJson(res, 200, body, { 'content-type': protocol, 'x-amzn-requestid': randomUUID() });
}

export function awsError(
  res: ServerResponse,
  protocol: string,
  status: number,
  type: string,
  message: string | undefined,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, message === undefined ? { __type: type } : { __type: type, message }, {
    'content-type': protocol,
    ...headers,
    'x-amzn-requestid': randomUUID(),
  });
}

export function methodNotAllowed(res: ServerResponse, allow: string): true {
  sendJson(res, 405, { message: 'Method Not Allowed' }, { allow });
  return true;
}

/** Error name and message only: handler errors never carry secrets, but message bodies stay out of the log. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
}
