import { readFileSync } from 'node:fs';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { beforeAll, expect } from 'vitest';
import { InvalidDeployConfigError, parseDeployConfig, resolveDeployConfig } from '../../../lib/config.js';
import { projectPath } from '../../../lib/constructs/service-function.js';
import { RecallZoomConnectStack } from '../../../lib/recall-zoom-connect-stack.js';

/** The context cdk.json ships with, so the tests synthesize the stack `cdk synth` does. */
export const CDK_JSON_CONTEXT = JSON.parse(readFileSync(projectPath('cdk.json'), 'utf8')).context as Record<string, unknown>;

/** A configuration with the placeholders replaced, as a real deployment has. */
export const DEPLOYABLE = {
  recallZoomOAuthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  returnUrlAllowlist: ['https://app.acme.test/settings/'],
} as const;

export interface Synthesized {
  app: App;
  stack: RecallZoomConnectStack;
  template: Template;
}

/**
 * Builds the app as bin/app.ts does (the config resolved from the context), under the stack name `Test`.
 * @param overrides - context on top of cdk.json's
 * @param bundle - run esbuild; only one synth per test file may, since bundling eight functions takes seconds
 */
export function synthesize(overrides: Record<string, unknown> = {}, bundle = false): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, ...overrides, ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
  const stack = new RecallZoomConnectStack(app, 'Test', { config: resolveDeployConfig(app.node.getAllContext()) });
  return { app, stack, template: Template.fromStack(stack) };
}

/**
 * Timeout of a hook that synthesizes. A synth takes seconds on an idle machine; on a loaded 2-core machine (two test
 * runs side by side, other builds) several times that. A slow synth is not a failure; only a stuck one is.
 */
export const SYNTH_TIMEOUT_MS = 180_000;

let sharedDefault: Synthesized | undefined;

/**
 * The stack `cdk synth` builds from cdk.json (unbundled), built on first use and shared by every infrastructure test
 * file in this worker (the infra project shares one module registry per worker): read it, never change it.
 */
export function defaultStack(): Synthesized {
  sharedDefault ??= synthesize();
  return sharedDefault;
}

/** The cdk.json stack (`defaultStack()`) with what most of its tests read first: its template and each function's id. */
export interface CdkJsonStack {
  readonly synthesized: Synthesized;
  readonly template: Template;
  readonly fns: Record<FunctionName, string>;
}

/**
 * The cdk.json stack for the tests of the calling `describe`: a `beforeAll` (with the synth timeout) fills the object
 * it returns, so read it in tests and hooks, never while the tests are being collected.
 */
export function useCdkJsonStack(): CdkJsonStack {
  const fixture: { -readonly [K in keyof CdkJsonStack]?: CdkJsonStack[K] } = {};
  beforeAll(() => {
    const synthesized = defaultStack();
    Object.assign(fixture, { synthesized, template: synthesized.template, fns: functionIds(synthesized.stack) });
  }, SYNTH_TIMEOUT_MS);
  return fixture as CdkJsonStack;
}

/** The two keys without a default: a context of only these is the smallest valid deploy config. */
export const REQUIRED_CONTEXT = {
  recallZoomOAuthAppId: '2d40abfe-c692-4723-b26f-869ebfbde4cf',
  returnUrlAllowlist: ['https://app.example.com/settings/'],
};

/** The error message parseDeployConfig throws for this context (on top of the required keys). */
export function problemsWith(context: Record<string, unknown>): string {
  try {
    parseDeployConfig({ ...REQUIRED_CONTEXT, ...context });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidDeployConfigError);
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be rejected');
}

/** Unacknowledged findings of both cdk-nag packs bin/app.ts runs, over the whole app. */
export function nagViolations(app: App): { rule: string; paths: string[] }[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack.validateScope(app).violations.map((violation) => ({
      rule: violation.ruleName,
      paths: violation.violatingResources.map((resource) => resource.constructPath ?? ''),
    })),
  );
}

/**
 * What both packs would report if nothing were acknowledged: each acknowledgement must match one of these
 * exactly (same rule, same resource), or it is too broad or no longer needed.
 */
export function findingsIgnoringAcknowledgements(app: App): { id: string; path: string }[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) => {
    // The pack's own lookup of acknowledgements (private); without it, every finding is reported.
    Object.defineProperty(pack, 'isAcknowledged', { value: () => false });
    return pack.validateScope(app).violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => ({ id: violation.ruleName, path: resource.constructPath ?? '' })),
    );
  });
}

export const logicalId = (construct: IConstruct): string =>
  Stack.of(construct).resolve((construct.node.defaultChild as CfnElement).logicalId) as string;

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
}

