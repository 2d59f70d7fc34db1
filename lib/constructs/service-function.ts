import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/core/metric-names.js';
import { type LogLevel, SECRETS_EXTENSION_LAYER } from '../config.js';
import { RETAINED } from './removal.js';

/** The repository root: esbuild's project root, holding package.json, package-lock.json and tsconfig.json. */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** @param relativePath - a path under the repository root, e.g. `functions/handlers/authorize/handler.ts` */
export const projectPath = (relativePath: string): string => path.join(PROJECT_ROOT, relativePath);


/**
 * ESM bundles cannot `require`, but some CommonJS dependencies inside them still do; esbuild's shim calls a
 * global `require` when there is one, so give the module one.
 */
const ESM_REQUIRE_BANNER =
  "import { createRequire as __serviceCreateRequire } from 'node:module'; const require = __serviceCreateRequire(import.meta.url);";

export interface ServiceFunctionProps {
  /** Absolute path of the handler module; see {@link projectPath}. */
  readonly entry: string;
  /**
   * Exported name of the handler function.
   * @default 'handler'
   */
  readonly handler?: string;
  /** What the function does, shown in the Lambda console. */
  readonly description: string;
  /**
   * Behind API Gateway this must stay below its 30 s integration limit, so a slow call ends as our own error
   * page rather than the gateway's 503.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Lambda allocates CPU in proportion to memory, and a cold start's init is CPU-bound (loading and compiling the
   * bundle); 512 MB keeps crypto and cold starts quick at little cost. Set per function where a measurement says
   * another size is better.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Attach the AWS Parameters and Secrets Lambda Extension, for a function whose runtime reads its secrets through
   * the extension's localhost API (functions/adapters/secrets-extension.ts) instead of the AWS SDK: use
   * {@link secretsExtension}. The extension calls GetSecretValue with the function's own credentials, so the
   * function still needs `bindSecret` for every secret it reads.
   * @default - no extension: the function reads secrets with the AWS SDK
   */
  readonly paramsAndSecrets?: lambda.ParamsAndSecretsLayerVersion;
  /**
   * Environment variables on top of the service defaults (service name, log level, metrics namespace). Bind
   * tables and secrets with `bindTable` / `bindSecret` instead, which grant access in the same call.
   * @default - only the service defaults
   */
  readonly environment?: Record<string, string>;
  /**
   * Log level of Powertools (`POWERTOOLS_LOG_LEVEL`). Lambda's own JSON log filter stays at INFO (DEBUG when this
   * is DEBUG), whatever this is: see {@link lambdaApplicationLogLevel}.
   * @default 'INFO'
   */
  readonly logLevel?: LogLevel;
  /**
   * How long the function's log group keeps events.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where Lambda puts an asynchronous invocation that failed all its attempts. Only a function invoked
   * asynchronously (by a schedule) has one: API Gateway and SQS invoke synchronously, and a DLQ would never
   * receive anything.
   * @default - none
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * Lambda's application log level for a Powertools level. Never above INFO: Lambda's filter drops every JSON line
 * below its level and every line without a `level` field once it is WARN or ERROR, and the embedded-metric-format
 * lines Powertools Metrics writes carry none, so a filter at WARN would silently drop every custom metric and the
 * alarms built on them would sit at OK on missing data. Powertools filters its own lines at `logLevel` anyway.
 * @param logLevel - the Powertools log level of the function
 */
export function lambdaApplicationLogLevel(logLevel: LogLevel): 'DEBUG' | 'INFO' {
  return logLevel === 'DEBUG' ? 'DEBUG' : 'INFO';
}

/**
 * The port the Parameters and Secrets extension listens on: its documented default, set explicitly so that the
 * variable the runtime reads (PARAMETERS_SECRETS_EXTENSION_HTTP_PORT) is in the template for all to see.
 */
export const SECRETS_EXTENSION_HTTP_PORT = 2773;

/**
 * The AWS Parameters and Secrets Lambda Extension as the functions that use it are configured, defined once.
 * - A pinned layer version, like every other dependency (CDK picks the layer ARN for the function's architecture
 *   and region, from its table of the regions AWS published it in: `SUPPORTED_REGIONS`).
 * - The extension's own cache is off: the runtime already keeps secrets for `SECRETS_CACHE_SECONDS` (300 by
 *   default) and re-reads them at once when a token or cookie matches no cached key (a rotation). A second cache in
 *   front would hide a rotated signing key for up to five more minutes. The extension is used here as the
 *   SDK-free way to read Secrets Manager, which keeps the AWS SDK out of authorize's bundle.
 * - WARN: the extension logs into the function's log group, and at WARN only its warnings and errors (a secret it
 *   cannot read, say), not a line per request.
 * - The runtime authenticates with AWS_SESSION_TOKEN, which Lambda sets; nothing else is needed.
 */
export function secretsExtension(): lambda.ParamsAndSecretsLayerVersion {
  return lambda.ParamsAndSecretsLayerVersion.fromVersion(SECRETS_EXTENSION_LAYER.version as lambda.ParamsAndSecretsVersions, {
    cacheEnabled: false,
    logLevel: lambda.ParamsAndSecretsLogLevel.WARN,
    httpPort: SECRETS_EXTENSION_HTTP_PORT,
  });
}

/**
 * The defaults every function of the service shares, defined once: Node.js 24 on ARM64, active tracing, JSON
 * logs in its own log group with a retention, and a minified ESM bundle that includes the AWS SDK (a pinned SDK we
 * tested against, and a cold start we control, rather than whatever the runtime ships), with a source map beside
 * it.
 *
 * Every function gets its own execution role with no managed policy: it may write to this function's log group
 * and X-Ray, and anything else comes from the exact grants of the bind helpers (`bindTable`, `bindSecret`, ...).
 */
export class ServiceFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    // Created beside the function (a subclass cannot add children before `super`), and passed in so Lambda
    // never creates an unmanaged `/aws/lambda/...` group without retention.
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RETAINED,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${scope.node.path}/${id}`,
    });
    logGroup.grantWrite(role);

    const logLevel = props.logLevel ?? 'INFO';
    super(scope, id, {
      entry: props.entry,
      handler: props.handler ?? 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      ...(props.deadLetterQueue ? { deadLetterQueue: props.deadLetterQueue } : {}),
      ...(props.paramsAndSecrets ? { paramsAndSecrets: props.paramsAndSecrets } : {}),
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel[lambdaApplicationLogLevel(logLevel)],
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      // No NODE_OPTIONS=--enable-source-maps: Node then parses the source map at every cold start, which measured
      // about half a bare Node start on each one, to improve only the stack traces of errors. The map is still
      // built beside the bundle (and shipped in the asset) to symbolicate a logged stack trace offline, and
      // `keepNames` keeps function and class names readable in it meanwhile.
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_LOG_LEVEL: logLevel,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: projectPath('package-lock.json'),
      bundling: {
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        // Minified names would leave a stack trace without a readable frame; esbuild's --keep-names restores the
        // `.name` of functions and classes, which V8 names a frame after (error names and logs read them too). It
        // costs about 7% of the bundle (measured: authorize 111 -> 118 KB, callback 491 -> 524 KB).
        keepNames: true,
        sourceMap: true,
        // Symbolicating needs file names and lines, not the sources; leaving them out halves the asset.
        sourcesContent: false,
        bundleAwsSDK: true,
        externalModules: [],
      },
    });

    // The one "*" resource in any of the service's policies: X-Ray's PutTraceSegments and PutTelemetryRecords
    // have no resource-level permissions, so active tracing can only be granted on "*". Acknowledged on the
    // role's policy itself, which holds that statement and every grant.
    const policy = role.node.findChild('DefaultPolicy').node.defaultChild as CfnResource;
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so Lambda grants them on "*". Only this exact finding is acknowledged; any other wildcard in the role still fails the check.',
    });
  }
}
