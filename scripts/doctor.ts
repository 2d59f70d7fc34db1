/**
 * `npm run doctor -- --local` or `npm run doctor -- --config deploy/prod.json`: a preflight that finds the usual
 * setup mistakes before a user does. One line per check, `OK` or `FAIL`, with what to do; never a secret's value.
 * Exit 0 when every check passes, 1 when one fails, 2 on a usage error.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as z from 'zod/mini';
import { recallBaseUrlFor } from '../functions/core/config.js';
import { SECRET_PLACEHOLDER } from '../functions/adapters/secrets.js';
import { FILLED_SECRET_NAMES, type FilledSecret } from '../functions/core/filled-secrets.js';
import { CALLBACK_PATH, WEBHOOK_PATH } from '../functions/core/routes.js';
import { type DeployConfig, InvalidDeployConfigError } from '../lib/config.js';
import { FILLED_SECRET_OUTPUTS, filledSecretName } from '../lib/stack-outputs.js';
import { LocalConfigError, parseLocalEnv, resolveLocalSettings } from '../local/local-settings.js';
import { startFakeRecall } from '../local/sandbox-recall.js';
import { runningServers } from '../local/server-registry.js';
import { validateDeployConfig } from './deploy.js';
import { exitAfterOutput } from './exit.js';

export const USAGE = `Usage: npm run doctor -- --local
       npm run doctor -- --config <file> [--profile <name>]

Checks a setup before a user meets its mistakes, one line per check (OK or FAIL, and what to do):
  the secrets hold no placeholders; the Recall API key works in the configured region and finds the Zoom OAuth
  App; the app holds the Zoom client id of the secret; the app's kind; whether Recall has seen Zoom validate the
  webhook endpoint; the redirect URI and webhook URL to register in Zoom; the return-URL allow-list.

  --local           local mode (npm start): its environment variables and defaults, and its Recall (the
                    running server's sandbox, a sandbox started for the check, or RECALL_API_BASE_URL/RECALL_REGION)
  --config <file>   a deployed stack: the deployment's config file, the stack's outputs (CloudFormation) and its
                    three secrets (Secrets Manager), with AWS credentials from the usual chain
  --profile <name>  AWS profile for --config (or AWS_PROFILE)
  -h, --help        show this help

Exit status: 0 every check passed, 1 a check failed, 2 usage error.`;

export class DoctorUsageError extends Error {
  override readonly name = 'DoctorUsageError';
}

/** What the checks look at, gathered from local mode or a deployed stack. Secret values never leave this object. */
export interface DoctorTarget {
  /** Where the secret values came from, in words (for the lines that name it). */
  secretSource: string;
  secrets: { recallApiKey?: string | undefined; zoomClientId?: string | undefined; zoomWebhookSecretToken?: string | undefined };
  recallBaseUrl: string;
  /** How the Recall base URL was chosen, e.g. `recallRegion us-east-1`. */
  recallChosenBy: string;
  recallAppId: string;
  /** The redirect URI as the service sends it, or why it is not known. */
  redirectUri: string | { unknown: string };
  webhookUrl: string | { unknown: string };
  returnUrlAllowlist: readonly string[];
  /** Local mode also accepts http return URLs on loopback hosts. */
  allowLoopbackHttp: boolean;
  /** Whether a Recall other than the sandbox is asked (its WAF refuses localhost URLs in a create). */
  externalRecall: boolean;
  /** Problems found while gathering (the stack not found, the secret unreadable): each a FAIL line. */
  gatherFailures: CheckResult[];
  /** What else the user should know, printed before the checks (e.g. which server was used). */
  notes: string[];
}

export interface CheckResult {
  ok: boolean;
  name: string;
  text: string;
}

export const formatCheck = ({ ok, name, text }: CheckResult): string => `${ok ? 'OK  ' : 'FAIL'} ${name}: ${text}`;

const ok = (name: string, text: string): CheckResult => ({ ok: true, name, text });
const fail = (name: string, text: string): CheckResult => ({ ok: false, name, text });

/** The fields of Retrieve Zoom OAuth App the checks read; the app's secrets are never read into this. */
const RecallAppSchema = z.looseObject({
  id: z.string(),
  kind: z.string(),
  client_id: z.string(),
  webhook_last_validation: z.nullable(z.string()),
});
type RecallApp = z.infer<typeof RecallAppSchema>;

const isUnset = (value: string | undefined) => value === undefined || value.trim() === '' || value === SECRET_PLACEHOLDER;
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Runs every check against the target.
 * @param fetchFn - the HTTP client for Recall (tests pass one)
 */