export const actionsOf = (statement: Statement): string[] =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];
export const resourcesOf = (statement: Statement): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];

/** Every statement of every IAM identity policy (policies, managed policies, roles' inline policies), by role. */
export function policyStatements(template: Template): { role: string; statement: Statement }[] {
  const fromPolicies = Object.values({
    ...template.findResources('AWS::IAM::Policy'),
    ...template.findResources('AWS::IAM::ManagedPolicy'),
  }).flatMap((policy) =>
    (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap((statement) =>
      ((policy.Properties.Roles ?? []) as { Ref: string }[]).map((role) => ({ role: role.Ref, statement })),
    ),
  );
  const inline = Object.entries(template.findResources('AWS::IAM::Role')).flatMap(([role, resource]) =>
    ((resource.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap((policy) =>
      policy.PolicyDocument.Statement.map((statement) => ({ role, statement })),
    ),
  );
  return [...fromPolicies, ...inline];
}

/** The functions of the stack, by role, as logical ids. */
export type FunctionName =
  | 'authorize'
  | 'callback'
  | 'connections'
  | 'webhook'
  | 'webhookWorker'
  | 'healthSync'
  | 'reconcile'
  | 'outboxPublisher';

export function functionIds(stack: RecallZoomConnectStack): Record<FunctionName, string> {
  const { api, jobs, outbox } = stack;
  return {
    authorize: logicalId(api.authorizeFunction),
    callback: logicalId(api.callbackFunction),
    connections: logicalId(api.connectionsFunction),
    webhook: logicalId(api.webhookFunction),
    webhookWorker: logicalId(jobs.webhookWorkerFunction),
    healthSync: logicalId(jobs.healthSyncFunction),
    reconcile: logicalId(jobs.reconcile.fn),
    outboxPublisher: logicalId(outbox.fn),
  };
}

/** The roles holding a statement that allows `action`, each with the resources that statement names. */
export function rolesAllowed(template: Template, action: string): Map<string, unknown[]> {
  const roles = new Map<string, unknown[]>();
  for (const { role, statement } of policyStatements(template)) {
    if (statement.Effect !== 'Allow' || !actionsOf(statement).includes(action)) continue;
    roles.set(role, [...(roles.get(role) ?? []), ...resourcesOf(statement)]);
  }
  return roles;
}

export interface FunctionProperties {
  Handler: string;
  Environment: { Variables: Record<string, unknown> };
  Layers?: unknown[];
  Role: { 'Fn::GetAtt': [string, string] };
  Timeout: number;
  MemorySize: number;
  LoggingConfig: { LogGroup: { Ref: string } };
  DeadLetterConfig?: { TargetArn: unknown };
}

export function functionProperties(template: Template, fnLogicalId: string): FunctionProperties {
  const fn = template.findResources('AWS::Lambda::Function')[fnLogicalId];
  if (!fn) throw new Error(`no function ${fnLogicalId} in the template`);
  return fn.Properties as FunctionProperties;
}

export const roleOf = (template: Template, fn: string): string => functionProperties(template, fn).Role['Fn::GetAtt'][0];

/** The function a route's integration invokes. */
export function functionBehindRoute(template: Template, routeKey: string): string {
  const [route] = Object.values(template.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: routeKey } }));
  const integrationId = (route?.Properties.Target['Fn::Join'][1][1] as { Ref: string }).Ref;
  const integration = template.findResources('AWS::ApiGatewayV2::Integration')[integrationId];
  return integration?.Properties.IntegrationUri['Fn::GetAtt'][0] as string;
}

/** Every acknowledged rule in the construct tree, with where it sits and why. */
export function acknowledgments(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^Annotation::/i, ''),
          reason,
        })),
      ),
  );
}

/**
 * A CloudFormation value with every intrinsic (`Ref`, `Fn::GetAtt`, ...) replaced by a readable placeholder:
 * `{Ref: X}` becomes `<X>`, `{Fn::GetAtt: [X, Arn]}` becomes `<X.Arn>`, and `Fn::Join` is joined.
 */
export function flatten(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number') return String(value);
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('Ref' in record) return `<${String(record.Ref)}>`;
    if ('Fn::GetAtt' in record) return `<${(record['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Fn::Join' in record) {
      const [separator, parts] = record['Fn::Join'] as [string, unknown[]];
      return parts.map(flatten).join(separator);
    }
  }
  return JSON.stringify(value);
}

/** Every string inside a CloudFormation value, intrinsics included (`Fn::Join` parts, `Fn::GetAtt` names). */
export function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}
