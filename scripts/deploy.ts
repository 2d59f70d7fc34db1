/**
 * `npm run deploy -- --config deploy/prod.json [--profile p] [any other cdk deploy argument]`
 *
 * Validates the deployment's config file with the schema the app uses at synth (lib/config.ts), before any AWS
 * call, then runs `npx cdk deploy -c configFile=<file>` with the other arguments; bin/app.ts reads the file and
 * lays it over cdk.json's context. Exit code 2 for a usage or config error (cdk never ran), else cdk's own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CONFIG_FILE_CONTEXT_KEY,
  DEPLOY_CONFIG_KEYS,
  type DeployConfig,
  InvalidDeployConfigError,
  resolveDeployConfig,
} from '../lib/config.js';
import { FILLED_SECRET_NAMES, FILLED_SECRETS } from '../functions/core/filled-secrets.js';
import { CALLBACK_PATH } from '../functions/core/routes.js';
import { filledSecretName } from '../lib/stack-outputs.js';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

export const USAGE = `Usage: npm run deploy -- --config <file> [--profile <profile>] [other cdk deploy arguments]

  --config <file>   the deployment's config file (JSON), e.g. deploy/prod.json; see deploy/example.config.json.
                    Its keys override cdk.json's context. Validated before cdk runs.
  --profile <name>  AWS profile to deploy with (passed to cdk).
  anything else     passed to cdk deploy as is, e.g. --require-approval never, --outputs-file out.json.

Config keys go in the file, not in -c key=value: the file is the deployment's record of what it runs with.`;

/** A mistake in how the script was called or in the config file: the message says what to fix. */
export class DeployUsageError extends Error {
  override readonly name = 'DeployUsageError';
}

export interface DeployArgs {
  /** The config file as given. */
  readonly configFile: string;
  /** Everything to pass on to `cdk deploy`, `--profile` included. */
  readonly cdkArgs: readonly string[];
}

/**
 * Splits the script's arguments into the config file and the rest, which go to cdk.
 * @param argv - the arguments after `npm run deploy --`
 * @returns the arguments, or `help` for `--help`/`-h`
 * @throws DeployUsageError for a missing or repeated `--config`, a `--profile` without a name, or a `-c` that
 *   sets a config key (which the file would silently override)
 */
export function parseDeployArgs(argv: readonly string[]): DeployArgs | 'help' {
  let configFile: string | undefined;
  const cdkArgs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--config' || arg.startsWith('--config=')) {
      const value = arg === '--config' ? argv[++i] : arg.slice('--config='.length);
      if (!value || value.startsWith('-')) throw new DeployUsageError('--config needs a file, e.g. --config deploy/prod.json');
      if (configFile !== undefined) throw new DeployUsageError('--config given twice: one deployment, one config file');
      configFile = value;
      continue;
    }
    if (arg === '--profile') {
      const value = argv[i + 1];
      if (!value || value.startsWith('-')) throw new DeployUsageError('--profile needs a profile name, e.g. --profile prod');
      cdkArgs.push(arg, value);
      i++;
      continue;
    }
    if (arg === '-c' || arg === '--context' || arg.startsWith('--context=')) {
      const value = arg.startsWith('--context=') ? arg.slice('--context='.length) : argv[i + 1];
      const key = value?.split('=')[0] ?? '';
      if (DEPLOY_CONFIG_KEYS.includes(key) || key === CONFIG_FILE_CONTEXT_KEY) {
        throw new DeployUsageError(`${arg} ${value}: set ${key} in the config file instead (the file's values override -c)`);
      }
    }
    cdkArgs.push(arg);
  }
  if (configFile === undefined) {
    throw new DeployUsageError('--config <file> is required: the deployment\'s config file, e.g. --config deploy/prod.json');
  }
  return { configFile, cdkArgs };
}

/**
 * Validates the config file exactly as the app will at synth: cdk.json's context, with the file over it.
 * @param configFile - the file, relative to the working directory or absolute
 * @param readFile - reads a file as UTF-8 (tests inject one)
 * @throws InvalidDeployConfigError naming every problem
 */
