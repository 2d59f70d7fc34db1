import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ReconcileAction, ReconcileReport } from '../functions/lifecycle/reconcile.js';

/**
 * `npm run reconcile -- [--fix] [--json]`: the scheduled reconcile function's work, run by hand against the table
 * and the Recall workspace the environment names (a deployed stack, or dynalite and the sandbox Recall). The report
 * goes to stdout and nothing else does; errors and usage go to stderr.
 */

export const USAGE = `Usage: npm run reconcile -- [--fix] [--json]

Compares the Recall Zoom OAuth credentials of the OAuth app with the connection records and reports:
  - orphan credentials: live at Recall, no connected or unhealthy record points at them, older than the grace
    period (RECONCILE_ORPHAN_GRACE_SECONDS, default 900);
  - dangling records: connected or unhealthy records whose credential Recall no longer has;
  - Zoom identities with more than one live credential, and records of another OAuth app (report only).

Options:
  --fix       repair under each Zoom identity's lock: delete orphans at Recall; move a dangling record to its
              identity's one live credential, else mark a connected one unhealthy (the user connects again)
  --json      print the report as JSON instead of text
  -h, --help  show this help

Exit status:
  0  nothing to repair (with --fix: nothing left to repair)
  1  problems found (with --fix: some left, see the report), or the check could not run
  2  usage or configuration error
Without --fix nothing is changed, so a cron job or CI step can run it and alert on exit status 1.

Environment (the functions' own variables; against a deployed stack, take them from its outputs and config):
  TABLE_NAME                       the TableName output
  RECALL_ZOOM_OAUTH_APP_ID         recallZoomOAuthAppId of the deploy config
  RECALL_REGION                    recallRegion of the deploy config (or RECALL_API_BASE_URL, a full base URL)
  RECALL_API_KEY_SECRET_ID         the RecallApiKeySecretName output: the Recall API key is read from it in Secrets Manager
  RECALL_API_KEY                   or the Recall API key itself (local mode, the sandbox)
  AWS_PROFILE, AWS_REGION, ...     AWS credentials and region as usual (the stack's region);
                                   AWS_ENDPOINT_URL_DYNAMODB for a local table
`;

/** Variables the shared runtime config requires that reconcile never reads: fixed, so a stray value cannot fail it. */
const UNUSED_BY_RECONCILE = {
  ZOOM_REDIRECT_URI: 'https://reconcile.invalid/zoom/callback',
  RETURN_URL_ALLOWLIST: 'https://reconcile.invalid/',
  ZOOM_CLIENT_ID: 'unused-by-reconcile',
  CONNECT_SIGNING_KEY: 'unused-by-reconcile',
} as const;

/** A CLI run has no Lambda timeout; this bounds it all the same. */
const CLI_BUDGET_MS = 10 * 60_000;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface ReconcileOptions {
  fix: boolean;
  json: boolean;
}

/**
 * Parses the command line.
 * @throws UsageError with a message for the user
 */
export function parseReconcileArgs(argv: readonly string[]): ReconcileOptions | 'help' {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        fix: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) return 'help';
    return { fix: values.fix ?? false, json: values.json ?? false };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : 'Invalid arguments.');
  }
}

/** The report as text for a person: what was found, then what was done. Ids only, never a secret. */
export function formatReport(report: ReconcileReport): string {
  const lines = [
    `Reconcile ${report.fix ? 'with --fix' : '(report only)'} of Recall OAuth app ${report.oauthAppId}, listed at ${report.listedAt}`,
    `  ${report.liveCredentials} live credentials, ${report.relyingRecords} connected or unhealthy records`,
  ];
  const section = <T>(title: string, items: readonly T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    lines.push('', `${title}: ${items.length}`, ...items.map((item) => `  - ${line(item)}`));
  };
  section('Orphan credentials (no record relies on them)', report.orphans, (orphan) =>
    `${orphan.recallCredentialId} (${orphan.zoomIdentity}, created ${orphan.createdAt ?? 'at an unknown time'})`,
  );
  section('Dangling records (their credential is gone at Recall)', report.danglingRecords, (record) =>
    `user ${record.userId} (${record.status}) on ${record.recallCredentialId}: ` +
    (record.repair === 'repoint' ? `repoint to ${record.repointTo}` : 'mark unhealthy (the user connects again)'),
  );
  section('Zoom identities with more than one live credential (look at these by hand)', report.duplicateIdentities, (duplicate) =>
    `${duplicate.zoomIdentity}: ${duplicate.recallCredentialIds.join(', ')}`,
  );
  section('Records of another OAuth app (ignored)', report.otherAppRecords, (record) => `user ${record.userId} (${record.oauthAppId})`);
  section('Could not be checked or repaired', report.failures, (failure) =>
    `${failure.userId ? `user ${failure.userId} on ` : ''}${failure.recallCredentialId} (${failure.stage}): ${failure.error}`,
  );
  if (report.fix) section('Actions', report.actions, describeAction);

  const notes = [
    report.awaitingReconnect.length > 0 &&
      `${counted(report.awaitingReconnect.length, 'unhealthy record')} waiting for the user to connect again`,
    report.notYetChecked.youngCredentials.length > 0 &&
      `${counted(report.notYetChecked.youngCredentials.length, 'unreferenced credential')} inside the grace period`,
    report.notYetChecked.recentRecords.length > 0 &&
      `${counted(report.notYetChecked.recentRecords.length, 'record')} changed too recently to judge`,
    report.deferred > 0 && `${counted(report.deferred, 'suspected dangling record')} left for the next run`,
  ].filter((note): note is string => typeof note === 'string');
  if (notes.length > 0) lines.push('', ...notes.map((note) => `Note: ${note}.`));

  lines.push('', verdict(report));
  return `${lines.join('\n')}\n`;
}

