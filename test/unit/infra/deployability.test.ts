import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertSupportedRegion, type LogLevel, parseDeployConfig, SUPPORTED_REGIONS } from '../../../lib/config.js';
import { projectPath, secretsExtension, ServiceFunction } from '../../../lib/constructs/service-function.js';
import { RecallZoomConnectStack } from '../../../lib/recall-zoom-connect-stack.js';
import { CDK_JSON_CONTEXT, DEPLOYABLE, defaultStack, logicalId, SYNTH_TIMEOUT_MS, type Synthesized, synthesize } from './helpers.js';

/*
 * What makes a first `cdk deploy` safe to fail and retry, and what keeps the alarms fed whatever the log level.
 */
describe('a failed first deploy can be retried', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = defaultStack();
  }, SYNTH_TIMEOUT_MS);

  it('retains nothing a rolled-back create leaves behind: every retained resource is RetainExceptOnCreate', () => {
    const resources = synthesized.template.toJSON().Resources as Record<
      string,
      { Type: string; DeletionPolicy?: string; UpdateReplacePolicy?: string }
    >;
    const kept = Object.entries(resources).filter(([, resource]) => (resource.DeletionPolicy ?? 'Delete') !== 'Delete');
    for (const [id, resource] of kept) {
      // A plain Retain would leave the resource behind when the first create rolls back, and the retry then fails.
      expect({ id, policy: resource.DeletionPolicy }).toEqual({ id, policy: 'RetainExceptOnCreate' });
      expect({ id, policy: resource.UpdateReplacePolicy }).toEqual({ id, policy: 'Retain' });
    }
    const { state, api, jobs, outbox } = synthesized.stack;
    const logGroups = Object.keys(synthesized.template.findResources('AWS::Logs::LogGroup'));
    // Exactly what must outlive the stack: the table, the secrets ops fill in, and every log group.
    expect(kept.map(([id]) => id).sort()).toEqual(
      [logicalId(state.table), ...state.createdSecrets.map((secret) => logicalId(secret)), ...logGroups].sort(),
    );
    // Every function's log group and the API's access logs.
    const fns = [api.authorizeFunction, api.callbackFunction, api.connectionsFunction, api.webhookFunction];
    expect(logGroups).toHaveLength(
      fns.length + [jobs.webhookWorkerFunction, jobs.healthSyncFunction, jobs.reconcile.fn, outbox.fn].length + 1,
    );
  });
});

describe("Lambda's log filter never drops the custom metrics", () => {
  /** One function at each Powertools level, in a throwaway stack (not bundled). */
  let template: Template;
  const levels: LogLevel[] = ['DEBUG', 'INFO', 'WARN', 'ERROR'];

  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Levels');
    for (const logLevel of levels) {
      new ServiceFunction(stack, `At${logLevel}`, {
        entry: projectPath('functions/handlers/authorize/handler.ts'),
        description: `at ${logLevel}`,
        logLevel,
      });
    }
    template = Template.fromStack(stack);
  }, SYNTH_TIMEOUT_MS);

  it.each(levels)('keeps the Lambda application log level at INFO or below with Powertools at %s', (logLevel) => {
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: `at ${logLevel}` } }));
    // Embedded-metric-format lines carry no level: a Lambda filter at WARN or ERROR would drop every metric.
    expect(fn?.Properties.LoggingConfig.ApplicationLogLevel).toBe(logLevel === 'DEBUG' ? 'DEBUG' : 'INFO');
    expect(fn?.Properties.LoggingConfig.SystemLogLevel).toBe('INFO');
    // Powertools filters the service's own lines at the configured level.
    expect(fn?.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe(logLevel);
  });
});

describe('the whole stack at logLevel WARN', () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({ ...DEPLOYABLE, logLevel: 'WARN' });
  }, SYNTH_TIMEOUT_MS);

  it('quiets only Powertools: every function still lets the metric lines through Lambda\'s filter', () => {
    const functions = Object.values(synthesized.template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(8);
    for (const fn of functions) {
      expect(fn.Properties.LoggingConfig.ApplicationLogLevel).toBe('INFO');
      expect(fn.Properties.Environment.Variables.POWERTOOLS_LOG_LEVEL).toBe('WARN');
    }
  });
});