export function validateDeployConfig(
  configFile: string,
  readFile: (file: string) => string = (file) => readFileSync(file, 'utf8'),
): DeployConfig {
  const cdkJson = JSON.parse(readFile(path.join(PROJECT_ROOT, 'cdk.json'))) as { context?: Record<string, unknown> };
  return resolveDeployConfig({ ...cdkJson.context, [CONFIG_FILE_CONTEXT_KEY]: configFile }, readFile);
}

/**
 * The cdk command line. The file goes by absolute path, so the app finds it whatever directory cdk runs it in.
 * @param args - parsed arguments
 * @param cwd - the directory the script was started in
 */
export function cdkDeployCommand(args: DeployArgs, cwd: string): { command: string; args: string[] } {
  return {
    command: 'npx',
    args: ['cdk', 'deploy', '-c', `${CONFIG_FILE_CONTEXT_KEY}=${path.resolve(cwd, args.configFile)}`, ...args.cdkArgs],
  };
}

/** One line of what is about to be deployed, with no secret in it (the config holds none). */
export function describeDeployment(config: DeployConfig): string {
  const target = config.awsAccountId || config.awsRegion
    ? ` to ${config.awsAccountId ?? 'the profile\'s account'} / ${config.awsRegion ?? 'the profile\'s region'}`
    : ' to the account and region of your AWS profile';
  return `Deploying stack ${config.stackName}${target}: Recall ${config.recallRegion}, OAuth App ${config.recallZoomOAuthAppId}, ` +
    `redirect URI ${config.zoomRedirectUri ?? (config.customDomain ? `https://${config.customDomain.domainName}${CALLBACK_PATH}` : 'on the execute-api URL')}, ` +
    `alarms to ${config.alarmTopicArn ?? config.alarmEmail ?? 'a topic with no subscriber'}.`;
}

export interface DeployIo {
  /** Where relative paths are resolved: the directory `npm run` was started in. */
  readonly cwd: string;
  readonly readFile?: (file: string) => string;
  /** Runs the command with the terminal attached; returns its exit code. */
  readonly run: (command: string, args: readonly string[]) => number;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/**
 * The whole script: arguments, validation, then cdk. Never runs cdk with an invalid config.
 * @returns the process exit code
 */
export function deploy(argv: readonly string[], io: DeployIo): number {
  let args: DeployArgs;
  let config: DeployConfig;
  try {
    const parsed = parseDeployArgs(argv);
    if (parsed === 'help') {
      io.out(USAGE);
      return 0;
    }
    args = parsed;
    const read = io.readFile ?? ((file: string) => readFileSync(file, 'utf8'));
    // Relative paths are the caller's, not the project's: errors then name the file as it was typed.
    config = validateDeployConfig(args.configFile, (file) => read(path.resolve(io.cwd, file)));
  } catch (error) {
    if (error instanceof DeployUsageError || error instanceof InvalidDeployConfigError) {
      io.err(error.message);
      if (error instanceof DeployUsageError) io.err(`\n${USAGE}`);
      return 2;
    }
    throw error;
  }
  io.out(describeDeployment(config));
  const { command, args: commandArgs } = cdkDeployCommand(args, io.cwd);
  const status = io.run(command, commandArgs);
  if (status === 0) io.out(secretsToFill(config));
  return status;
}

/**
 * What to fill in after a deploy: the three secrets this configuration names (the stack's ...SecretName outputs),
 * each to hold one bare value; each function reads only the ones it needs.
 */
export function secretsToFill(config: Pick<DeployConfig, 'secretNamePrefix'>): string {
  const lines = FILLED_SECRET_NAMES.map(
    (name) => `  ${filledSecretName(config.secretNamePrefix, name)}: ${FILLED_SECRETS[name].what}`,
  );
  return [
    'Secrets to fill in once, each with its bare value (docs/operating.md, Deploy, step 6); until then they hold REPLACE_ME:',
    ...lines,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = deploy(process.argv.slice(2), {
    // npm runs scripts in the project root and keeps the caller's directory in INIT_CWD.
    cwd: process.env.INIT_CWD ?? process.cwd(),
    run: (command, args) => {
      const result = spawnSync(command, args, { stdio: 'inherit', shell: process.platform === 'win32' });
      if (result.error) {
        console.error(`Could not run ${command}: ${result.error.message}`);
        return 1;
      }
      return result.status ?? 1;
    },
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}
