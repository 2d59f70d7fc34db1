import type { Context } from 'aws-lambda';

/** A scheduled run's budget when the context cannot tell the remaining time (local mode may call a handler directly). */
export const DEFAULT_RUN_BUDGET_MS = 60_000;

/**
 * When a run stops starting new work: `marginMs` before Lambda's timeout, so its summary is always logged and
 * returned. When the context cannot tell the remaining time, the run gets `fallbackMs`.
 */
export function runDeadline(context: Context, marginMs: number, fallbackMs: number = DEFAULT_RUN_BUDGET_MS): number {
  const remaining = context.getRemainingTimeInMillis?.() ?? fallbackMs + marginMs;
  return Date.now() + Math.max(0, remaining - marginMs);
}