export async function runChecks(target: DoctorTarget, fetchFn: typeof fetch = fetch): Promise<CheckResult[]> {
  const results: CheckResult[] = [...target.gatherFailures];

  // 1. Placeholders.
  const unset = FILLED_SECRET_NAMES.filter((field) => isUnset(target.secrets[field]));
  results.push(
    unset.length === 0
      ? ok('secrets', `no placeholders in ${target.secretSource}`)
      : fail(
          'secrets',
          `${unset.join(', ')} ${unset.length === 1 ? 'is' : 'are'} empty or still ${SECRET_PLACEHOLDER} in ${target.secretSource}: ` +
            'put in the Recall API key, the Zoom app\'s client id and its Secret Token (Zoom app → Features → Access).',
        ),
  );

  // 2. The key, the region and the app id, in one call.
  const app = await retrieveApp(target, fetchFn);
  results.push(app.result);
  const notChecked = (name: string) => fail(name, 'not checked: the Recall app could not be read (see the Recall API key line).');

  // 3. The app's Zoom client id.
  if (!app.app) results.push(notChecked('Zoom client id'));
  else if (isUnset(target.secrets.zoomClientId)) results.push(fail('Zoom client id', `not checked: zoomClientId is not set in ${target.secretSource}.`));
  else if (app.app.client_id === target.secrets.zoomClientId) {
    results.push(ok('Zoom client id', `the Recall app holds the same Zoom client id as ${target.secretSource}`));
  } else {
    results.push(
      fail(
        'Zoom client id',
        `the Recall app holds Zoom client id ${app.app.client_id}, which is not the zoomClientId in ${target.secretSource}: ` +
          'use the client id of the Zoom app the Recall app was created with (or point recallZoomOAuthAppId at the Recall app of this Zoom app).',
      ),
    );
  }

  // 4. The app's kind.
  if (!app.app) results.push(notChecked('Recall app kind'));
  else if (app.app.kind === 'user_level') {
    results.push(ok('Recall app kind', 'user_level: each Zoom user connects their own account; conflicts match on the Zoom user id'));
  } else if (app.app.kind === 'account_level') {
    results.push(ok('Recall app kind', 'account_level: an admin connects the whole Zoom account; conflicts match on the Zoom account id'));
  } else {
    results.push(fail('Recall app kind', `unknown kind ${JSON.stringify(app.app.kind)}: expected user_level or account_level.`));
  }

  // 5. Zoom's endpoint validation, which reaches Recall only through this service's webhook.
  const webhookUrl = typeof target.webhookUrl === 'string' ? target.webhookUrl : undefined;
  if (!app.app) results.push(notChecked('Zoom endpoint validation'));
  else if (app.app.webhook_last_validation) {
    results.push(ok('Zoom endpoint validation', `Recall last saw Zoom validate the webhook endpoint at ${app.app.webhook_last_validation}`));
  } else {
    results.push(
      fail(
        'Zoom endpoint validation',
        'Recall has never seen Zoom validate the webhook endpoint: in the Zoom app, set the Event notification endpoint URL ' +
          `to ${webhookUrl ?? 'the ZoomWebhookUrl output'}, put the app's Secret Token in zoomWebhookSecretToken, then choose Validate.`,
      ),
    );
  }

  // 6. and 7. What to register in Zoom, exactly.
  if (typeof target.redirectUri !== 'string') results.push(fail('redirect URI', target.redirectUri.unknown));
  else if (target.externalRecall && isLoopbackUrl(target.redirectUri)) {
    results.push(
      fail(
        'redirect URI',
        `"${target.redirectUri}" is a localhost URL, which Recall's firewall refuses in a credential create: set ZOOM_REDIRECT_URI to an https URL that reaches this server (a tunnel).`,
      ),
    );
  } else {
    results.push(
      ok(
        'redirect URI',
        `register exactly "${target.redirectUri}" in the Zoom app (OAuth Redirect URL and OAuth Allow List), ` +
          `${target.redirectUri.endsWith('/') ? 'with' : 'without'} a trailing slash`,
      ),
    );
  }
  results.push(
    webhookUrl
      ? ok('webhook URL', `set the Zoom app's Event notification endpoint URL and Deauthorization endpoint URL to "${webhookUrl}"`)
      : fail('webhook URL', (target.webhookUrl as { unknown: string }).unknown),
  );

  // 8. The return-URL allow-list.
  const bad = target.returnUrlAllowlist.filter((entry) => !isAllowedReturnEntry(entry, target.allowLoopbackHttp));
  if (target.returnUrlAllowlist.length === 0) results.push(fail('return URLs', 'the allow-list is empty: add your product\'s return URL(s).'));
  else if (bad.length > 0) {
    results.push(
      fail(
        'return URLs',
        `${bad.map((entry) => JSON.stringify(entry)).join(', ')} ${bad.length === 1 ? 'is not an https URL' : 'are not https URLs'}` +
          `${target.allowLoopbackHttp ? ' (or http on localhost)' : ''}: write each entry as https://host/path/.`,
      ),
    );
  } else results.push(ok('return URLs', `${target.returnUrlAllowlist.length} entr${target.returnUrlAllowlist.length === 1 ? 'y' : 'ies'}, all valid: ${target.returnUrlAllowlist.join(', ')}`));
  return results;
}

