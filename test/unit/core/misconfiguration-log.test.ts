import { afterEach, describe, expect, it, vi } from 'vitest';
import { MisconfiguredError } from '../../../functions/core/errors.js';
import { logger, logMisconfiguration } from '../../../functions/core/logger.js';

const unfilled = () =>
  new MisconfiguredError('Secret rzc/recall-api-key is not filled in: it still holds the placeholder REPLACE_ME.', {
    secret: 'rzc/recall-api-key',
    fields: ['recallApiKey'],
  });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('logMisconfiguration', () => {
  it('writes the one `Service misconfigured` line, naming the secret and its fields, for an error however wrapped', () => {
    // Prepare: a misconfiguration two causes deep, as a Recall call or a use case may wrap it
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const wrapped = new Error('Connect attempt failed', { cause: new Error('Recall call failed', { cause: unfilled() }) });

    // Act
    const logged = logMisconfiguration(wrapped);

    // Assess: the line every function writes, with no stack and no value
    expect(logged).toBe(true);
    expect(error).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledWith('Service misconfigured', {
      reason: 'misconfigured',
      secret: 'rzc/recall-api-key',
      fields: ['recallApiKey'],
      problem: 'Secret rzc/recall-api-key is not filled in: it still holds the placeholder REPLACE_ME.',
    });
  });

  it('writes nothing, and says so, for an error that is not a misconfiguration', () => {
    // Prepare
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);

    // Act
    const logged = logMisconfiguration(new Error('throttled', { cause: new Error('socket hang up') }));

    // Assess
    expect(logged).toBe(false);
    expect(error).not.toHaveBeenCalled();
  });

  it('writes into a use case\'s own log when given one, and not into the logger', () => {
    // Prepare
    const error = vi.spyOn(logger, 'error').mockImplementation(() => undefined);
    const lines: Array<[string, Record<string, unknown>]> = [];

    // Act
    logMisconfiguration(unfilled(), { error: (message, fields) => lines.push([message, fields]) });

    // Assess
    expect(lines).toEqual([['Service misconfigured', expect.objectContaining({ secret: 'rzc/recall-api-key' })]]);
    expect(error).not.toHaveBeenCalled();
  });
});