describe('regions the stack deploys to', () => {
  it('lists the regions where CDK knows the extension layer, and refuses any other awsRegion at synth with the list', () => {
    expect(SUPPORTED_REGIONS).toContain('us-east-1');
    expect(SUPPORTED_REGIONS).toContain('eu-central-1');
    expect(SUPPORTED_REGIONS).not.toContain('eu-central-2');
    // Every Recall region is one the stack can run in, though the two are configured apart.
    for (const region of ['us-east-1', 'us-west-2', 'eu-central-1', 'ap-northeast-1']) expect(SUPPORTED_REGIONS).toContain(region);

    expect(() => parseDeployConfig({ ...DEPLOYABLE, awsRegion: 'eu-central-2' })).toThrow(
      new RegExp(`awsRegion eu-central-2 is not a region this stack deploys to.*Parameters and Secrets.*${SUPPORTED_REGIONS.join(', ')}`, 's'),
    );
    expect(parseDeployConfig({ ...DEPLOYABLE, awsRegion: 'ap-southeast-3' }).awsRegion).toBe('ap-southeast-3');
  });

  it('refuses a profile region the stack cannot deploy to, and accepts a listed one', () => {
    expect(() => assertSupportedRegion('eu-central-2', 'The region of your AWS profile')).toThrow(
      /The region of your AWS profile eu-central-2 is not a region this stack deploys to.*us-east-1/s,
    );
    expect(() => assertSupportedRegion('eu-west-1', 'The region of your AWS profile')).not.toThrow();
  });

  it('refuses a stack pinned to an unlisted region before CDK looks the layer up, naming the list', () => {
    const app = new App({ context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const config = parseDeployConfig({ ...CDK_JSON_CONTEXT });
    expect(
      () => new RecallZoomConnectStack(app, 'Zurich', { env: { account: '123456789012', region: 'eu-central-2' }, config }),
    ).toThrow(/The stack region eu-central-2 is not a region this stack deploys to/);
  });

  it('resolves the pinned extension layer to a literal ARN of that very region in every listed region', () => {
    for (const region of SUPPORTED_REGIONS) {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, `In-${region}`, { env: { account: '123456789012', region } });
      new ServiceFunction(stack, 'Fn', {
        entry: projectPath('functions/handlers/authorize/handler.ts'),
        description: 'with the extension',
        paramsAndSecrets: secretsExtension(),
      });
      const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
      const layers = fn?.Properties.Layers as unknown[];
      expect(layers).toHaveLength(1);
      expect(layers[0]).toMatch(new RegExp(`^arn:aws:lambda:${region}:\\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\\d+$`));
    }
  }, SYNTH_TIMEOUT_MS);
});

describe("docs/operating.md's Deploy section, against the synthesized stack", () => {
  const operating = readFileSync(projectPath('docs/operating.md'), 'utf8');
  const section = (heading: string, next: string) => {
    const start = operating.indexOf(heading);
    const end = operating.indexOf(next, start);
    if (start < 0 || end < 0) throw new Error(`docs/operating.md has no section from ${JSON.stringify(heading)} to ${JSON.stringify(next)}.`);
    return operating.slice(start, end);
  };
  const deploySection = section('\n## Deploy\n', '\n## Operations\n');
  const alarmsSection = section('\n### Alarms\n', '\n### Logs\n');
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = defaultStack();
  }, SYNTH_TIMEOUT_MS);

  it('lists every output the stack has, and only outputs it has', () => {
    const outputs = Object.keys(synthesized.template.toJSON().Outputs as object);
    for (const name of outputs) expect(deploySection, name).toContain(`\`${name}\``);
    // Output-like names the steps and commands rely on (`FooName`, `<FooArn>`, ...) are real outputs; the custom
    // domain adds CustomDomainTarget, eventsEndpoint the three Events* outputs (product-access.test.ts asserts those).
    const mentioned = new Set(
      [...`${deploySection}${alarmsSection}`.matchAll(/[`<]([A-Z][A-Za-z]+(?:Name|Arn|Url|Uri|Endpoint|Target))[`>]/g)].map((match) => match[1]),
    );
    const optional = ['CustomDomainTarget', 'EventsHeaderSecretArn', 'EventsConnectionName', 'EventsDeadLetterQueueUrl'];
    expect([...mentioned].filter((name) => !outputs.includes(name as string) && !optional.includes(name as string))).toEqual([]);
  });

  it('bootstraps a named account and region', () => {
    expect(deploySection).toContain('npx cdk bootstrap aws://<awsAccountId>/<awsRegion>');
  });

  it('redrives the webhook dead letters from an output the stack has', () => {
    const command = /aws sqs start-message-move-task --source-arn <(\w+)>/.exec(alarmsSection);
    expect(command?.[1]).toBe('WebhookDeadLetterQueueArn');
    synthesized.template.hasOutput('WebhookDeadLetterQueueArn', {
      Value: { 'Fn::GetAtt': [logicalId(synthesized.stack.messaging.webhookDeadLetterQueue), 'Arn'] },
    });
  });

  it('counts the alarms the template has', () => {
    const alarms = Object.keys(synthesized.template.findResources('AWS::CloudWatch::Alarm')).length;
    expect(alarmsSection).toContain(`${alarms} alarms:`);
    expect(deploySection).toContain(`${alarms} alarms`);
  });

  it('fills exactly the secrets the stack creates for ops to fill', () => {
    const fill = /for s in (<\w+> <\w+> <\w+>); do\n\s+read/.exec(deploySection)?.[1];
    expect(fill).toBe('<RecallApiKeySecretName> <ZoomClientIdSecretName> <ZoomWebhookSecretTokenSecretName>');
    expect(synthesized.stack.state.createdSecrets).toHaveLength(3);
  });
});

describe('the list of regions, where ops read it', () => {
  it('is written out in full in cdk.json and docs/operating.md, so an upgrade of CDK that changes it shows here', () => {
    const notes = String(CDK_JSON_CONTEXT['//awsRegion']);
    const operating = readFileSync(projectPath('docs/operating.md'), 'utf8');
    const configRow = operating.split('\n').find((line) => line.startsWith('| `awsAccountId` / `awsRegion`')) ?? '';
    expect(notes).toContain(SUPPORTED_REGIONS.join(', '));
    expect(configRow).toContain(`${SUPPORTED_REGIONS.length} regions: ${SUPPORTED_REGIONS.map((region) => `\`${region}\``).join(', ')}`);
  });
});
