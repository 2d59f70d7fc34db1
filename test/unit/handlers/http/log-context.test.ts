import middy from '@middy/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { context } from '../../../helpers/context.js';
import { type CapturedOutput, captureOutput } from '../../../helpers/output.js';

let output: CapturedOutput;
beforeEach(() => {
  // Every line, and the switch that would make Powertools log each event: the middleware must override it.
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  process.env.POWERTOOLS_LOGGER_LOG_EVENT = 'true';
  vi.resetModules();
  output = captureOutput();
});
afterEach(() => {
  output.restore();
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  delete process.env.POWERTOOLS_LOGGER_LOG_EVENT;
});

/** A handler as every function builds it: `logContext()` first; it tags its lines with the request's id. */
async function handlerLoggingWith() {
  const { logger } = await import('../../../../functions/core/logger.js');
  const { logContext } = await import('../../../../functions/handlers/http/middleware.js');
  return middy<{ code: string; tag?: string }, void>()
    .use(logContext())
    .handler(async (event) => {
      if (event.tag) logger.appendKeys({ correlationId: event.tag });
      logger.info('handled');
    });
}

describe('logContext()', () => {
  it('puts the Lambda context on every line, and resets what an invocation appended once it ends', async () => {
    // Prepare
    const handler = await handlerLoggingWith();

    // Act: one invocation appends a correlation id, the next appends none
    await handler({ code: 'zoom-code-1', tag: 'attempt-1' }, context);
    await handler({ code: 'zoom-code-2' }, context);

    // Assess
    const [first, second] = output.logs().filter((line) => line.message === 'handled');
    expect(first).toMatchObject({ function_request_id: context.awsRequestId, correlationId: 'attempt-1' });
    expect(second).toMatchObject({ function_request_id: context.awsRequestId });
    expect(second).not.toHaveProperty('correlationId');
  });

  it('never logs the event, which may carry a Zoom code or a connect token, even when Powertools is told to', async () => {
    // Prepare
    const handler = await handlerLoggingWith();

    // Act
    await handler({ code: 'zoom-code-that-must-not-leak' }, context);

    // Assess
    expect(output.logs().map((line) => line.message)).toEqual(['handled']);
    expect(output.text()).not.toContain('zoom-code-that-must-not-leak');
  });
});