async function retrieveApp(target: DoctorTarget, fetchFn: typeof fetch): Promise<{ result: CheckResult; app?: RecallApp }> {
  const name = 'Recall API key';
  const key = target.secrets.recallApiKey;
  if (isUnset(key)) return { result: fail(name, `not checked: recallApiKey is not set in ${target.secretSource}.`) };
  const url = `${target.recallBaseUrl.replace(/\/+$/, '')}/api/v2/zoom-oauth-apps/${encodeURIComponent(target.recallAppId)}/`;
  let response: Response;
  try {
    response = await fetchFn(url, {
      headers: { authorization: `Token ${key}`, accept: 'application/json' },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error instanceof Error ? error.name : 'error');
    return { result: fail(name, `could not reach Recall at ${target.recallBaseUrl} (${cause}): check the network and ${target.recallChosenBy}.`) };
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    return {
      result: fail(
        name,
        `Recall at ${target.recallBaseUrl} refused the API key (HTTP ${response.status}): put an API key of the Recall workspace in ` +
          `that region in recallApiKey (each region is a separate workspace with its own keys).`,
      ),
    };
  }
  if (response.status === 404) {
    await response.body?.cancel();
    return {
      result: fail(
        name,
        `the key works, but Recall at ${target.recallBaseUrl} has no Zoom OAuth App ${target.recallAppId} (HTTP 404): the region ` +
          `(${target.recallChosenBy}) or the app id is wrong; the id is on the Recall dashboard's Zoom OAuth App page.`,
      ),
    };
  }
  if (!response.ok) {
    await response.body?.cancel();
    return { result: fail(name, `Recall at ${target.recallBaseUrl} answered HTTP ${response.status}: try again; if it persists, check Recall's status page.`) };
  }
  const parsed = RecallAppSchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) return { result: fail(name, `Recall at ${target.recallBaseUrl} answered 200 with something that is not a Zoom OAuth App.`) };
  return {
    result: ok(name, `Recall at ${target.recallBaseUrl} accepted the key and has Zoom OAuth App ${target.recallAppId}`),
    app: parsed.data,
  };
}

function isLoopbackUrl(value: string): boolean {
  return URL.canParse(value) && LOOPBACK_HOSTS.has(new URL(value).hostname);
}