const counted = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

function describeAction(action: ReconcileAction): string {
  switch (action.kind) {
    case 'deleted':
      return `deleted orphan credential ${action.recallCredentialId} (${action.zoomIdentity})`;
    case 'repointed':
      return `repointed user ${action.userId} from ${action.fromCredentialId} to ${action.toCredentialId}`;
    case 'marked_unhealthy':
      return `marked user ${action.userId} unhealthy (was on ${action.recallCredentialId})`;
    case 'skipped':
      return `skipped ${action.userId ? `user ${action.userId} on ` : 'credential '}${action.recallCredentialId}: ${action.reason.replaceAll('_', ' ')}`;
  }
}

function verdict(report: ReconcileReport): string {
  if (report.problems === 0) return 'Result: clean, nothing to repair.';
  const found = `Result: ${counted(report.problems, 'problem')} found`;
  if (!report.fix) return `${found}; run with --fix to repair what can be repaired.`;
  if (report.unresolved === 0) return `${found}, all repaired or settled.`;
  return `${found}, ${report.unresolved} left (see above).`;
}

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

/**
 * The whole command: parse, read the environment, run, print.
 * @param env - the service's variables (the AWS SDK reads its own from `process.env`, as always)
 * @returns the exit status (0 clean, 1 problems or failure, 2 usage or configuration)
 */
export async function runReconcileCli(argv: readonly string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  let options: ReconcileOptions | 'help';
  try {
    options = parseReconcileArgs(argv);
  } catch (error) {
    io.err(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }

  // Loaded only now, after the environment is settled: metrics would otherwise be written to stdout in the
  // embedded metric format once enough Recall calls were made, in the middle of the report.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const [{ DynamoDBClient }, { SecretsManagerClient }, config, repository, lock, reconcileModule, service, secrets, sdk, errors] =
    await Promise.all([
      import('@aws-sdk/client-dynamodb'),
      import('@aws-sdk/client-secrets-manager'),
      import('../functions/core/config.js'),
      import('../functions/adapters/connection-repository.js'),
      import('../functions/adapters/identity-lock.js'),
      import('../functions/lifecycle/reconcile.js'),
      import('../functions/adapters/recall-service.js'),
      import('../functions/adapters/secrets.js'),
      import('../functions/adapters/secrets-sdk.js'),
      import('../functions/core/errors.js'),
    ]);

  let serviceConfig: ReturnType<typeof config.loadConfig>;
  let tableName: string;
  try {
    serviceConfig = config.loadConfig({ ...env, ...UNUSED_BY_RECONCILE });
    tableName = config.requireTableName(serviceConfig);
  } catch (error) {
    io.err(`${(error as Error).message}\n\nSee npm run reconcile -- --help for the variables it reads.\n`);
    return 2;
  }

  const dynamoDb = new DynamoDBClient({});
  let secretsManager: InstanceType<typeof SecretsManagerClient> | undefined;
  try {
    const store = new secrets.SecretStore(
      serviceConfig,
      sdk.sdkSecretReader(() => (secretsManager ??= new SecretsManagerClient({}))),
    );
    const now = Date.now;
    const report = await reconcileModule.reconcile({
      recall: service.createRecallClient(serviceConfig, store, { listsPerMinute: reconcileModule.RECONCILE_LISTS_PER_MINUTE }),
      connections: new repository.ConnectionRepository(dynamoDb, tableName),
      lock: new lock.DynamoIdentityLock(dynamoDb, tableName),
      oauthAppId: serviceConfig.recallOAuthAppId,
      fix: options.fix,
      orphanGraceMs: serviceConfig.reconcile.orphanGraceSeconds * 1000,
      now,
      deadlineMs: now() + CLI_BUDGET_MS,
      log: {
        warn: (message, fields) => io.err(`${message}${describeFields(fields)}\n`),
        error: (message, fields) => io.err(`${message}${describeFields(fields)}\n`),
      },
    });
    io.out(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.unresolved > 0 ? 1 : 0;
  } catch (error) {
    const misconfigured = errors.misconfigurationOf(error);
    const problem = misconfigured ?? (error instanceof Error ? error : undefined);
    io.err(`Reconcile could not run: ${problem ? `${problem.name}: ${problem.message}` : 'unknown error'}\n`);
    return 1;
  } finally {
    dynamoDb.destroy();
    secretsManager?.destroy();
  }
}

/** ` (userId=..., recallCredentialId=..., error=Name: message)`: ids and the error's name and message only. */
function describeFields(fields: Record<string, unknown>): string {
  const parts = Object.entries(fields).map(([name, value]) =>
    `${name}=${value instanceof Error ? `${value.name}: ${value.message}` : String(value)}`,
  );
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runReconcileCli(process.argv.slice(2), process.env, {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
  });
}
