import type { CallCounts } from './warm-child.js';

/**
 * The performance budget (issue 6). Bundle sizes in KB of 1024 bytes, as esbuild and `cdk synth` print them;
 * cold starts as the median ratio to a bare `node -e 0` started alternately in the same run.
 */
export const BUDGETS = {
  authorize: { bundleKb: 450, coldRatio: 4.0, warmP99Ms: 2, maxDynamoDb: 1, maxSecretsManager: 0 },
  callback: { bundleKb: 800, coldRatio: 5.5, warmP99Ms: 5, maxDynamoDb: 2, exactRecall: 1, maxEventBridge: 0 },
  /** Our cold-start ratio divided by the naive baseline's, per function. */
  maxShareOfNaive: 0.5,
} as const;

export interface BudgetInputs {
  bundleKb: Partial<Record<string, number>>;
  coldRatio: Partial<Record<string, number>>;
  naiveRatio: Partial<Record<string, number>>;
  warmP99Ms: Partial<Record<string, number>>;
  warmCalls: Partial<Record<string, CallCounts>>;
}

export interface BudgetCheck {
  budget: string;
  limit: string;
  measured: string;
  pass: boolean;
  /** How far off a failing budget is, e.g. "+0.6× over" (empty when passing). */
  off: string;
}

const missing = (budget: string, limit: string): BudgetCheck => ({ budget, limit, measured: 'not measured', pass: false, off: '' });

function atMost(budget: string, value: number | undefined, limit: number, unit: string, digits: number): BudgetCheck {
  const limitText = `<= ${limit}${unit}`;
  if (value === undefined || !Number.isFinite(value)) return missing(budget, limitText);
  const pass = value <= limit;
  const over = value - limit;
  return {
    budget,
    limit: limitText,
    measured: `${value.toFixed(digits)}${unit}`,
    pass,
    off: pass ? '' : `${over.toFixed(digits)}${unit} over (${((over / limit) * 100).toFixed(0)}%)`,
  };
}

export function checkBudgets(m: BudgetInputs): BudgetCheck[] {
  const checks: BudgetCheck[] = [];
  for (const name of ['authorize', 'callback'] as const) {
    const b = BUDGETS[name];
    checks.push(atMost(`${name} bundle size`, m.bundleKb[name], b.bundleKb, ' KB', 1));
    checks.push(atMost(`${name} cold start / bare node`, m.coldRatio[name], b.coldRatio, '×', 2));
    const ours = m.coldRatio[name];
    const naive = m.naiveRatio[name];
    checks.push(
      atMost(
        `${name} cold ratio / naive cold ratio`,
        ours !== undefined && naive !== undefined ? ours / naive : undefined,
        BUDGETS.maxShareOfNaive,
        '×',
        2,
      ),
    );
    checks.push(atMost(`${name} warm p99`, m.warmP99Ms[name], b.warmP99Ms, ' ms', 3));
  }
  const authorizeCalls = m.warmCalls.authorize;
  const callbackCalls = m.warmCalls.callback;
  checks.push(atMost('authorize warm DynamoDB calls', authorizeCalls?.dynamodb, BUDGETS.authorize.maxDynamoDb, '', 0));
  checks.push(atMost('authorize warm Secrets Manager calls', authorizeCalls?.secretsManager, BUDGETS.authorize.maxSecretsManager, '', 0));
  checks.push(atMost('callback warm DynamoDB calls', callbackCalls?.dynamodb, BUDGETS.callback.maxDynamoDb, '', 0));
  // Its events go through the outbox: the request path never calls EventBridge.
  checks.push(atMost('callback warm EventBridge calls', callbackCalls?.eventBridge, BUDGETS.callback.maxEventBridge, '', 0));
  if (callbackCalls === undefined) checks.push(missing('callback warm Recall calls', '== 1'));
  else {
    const pass = callbackCalls.recall === BUDGETS.callback.exactRecall;
    checks.push({
      budget: 'callback warm Recall calls',
      limit: `== ${BUDGETS.callback.exactRecall}`,
      measured: String(callbackCalls.recall),
      pass,
      off: pass ? '' : `${callbackCalls.recall - BUDGETS.callback.exactRecall} off`,
    });
  }
  return checks;
}

/**
 * The bench's last lines: each failing budget with its measurement, its limit and how far off it is, then the count.
 * They come last so that `npm run bench | tail` (or a CI log cut short) still says what failed and by how much.
 */
export function verdictLines(checks: readonly BudgetCheck[]): string[] {
  const failed = checks.filter((check) => !check.pass);
  if (failed.length === 0) return [`All ${checks.length} budgets pass.`];
  return [
    ...failed.map(
      (check) => `FAIL ${check.budget}: measured ${check.measured}, limit ${check.limit}${check.off ? `, ${check.off}` : ''}`,
    ),
    `${failed.length} of ${checks.length} budgets failed.`,
  ];
}