function isAllowedReturnEntry(entry: string, allowLoopbackHttp: boolean): boolean {
  if (!URL.canParse(entry)) return false;
  const url = new URL(entry);
  if (url.username || url.password) return false;
  return url.protocol === 'https:' || (allowLoopbackHttp && url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
}

/** A local-mode target, and what to close after the checks (a sandbox started for them). */
export async function localTarget(env: NodeJS.ProcessEnv): Promise<{ target: DoctorTarget; close: () => Promise<void> }> {
  const parsed = parseLocalEnv(env);
  const servers = runningServers();
  const running = parsed.PORT !== undefined ? servers.find((server) => server.port === parsed.PORT) : servers.length === 1 ? servers[0] : undefined;
  const port = parsed.PORT ?? running?.port ?? 3000;
  const settings = resolveLocalSettings(parsed, port);
  const notes: string[] = [];
  let recallBaseUrl = settings.recall.baseUrl;
  let close = async (): Promise<void> => undefined;
  if (settings.recall.kind === 'sandbox') {
    if (running?.sandboxRecall) notes.push(`Checking local mode on port ${port}, with the sandbox Recall of the server running there.`);
    else {
      // Nothing runs on this port: the sandbox local mode would start, started here the same way.
      const sandbox = await startFakeRecall({
        apiKey: settings.recallApiKey,
        oauthApp: { id: settings.recallOAuthAppId, clientId: settings.zoomClientId, webhookSecret: settings.zoomWebhookSecretToken },
        ...settings.sandboxRecall,
      });
      recallBaseUrl = sandbox.url;
      close = () => sandbox.close();
      notes.push(`Checking local mode for port ${port} (npm start is not running there), with a sandbox Recall started for the check.`);
    }
  } else notes.push(`Checking local mode for port ${port}, with the Recall at ${settings.recall.baseUrl} (from ${settings.recall.chosenBy}).`);
  return {
    target: {
      secretSource: "local mode's settings (RECALL_API_KEY, ZOOM_CLIENT_ID, ZOOM_WEBHOOK_SECRET_TOKEN)",
      secrets: {
        recallApiKey: settings.recallApiKey,
        zoomClientId: settings.zoomClientId,
        zoomWebhookSecretToken: settings.zoomWebhookSecretToken,
      },
      recallBaseUrl,
      recallChosenBy: settings.recall.kind === 'sandbox' ? 'the built-in sandbox' : settings.recall.chosenBy,
      recallAppId: settings.recallOAuthAppId,
      redirectUri: settings.zoomRedirectUri,
      webhookUrl: `${settings.apiBaseUrl}${WEBHOOK_PATH}`,
      returnUrlAllowlist: settings.returnUrlAllowlist.split(',').map((entry) => entry.trim()).filter(Boolean),
      allowLoopbackHttp: true,
      externalRecall: settings.recall.kind === 'external',
      gatherFailures: [],
      notes,
    },
    close,
  };
}

/** The AWS calls a deployed check makes; tests mock the SDK clients behind them. */
export interface DeployedStackReader {
  outputs(stackName: string): Promise<Record<string, string> | undefined>;
  secretString(secretId: string): Promise<string | undefined>;
}

/** The SDK behind `DeployedStackReader`, imported only for a deployed check. */
export async function awsStackReader(region: string | undefined, profile: string | undefined): Promise<DeployedStackReader> {
  const [{ CloudFormationClient, DescribeStacksCommand }, { SecretsManagerClient, GetSecretValueCommand }] = await Promise.all([
    import('@aws-sdk/client-cloudformation'),
    import('@aws-sdk/client-secrets-manager'),
  ]);
  if (profile) process.env.AWS_PROFILE = profile;
  const config = region ? { region } : {};
  const cloudFormation = new CloudFormationClient(config);
  const secretsManager = new SecretsManagerClient(config);
  return {
    async outputs(stackName) {
      try {
        const { Stacks } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
        const stack = Stacks?.[0];
        if (!stack) return undefined;
        return Object.fromEntries((stack.Outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])));
      } catch (error) {
        if (error instanceof Error && /does not exist/.test(error.message)) return undefined;
        throw error;
      }
    },
    async secretString(secretId) {
      const { SecretString } = await secretsManager.send(new GetSecretValueCommand({ SecretId: secretId }));
      return SecretString;
    },
  };
}

/** A deployed stack's target: the config file's settings, the stack's outputs and its three filled secrets. */
export async function deployedTarget(config: DeployConfig, aws: DeployedStackReader): Promise<DoctorTarget> {
  const gatherFailures: CheckResult[] = [];
  const notes = [`Checking stack ${config.stackName}${config.awsRegion ? ` in ${config.awsRegion}` : ''} (Recall ${config.recallRegion}).`];
  let outputs: Record<string, string> | undefined;
  try {
    outputs = await aws.outputs(config.stackName);
    if (!outputs) gatherFailures.push(fail('stack', `no stack ${config.stackName} in this account and region: deploy it (npm run deploy -- --config <file>), or check AWS_PROFILE / awsRegion.`));
  } catch (error) {
    gatherFailures.push(fail('stack', `could not read stack ${config.stackName} (${errorName(error)}): check your AWS credentials and region.`));
  }
  // One secret per value (each function may read only its own): the stack's outputs name them, else the prefix does.
  const secretNames = Object.fromEntries(
    FILLED_SECRET_NAMES.map((name) => [
      name,
      outputs?.[FILLED_SECRET_OUTPUTS[name]] ?? filledSecretName(config.secretNamePrefix, name),
    ]),
  ) as Record<FilledSecret, string>;
  const secretSource = `the secrets ${config.secretNamePrefix}/*`;
  const secrets: DoctorTarget['secrets'] = {};
  for (const name of FILLED_SECRET_NAMES) {
    try {
      secrets[name] = await aws.secretString(secretNames[name]);
    } catch (error) {
      gatherFailures.push(
        fail(
          `secret ${name}`,
          `could not read ${secretNames[name]} (${errorName(error)}): check that it exists and that you may read it.`,
        ),
      );
    }
  }
  const notDeployed = (what: string) => ({ unknown: `not known: ${what} comes from the deployed stack, which could not be read.` });
  const derivedRedirect = config.zoomRedirectUri ?? (config.customDomain ? `https://${config.customDomain.domainName}${CALLBACK_PATH}` : undefined);
  return {
    secretSource,
    secrets,
    recallBaseUrl: recallBaseUrlFor(config.recallRegion),
    recallChosenBy: `recallRegion ${config.recallRegion}`,
    recallAppId: config.recallZoomOAuthAppId,
    redirectUri: outputs?.ZoomRedirectUri ?? derivedRedirect ?? notDeployed('the redirect URI (the API\'s execute-api URL)'),
    webhookUrl: outputs?.ZoomWebhookUrl ?? notDeployed('the webhook URL'),
    returnUrlAllowlist: config.returnUrlAllowlist,
    allowLoopbackHttp: false,
    externalRecall: true,
    gatherFailures,
    notes,
  };
}

