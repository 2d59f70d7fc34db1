import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectPath } from '../../../lib/constructs/service-function.js';
import {
  cdkDeployCommand,
  deploy,
  DeployUsageError,
  describeDeployment,
  parseDeployArgs,
  validateDeployConfig,
} from '../../../scripts/deploy.js';

const VALID = JSON.stringify({
  recallZoomOAuthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  returnUrlAllowlist: ['https://app.acme.test/settings/'],
  stackName: 'RecallZoomConnect-prod',
  alarmEmail: 'oncall@acme.test',
});

/** Runs the script against files in memory (cdk.json read from disk), recording what it would have run. */
function run(argv: string[], files: Record<string, string> = {}, cwd = '/home/ops/project') {
  const runs: { command: string; args: readonly string[] }[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const code = deploy(argv, {
    cwd,
    readFile: (file) => {
      if (file === projectPath('cdk.json')) return JSON.stringify({ context: { logLevel: 'INFO' } });
      const content = files[file];
      if (content === undefined) throw Object.assign(new Error(`ENOENT ${file}`), { code: 'ENOENT' });
      return content;
    },
    run: (command, args) => {
      runs.push({ command, args });
      return 0;
    },
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, runs, out: out.join('\n'), err: err.join('\n') };
}

describe('parseDeployArgs', () => {
  it('takes the config file and passes everything else, --profile included, to cdk', () => {
    expect(parseDeployArgs(['--config', 'deploy/prod.json', '--profile', 'prod', '--require-approval', 'never'])).toEqual({
      configFile: 'deploy/prod.json',
      cdkArgs: ['--profile', 'prod', '--require-approval', 'never'],
    });
    expect(parseDeployArgs(['--config=deploy/prod.json'])).toEqual({ configFile: 'deploy/prod.json', cdkArgs: [] });
  });

  it('lets a -c that sets no config key through (a CDK feature flag, say)', () => {
    expect(parseDeployArgs(['--config', 'c.json', '-c', '@aws-cdk/core:newStyleStackSynthesis=true'])).toEqual({
      configFile: 'c.json',
      cdkArgs: ['-c', '@aws-cdk/core:newStyleStackSynthesis=true'],
    });
  });

  it('answers help', () => {
    expect(parseDeployArgs(['--help'])).toBe('help');
    expect(parseDeployArgs(['--config', 'c.json', '-h'])).toBe('help');
  });

  it.each([
    ['no --config', [], '--config <file> is required'],
    ['--config without a file', ['--config'], '--config needs a file'],
    ['--config followed by a flag', ['--config', '--profile', 'p'], '--config needs a file'],
    ['two config files', ['--config', 'a.json', '--config=b.json'], '--config given twice'],
    ['--profile without a name', ['--config', 'c.json', '--profile'], '--profile needs a profile name'],
    ['a config key set with -c', ['--config', 'c.json', '-c', 'logLevel=DEBUG'], 'set logLevel in the config file instead'],
    ['a config key set with --context=', ['--config', 'c.json', '--context=recallRegion=eu-central-1'], 'set recallRegion in the config file instead'],
    ['another config file through -c', ['--config', 'c.json', '-c', 'configFile=other.json'], 'set configFile in the config file instead'],
  ])('rejects %s', (_case, argv, message) => {
    expect(() => parseDeployArgs(argv)).toThrow(DeployUsageError);
    expect(() => parseDeployArgs(argv)).toThrow(message);
  });
});

describe('cdkDeployCommand', () => {
  it('runs npx cdk deploy with the config file by absolute path, then the other arguments', () => {
    expect(cdkDeployCommand({ configFile: 'deploy/prod.json', cdkArgs: ['--profile', 'prod'] }, '/home/ops/project')).toEqual({
      command: 'npx',
      args: ['cdk', 'deploy', '-c', `configFile=${path.resolve('/home/ops/project', 'deploy/prod.json')}`, '--profile', 'prod'],
    });
  });
});

describe('validateDeployConfig', () => {
  it('validates the file over the real cdk.json, as the app will', () => {
    const config = validateDeployConfig('prod.json', (file) => (file === 'prod.json' ? VALID : readFileSync(file, 'utf8')));
    // From cdk.json, since the file does not set them:
    expect(config).toMatchObject({ recallRegion: 'us-east-1', throttleRateLimit: 50, stackName: 'RecallZoomConnect-prod' });
  });
});

describe('deploy', () => {
  it('runs cdk deploy once the file validates, after saying what it deploys', () => {
    const result = run(['--config', 'deploy/prod.json', '--profile', 'prod'], {
      '/home/ops/project/deploy/prod.json': VALID,
    });
    expect(result.code).toBe(0);
    expect(result.runs).toEqual([
      {
        command: 'npx',
        args: ['cdk', 'deploy', '-c', 'configFile=/home/ops/project/deploy/prod.json', '--profile', 'prod'],
      },
    ]);
    expect(result.out).toMatch(/^Deploying stack RecallZoomConnect-prod .*alarms to oncall@acme\.test\./);
  });

  it('names the three secrets to fill in after a successful deploy, under the configured prefix', () => {
    const result = run(['--config', 'deploy/prod.json'], {
      '/home/ops/project/deploy/prod.json': JSON.stringify({ ...JSON.parse(VALID), secretNamePrefix: 'rzc/prod' }),
    });
    expect(result.code).toBe(0);
    expect(result.out.split('\n').slice(1)).toEqual([
      'Secrets to fill in once, each with its bare value (docs/operating.md, Deploy, step 6); until then they hold REPLACE_ME:',
      '  rzc/prod/recall-api-key: the Recall API key',
      "  rzc/prod/zoom-client-id: the Zoom app's client id",
      "  rzc/prod/zoom-webhook-secret-token: the Zoom app's Secret Token",
    ]);
  });

  it('returns cdk\'s exit code, and lists no secrets to fill in when cdk failed', () => {
    const out: string[] = [];
    const code = deploy(['--config', '/abs/c.json'], {
      cwd: '/',
      readFile: (file) => (file === '/abs/c.json' ? VALID : JSON.stringify({ context: {} })),
      run: () => 3,
      out: (line) => out.push(line),
      err: () => {},
    });
    expect(code).toBe(3);
    expect(out.join('\n')).not.toContain('Secrets to fill in');
  });

  it('exits 2 without running cdk when the config is invalid, naming the file and each problem', () => {
    const result = run(['--config', 'deploy/prod.json'], {
      '/home/ops/project/deploy/prod.json': JSON.stringify({
        ...JSON.parse(VALID),
        recallRegion: 'eu-west-1',
        zoomRedirectUri: 'https://connect.acme.test/zoom/callback/',
      }),
    });
    expect(result.code).toBe(2);
    expect(result.runs).toEqual([]);
    expect(result.err).toContain("Invalid deploy configuration (deploy/prod.json over cdk.json's context)");
    expect(result.err).toContain('→ at recallRegion');
    expect(result.err).toContain('trailing slash');
  });

  it('exits 2 without running cdk for a missing file or an unknown key', () => {
    const missing = run(['--config', 'deploy/nope.json']);
    expect(missing).toMatchObject({ code: 2, runs: [] });
    expect(missing.err).toContain('Invalid deploy configuration file deploy/nope.json: no such file');

    const typo = run(['--config', 'c.json'], { '/home/ops/project/c.json': JSON.stringify({ ...JSON.parse(VALID), logLevl: 'DEBUG' }) });
    expect(typo).toMatchObject({ code: 2, runs: [] });
    expect(typo.err).toContain('unknown key "logLevl" (did you mean "logLevel"?)');
  });

  it('exits 2 with the usage for a usage error, and 0 with it for --help, running nothing', () => {
    const usage = run(['--profile', 'prod']);
    expect(usage).toMatchObject({ code: 2, runs: [] });
    expect(usage.err).toContain('Usage: npm run deploy -- --config <file>');
    const help = run(['--help']);
    expect(help).toMatchObject({ code: 0, runs: [] });
    expect(help.out).toContain('Usage: npm run deploy');
  });
});

describe('describeDeployment', () => {
  it('names the stack, the pinned account and region, the redirect URI and where alarms go', () => {
    const config = validateDeployConfig(projectPath('deploy/example.config.json'));
    expect(describeDeployment(config)).toBe(
      'Deploying stack RecallZoomConnect-prod to 123456789012 / eu-central-1: Recall eu-central-1, OAuth App 2d40abfe-c692-4723-b26f-869ebfbde4cf, ' +
        'redirect URI https://connect.acme-corp.example/zoom/callback, alarms to oncall@acme-corp.example.',
    );
  });
});
