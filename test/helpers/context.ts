import type { Context } from 'aws-lambda';

/** One fake Lambda context for every handler test; 25 s left, like a fresh callback invocation. */
export const context: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'test-function',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test-function',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/test-function',
  logStreamName: '2026/11/30/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 25_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

/** The tests' Lambda context, with some of it changed (less time left, say). */
export const lambdaContext = (overrides: Partial<Context> = {}): Context => ({ ...context, ...overrides });