/** An error's name or code only: AWS messages may quote ARNs and policy text, never needed here. */
function errorName(error: unknown): string {
  if (error instanceof Error) return error.name === 'Error' && 'code' in error ? String((error as { code: unknown }).code) : error.name;
  return 'error';
}

export interface DoctorIo {
  env: NodeJS.ProcessEnv;
  /** The directory relative paths are the caller's from. */
  cwd: string;
  out: (line: string) => void;
  err: (line: string) => void;
  /** For a deployed check; default the AWS SDK. */
  stackReader?: (region: string | undefined, profile: string | undefined) => Promise<DeployedStackReader>;
  /** For the call to Recall; default the global fetch. */
  fetch?: typeof fetch;
  /** Overrides the Recall base URL a deployed check calls (tests: a local fake). */
  recallBaseUrl?: string;
}

/** The whole command. @returns the exit code */
export async function doctor(argv: readonly string[], io: DoctorIo): Promise<number> {
  let values: { local?: boolean; config?: string; profile?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { local: { type: 'boolean' }, config: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    if (Boolean(values.local) === (values.config !== undefined)) throw new DoctorUsageError('Give either --local or --config <file>.');
    if (values.local && values.profile) throw new DoctorUsageError('--profile goes with --config.');
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : 'Invalid arguments.'}\n\n${USAGE}`);
    return 2;
  }

  let target: DoctorTarget;
  let close = async (): Promise<void> => undefined;
  if (values.local) {
    try {
      ({ target, close } = await localTarget(io.env));
    } catch (error) {
      if (!(error instanceof LocalConfigError)) throw error;
      io.err(error.message);
      return 2;
    }
  } else {
    const configFile = values.config as string;
    if (!existsSync(path.resolve(io.cwd, configFile))) {
      io.err(`No such config file: ${configFile}.\n\n${USAGE}`);
      return 2;
    }
    let config: DeployConfig;
    try {
      config = validateDeployConfig(configFile, (file) => readFileSync(path.resolve(io.cwd, file), 'utf8'));
    } catch (error) {
      if (error instanceof InvalidDeployConfigError) {
        io.out(formatCheck(fail('deploy config', `${error.message.replace(/\s*\n\s*/g, ' ')} (npm run deploy checks the file the same way)`)));
        return 1;
      }
      io.err(`Could not read ${configFile}: ${errorName(error)}.\n\n${USAGE}`);
      return 2;
    }
    const reader = await (io.stackReader ?? awsStackReader)(config.awsRegion, values.profile);
    target = await deployedTarget(config, reader);
    if (io.recallBaseUrl) target.recallBaseUrl = io.recallBaseUrl;
  }
  try {
    for (const note of target.notes) io.out(note);
    const results = await runChecks(target, io.fetch);
    for (const result of results) io.out(formatCheck(result));
    const failed = results.filter((result) => !result.ok).length;
    io.out(failed === 0 ? `All ${results.length} checks passed.` : `${failed} of ${results.length} checks failed.`);
    return failed === 0 ? 0 : 1;
  } finally {
    await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  doctor(process.argv.slice(2), {
    env: process.env,
    // npm runs scripts in the project root and keeps the caller's directory in INIT_CWD.
    cwd: process.env.INIT_CWD ?? process.cwd(),
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  }).then(exitAfterOutput, (error: unknown) => {
    console.error(`The doctor could not finish: ${errorName(error)}.`);
    exitAfterOutput(2);
  });
}
