import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type CapturedOutput, captureOutput, metricSum, metricsOf } from '../../helpers/output.js';

// Metrics are on here: this file asserts on the EMF lines themselves.
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
let m: typeof import('../../../functions/adapters/metrics.js');
let output: CapturedOutput;

beforeAll(async () => {
  m = await import('../../../functions/adapters/metrics.js');
});
afterAll(() => {
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => {
  m.metrics.clearMetrics();
  output.restore();
});

const SERVICE = { service: 'recall-zoom-connect' };

describe('metrics', () => {
  it('writes the invocation\'s counts as one EMF line in the RecallZoomConnect namespace with only the service dimension', () => {
    // Act
    m.count('ConnectStarted');
    m.count('EventPublishFailed', 3);
    m.correlateMetrics('corr-123');
    m.metrics.publishStoredMetrics();

    // Assess
    const [doc, ...others] = output.emf();
    expect(others).toEqual([]);
    expect(doc?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'RecallZoomConnect',
        Dimensions: [['service']],
        Metrics: [
          { Name: 'ConnectStarted', Unit: 'Count' },
          { Name: 'EventPublishFailed', Unit: 'Count' },
        ],
      },
    ]);
    expect(doc).toMatchObject({ service: 'recall-zoom-connect', ConnectStarted: 1, EventPublishFailed: 3, correlationId: 'corr-123' });
  });

  it('counts a failed connect in the total and, in a line of its own, by reason', () => {
    m.connectFailed('recall_unavailable', 'corr-9');
    m.metrics.publishStoredMetrics();

    const emitted = metricsOf(output.emf());
    expect(output.emf()).toHaveLength(2);
    expect(metricSum(emitted, 'ConnectFailed')).toBe(1);
    expect(metricSum(emitted, 'ConnectFailed', { ...SERVICE, reason: 'recall_unavailable' })).toBe(1);
    const byReason = emitted.find((metric) => metric.dimensions.includes('reason'));
    expect(byReason).toMatchObject({ namespace: 'RecallZoomConnect', metadata: { correlationId: 'corr-9' } });
  });

  it.each([
    ['ok', { RecallCall: 1, RecallRetry: 0, RecallFailure: 0 }],
    ['client_error', { RecallCall: 1, RecallRetry: 0, RecallFailure: 0 }],
    ['retry', { RecallCall: 1, RecallRetry: 1, RecallFailure: 0 }],
    ['unavailable', { RecallCall: 1, RecallRetry: 0, RecallFailure: 1 }],
  ] as const)('meters a Recall attempt that ended %s', (outcome, expected) => {
    m.recallAttempt({ operation: 'create', attempt: 1, status: 200, durationMs: 123, outcome });
    m.metrics.publishStoredMetrics();

    const emitted = metricsOf(output.emf());
    for (const [name, value] of Object.entries(expected)) expect(metricSum(emitted, name)).toBe(value);
    expect(emitted.find((metric) => metric.name === 'RecallLatency')).toMatchObject({ unit: 'Milliseconds', value: 123 });
  });

  it('writes nothing, and no warning at INFO, for an invocation without metrics (a GET of a connection has none)', async () => {
    const { logger } = await import('../../../functions/core/logger.js');
    logger.setLogLevel('INFO');
    try {
      m.metrics.publishStoredMetrics();

      expect(output.lines()).toEqual([]);
    } finally {
      logger.setLogLevel('SILENT');
    }
  });
});
