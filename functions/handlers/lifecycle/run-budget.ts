import type { Context } from 'aws-lambda';

/**
 * When a run stops starting new work: `marginMs` before Lambda's timeout, so its summary is always logged and
 * returned. When the context cannot tell the remaining time (local mode may call a handler directly), the run gets
 * `fallbackMs`.
 */
export function runDeadline(context: Context, marginMs: number, fallbackMs: number): number {
  const remaining = context.getRemainingTimeInMillis?.() ?? fallbackMs + marginMs;
  return Date.now() + Math.max(0, remaining - marginMs);
}
