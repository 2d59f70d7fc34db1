import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type CapturedOutput, captureOutput } from '../../helpers/output.js';

/** The logger reads its level from POWERTOOLS_LOG_LEVEL, which the stack sets from the deploy config. */
async function loggerAt(level: string) {
  process.env.POWERTOOLS_LOG_LEVEL = level;
  vi.resetModules();
  return (await import('../../../functions/core/logger.js')).logger;
}

let output: CapturedOutput;
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => {
  output.restore();
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
});

describe('logger', () => {
  it.each([
    ['DEBUG', ['DEBUG', 'INFO', 'WARN', 'ERROR']],
    ['INFO', ['INFO', 'WARN', 'ERROR']],
    ['WARN', ['WARN', 'ERROR']],
    ['ERROR', ['ERROR']],
  ])('at POWERTOOLS_LOG_LEVEL=%s writes only lines at or above it', async (level, expected) => {
    const logger = await loggerAt(level);

    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');

    expect(output.logs().map((line) => line.level)).toEqual(expected);
  });

  it('writes structured JSON with the service name', async () => {
    const logger = await loggerAt('INFO');

    logger.info('hello', { field: 1 });

    expect(output.logs()).toEqual([
      expect.objectContaining({ level: 'INFO', message: 'hello', service: 'recall-zoom-connect', field: 1 }),
    ]);
  });
});
