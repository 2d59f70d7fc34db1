import { type MockInstance, vi } from 'vitest';

/**
 * Everything a handler writes, captured where it leaves the process. Powertools' logger and metrics each write
 * through a `Console` of their own bound to `process.stdout` / `process.stderr` (warnings and errors go to
 * stderr), so the streams' `write` is the one point nothing passes by; the global `console` is captured as well,
 * for anything (a dependency, a stray debug line) that writes through it.
 *
 * Lines are kept whole, one entry per line written.
 */
export interface CapturedOutput {
  /** Every line written since the last `clear()`, in order. */
  lines(): string[];
  /** All of it as one string, for greps. */
  text(): string;
  /** The structured log lines (JSON with a `level` and `message`). */
  logs(): LogLine[];
  /** The CloudWatch EMF documents (JSON with an `_aws` key). */
  emf(): EmfDocument[];
  clear(): void;
  restore(): void;
}

export interface LogLine {
  level: string;
  message: string;
  [field: string]: unknown;
}

export interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: Array<{
      Namespace: string;
      Dimensions: string[][];
      Metrics: Array<{ Name: string; Unit: string }>;
    }>;
  };
  [field: string]: unknown;
}

type Write = typeof process.stdout.write;

export function captureOutput(): CapturedOutput {
  const captured: string[] = [];
  const record = (chunk: unknown) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    for (const line of text.split('\n')) if (line.length > 0) captured.push(line);
  };
  const streamSpy = (stream: NodeJS.WriteStream): MockInstance<Write> =>
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      record(chunk);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as Write);
  const spies: Array<{ mockRestore(): void }> = [streamSpy(process.stdout), streamSpy(process.stderr)];
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    spies.push(
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        record(args.map((arg) => (typeof arg === 'string' ? arg : safeStringify(arg))).join(' '));
      }),
    );
  }
  const parsed = () =>
    captured.flatMap((line) => {
      try {
        const value: unknown = JSON.parse(line);
        return value !== null && typeof value === 'object' ? [value as Record<string, unknown>] : [];
      } catch {
        return [];
      }
    });
  return {
    lines: () => [...captured],
    text: () => captured.join('\n'),
    logs: () => parsed().filter((doc): doc is LogLine => typeof doc.level === 'string' && typeof doc.message === 'string'),
    emf: () => parsed().filter((doc): doc is EmfDocument => typeof doc._aws === 'object' && doc._aws !== null),
    clear: () => {
      captured.length = 0;
    },
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One metric value as emitted: its document's namespace and dimension names, and the value(s). */
export interface EmittedMetric {
  name: string;
  unit: string;
  namespace: string;
  /** Dimension names of its document, sorted. */
  dimensions: string[];
  /** Dimension values, by name. */
  dimensionValues: Record<string, string>;
  /** One value, or several when the invocation added it more than once. */
  value: number | number[];
  metadata: Record<string, unknown>;
}

/** Flattens EMF documents into one entry per metric per document. */
export function metricsOf(documents: readonly EmfDocument[]): EmittedMetric[] {
  return documents.flatMap((doc) =>
    doc._aws.CloudWatchMetrics.flatMap((directive) => {
      const dimensions = [...new Set(directive.Dimensions.flat())].sort();
      const dimensionValues = Object.fromEntries(dimensions.map((name) => [name, String(doc[name])]));
      const metricNames = new Set(directive.Metrics.map((metric) => metric.Name));
      const metadata = Object.fromEntries(
        Object.entries(doc).filter(([key]) => key !== '_aws' && !metricNames.has(key) && !dimensions.includes(key)),
      );
      return directive.Metrics.map((metric) => ({
        name: metric.Name,
        unit: metric.Unit,
        namespace: directive.Namespace,
        dimensions,
        dimensionValues,
        value: doc[metric.Name] as number | number[],
        metadata,
      }));
    }),
  );
}

/** The sum of a metric's values across documents, optionally only those with exactly these dimension values. */
export function metricSum(
  metrics: readonly EmittedMetric[],
  name: string,
  dimensionValues: Record<string, string> = { service: 'recall-zoom-connect' },
): number {
  const wanted = Object.keys(dimensionValues).sort();
  return metrics
    .filter(
      (metric) =>
        metric.name === name &&
        metric.dimensions.length === wanted.length &&
        wanted.every((key, i) => metric.dimensions[i] === key && metric.dimensionValues[key] === dimensionValues[key]),
    )
    .reduce((sum, metric) => sum + [metric.value].flat().reduce((a, b) => a + b, 0), 0);
}
