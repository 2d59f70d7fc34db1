import { type CfnResource, Duration, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FilledSecret } from '../../functions/core/filled-secrets.js';
import { TABLE_SCHEMA } from '../../functions/core/table-schema.js';
import {
  AUTHORIZE_PATH,
  CALLBACK_PATH,
  HTTP_ROUTES,
  type RouteCaller,
  type RouteHandler,
  routeLabel,
  WEBHOOK_PATH,
} from '../../functions/core/routes.js';
import { CALLBACK_TIMEOUT_SECONDS, type DeployConfig, THROTTLED_ROUTES, type ThrottledRoute } from '../config.js';
import { bindFilledSecret, bindQueue, bindSecret, bindTable } from './bindings.js';
import { connectionsRouteAuth } from './connections-auth.js';
import { runtimeSettings, serviceFunctionDefaults } from './runtime-environment.js';
import { projectPath, secretsExtension, ServiceFunction } from './service-function.js';
import { RETAINED } from './removal.js';


/**
 * The two functions a user waits on in a row. Lambda's CPU share grows with memory (a full vCPU at 1,769 MB), and
 * their cold start is CPU-bound: measured with `npm run bench`, about 75 ms (authorize) and 135 ms (callback) of
 * one full core. At 1,024 MB (~0.58 vCPU) that is ~130 and ~230 ms instead of ~260 and ~470 ms at 512 MB, for
 * the same GB-seconds per cold start (memory × duration stays constant while CPU-bound). Warm, authorize is
 * sub-millisecond and the callback mostly waits on Recall (~0.5 s), where 1,024 MB doubles the cost: about three
 * cents more per 10,000 connects. The background functions keep the 512 MB default.
 */
const INTERACTIVE_MEMORY_MB = 1024;
export interface ConnectApiProps {
  readonly config: DeployConfig;
  readonly table: dynamodb.ITable;
  /** The secrets ops fill in; each function is bound to the ones it reads. */
  readonly secrets: Readonly<Record<FilledSecret, secretsmanager.ISecret>>;
  readonly signingKeySecret: secretsmanager.ISecret;
  /** The key that seals connect attempts into their cookies: authorize and the callback only. */
  readonly stateKeySecret: secretsmanager.ISecret;
  /** Where the webhook function hands verified Zoom events to the worker. */
  readonly webhookQueue: sqs.IQueue;
}

/** API Gateway cuts every integration off at 30 s; the callback must finish (or fail cleanly) before that. */
const CALLBACK_TIMEOUT = Duration.seconds(CALLBACK_TIMEOUT_SECONDS);

/**
 * Zoom counts a delivery not answered within 3 s as failed and sends it again; a webhook still running after 5 s
 * only holds a concurrency slot. (Init, which fetches nothing, is not part of this.)
 */
const WEBHOOK_TIMEOUT = Duration.seconds(5);

/**
 * The stateless half that answers HTTP: four functions and the HTTP API in front of them.
 *
 * - `GET /zoom/authorize` and `GET /zoom/callback` are opened by users' browsers (a link, then Zoom's redirect),
 *   so they cannot carry AWS credentials; they authenticate with a signed connect token and a one-time state
 *   sealed in the browser's cookie.
 * - `POST /zoom/webhook` is called by Zoom, which cannot carry AWS credentials either; it signs every request
 *   with the app's Secret Token instead, and the function verifies that before anything else.
 * - `GET|DELETE /connections/{userId}` are for the product's backend only, and require IAM (SigV4) auth, or the
 *   product's own JWTs (`connectionsAuth`, see `connectionsRouteAuth`).
 */
export class ConnectApi extends Construct {
  public readonly httpApi: apigwv2.HttpApi;
  /** The API's own base URL: the custom domain when configured, else the execute-api endpoint. No trailing slash. */
  public readonly baseUrl: string;
  /**
   * The redirect URI registered at Zoom: `zoomRedirectUri` from the config when set, else derived from
   * {@link baseUrl}. Decided here and only here, and handed to the functions verbatim, so the authorize URL,
   * Recall's create call and the stack output are the same string byte for byte.
   */
  public readonly zoomRedirectUri: string;
  /**
   * Where connect links point: `/zoom/authorize` on the same host and path prefix as the redirect URI, since the
   * browser-binding cookie authorize sets is host-only and scoped to the redirect URI's path.
   */
  public readonly connectUrl: string;
  /**
   * Zoom's Event notification endpoint URL and Deauthorization endpoint URL: on the API's own URL, which reaches
   * the route whatever fronts the browser routes (Zoom calls it server to server).
   */
  public readonly zoomWebhookUrl: string;
  /** The stage's JSON access log group. */
  public readonly accessLogs: logs.LogGroup;
  public readonly authorizeFunction: ServiceFunction;
  public readonly callbackFunction: ServiceFunction;
  public readonly connectionsFunction: ServiceFunction;
  public readonly webhookFunction: ServiceFunction;
  public readonly customDomain?: apigwv2.DomainName;

  constructor(scope: Construct, id: string, props: ConnectApiProps) {
    super(scope, id);
    const { config } = props;

    // No CORS: the browser routes are navigations (links and redirects), never cross-origin fetches, and the
    // product backend calls /connections server to server.
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'recall-zoom-connect: Zoom OAuth for Recall.ai',
      // The stage is created below, with throttling and access logs the default stage cannot take.
      createDefaultStage: false,
      // With a custom domain, the domain is the only way in (unless the config keeps the execute-api endpoint): what
      // the domain's TLS policy, DNS and any WAF or proxy in front of it enforce cannot be walked around.
      disableExecuteApiEndpoint: config.customDomain !== undefined && !config.keepExecuteApiEndpoint,
    });

    if (config.customDomain) {
      this.customDomain = new apigwv2.DomainName(this, 'CustomDomain', {
        domainName: config.customDomain.domainName,
        certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', config.customDomain.certificateArn),
      });
      this.baseUrl = `https://${config.customDomain.domainName}`;
    } else {
      this.baseUrl = this.httpApi.apiEndpoint;
    }
    this.zoomRedirectUri = config.zoomRedirectUri ?? `${this.baseUrl}${CALLBACK_PATH}`;
    // The schema guarantees an explicit redirect URI ends with the callback route; what precedes it is the
    // browser-facing base (origin plus the proxy's path prefix).
    const browserBaseUrl = config.zoomRedirectUri
      ? config.zoomRedirectUri.slice(0, -CALLBACK_PATH.length)
      : this.baseUrl;
    this.connectUrl = `${browserBaseUrl}${AUTHORIZE_PATH}`;
    this.zoomWebhookUrl = `${this.baseUrl}${WEBHOOK_PATH}`;

    const logRetention = config.logRetentionDays as logs.RetentionDays;
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy: RETAINED });
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogs),
        format: apigateway.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
      ...(this.customDomain ? { domainMapping: { domainName: this.customDomain } } : {}),
    });
    // Each route its own token bucket (the stage default above covers only a route without one): a flood of connect
    // links cannot starve Zoom's callbacks and webhooks, nor the reverse. HttpStage has no property for it yet.
    (stage.node.defaultChild as apigwv2.CfnStage).routeSettings = Object.fromEntries(
      (Object.keys(THROTTLED_ROUTES) as ThrottledRoute[]).flatMap((route) =>
        THROTTLED_ROUTES[route].map((routeKey) => [
          routeKey,
          {
            ThrottlingRateLimit: config.routeThrottling[route].rateLimit,
            ThrottlingBurstLimit: config.routeThrottling[route].burstLimit,
          },
        ]),
      ),
    );

    const functionDefaults = serviceFunctionDefaults(config, this.zoomRedirectUri);

    this.authorizeFunction = new ServiceFunction(this, 'Authorize', {
      ...functionDefaults,
      entry: projectPath('functions/handlers/authorize/handler.ts'),
      description: `${routeLabel('authorize')}: checks the connect token, seals a one-time state in a cookie, redirects to Zoom`,
      // The one function that needs no AWS service but Secrets Manager: it reads its secrets through the extension,
      // so its bundle carries no AWS SDK, the largest part of a cold start.
      paramsAndSecrets: secretsExtension(),
      memorySize: INTERACTIVE_MEMORY_MB,
      // How long a connect token may still have to live: the link is a bearer credential.
      environment: { ...functionDefaults.environment, ...runtimeSettings(config, ['connectTokenMaxTtlSeconds']) },
    });
    this.callbackFunction = new ServiceFunction(this, 'Callback', {
      ...functionDefaults,
      // Its own deadline for the Recall calls of one callback, validated to end well inside the timeout.
      // A Marketplace install's landing page, when there is one.
      environment: {
        ...functionDefaults.environment,
        ...runtimeSettings(config, ['callbackDeadlineMs']),
        ...(config.installLandingUrl ? { INSTALL_LANDING_URL: config.installLandingUrl } : {}),
      },
      entry: projectPath('functions/handlers/callback/handler.ts'),
      description: `${routeLabel('callback')}: uses the state once, creates the Recall credential, records the connection`,
      timeout: CALLBACK_TIMEOUT,
      memorySize: INTERACTIVE_MEMORY_MB,
    });
    this.connectionsFunction = new ServiceFunction(this, 'Connections', {
      ...functionDefaults,
      entry: projectPath('functions/handlers/connections/handler.ts'),
      description: `${routeLabel('connections')}: reads or ends a user connection (${config.connectionsAuth.type === 'jwt' ? 'JWT' : 'IAM'}-authorized)`,
    });
    this.webhookFunction = new ServiceFunction(this, 'Webhook', {
      ...functionDefaults,
      entry: projectPath('functions/handlers/webhook/handler.ts'),
      description: `${routeLabel('webhook')}: verifies Zoom's signature, answers URL validation, queues the event for the worker`,
      timeout: WEBHOOK_TIMEOUT,
    });

    // Exactly the calls each function's repositories make (functions/adapters/*-repository.ts):
    // - authorize touches no table: the attempt travels sealed in the browser's cookie;
    // - the callback uses the state once (ConsumedStateRepository.consume: a conditional put of STATE#<hash>),
    //   reads and records the connection (get, put, update), and repoints, marks or checks the records sharing the
    //   Zoom identity (query byZoomIdentity, update), holding the identity's lock while it deletes or moves
    //   anything (a conditional put of LOCK#<identity>, and a conditional delete of it: the only item it deletes);
    // - connections reads a record, marks it disconnected (update) and checks whether anyone else still uses the
    //   credential before deleting it at Recall (query byZoomIdentity).
    // The webhook touches no table either: it only verifies and queues.
    bindTable(this.callbackFunction, props.table, {
      items: ['GetItem', 'PutItem', 'UpdateItem'],
      lockItems: ['DeleteItem'],
      queries: [TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    bindTable(this.connectionsFunction, props.table, {
      items: ['GetItem', 'UpdateItem'],
      queries: [TABLE_SCHEMA.zoomIdentityIndex.name],
    });
    // Each function reads exactly the secrets it is bound to, and may read no other: the Zoom client id for the two
    // steps that send users to Zoom; the Recall API key for the two that call Recall (the callback creates
    // credentials, connections deletes them); the webhook Secret Token for the webhook alone, which reads nothing
    // else. Only authorize verifies connect tokens, so only authorize can read the signing key. The state key seals an
    // attempt into its cookie: authorize seals, the callback opens (and seals again to re-authorize); no other
    // function can read it. Each generated key is read in both its AWSCURRENT and AWSPREVIOUS stages, which
    // GetSecretValue on the secret allows (no condition narrows the stage). Authorize reads through the extension,
    // which uses the function's own credentials: the same grants.
    for (const fn of [this.authorizeFunction, this.callbackFunction]) bindFilledSecret(fn, props.secrets, 'zoomClientId');
    for (const fn of [this.callbackFunction, this.connectionsFunction]) bindFilledSecret(fn, props.secrets, 'recallApiKey');
    bindFilledSecret(this.webhookFunction, props.secrets, 'zoomWebhookSecretToken');
    bindSecret(this.authorizeFunction, props.signingKeySecret, 'SIGNING_KEY_SECRET_ID');
    for (const fn of [this.authorizeFunction, this.callbackFunction]) {
      bindSecret(fn, props.stateKeySecret, 'STATE_KEY_SECRET_ID');
    }
    // None of these publishes: the callback and connections store each event with its write (the outbox), and only
    // the outbox publisher may put events on the bus.
    // The webhook answers Zoom once the event is durably queued, and touches nothing else: no table name or grant.
    bindQueue(this.webhookFunction, props.webhookQueue, 'send');

    // The routes of functions/core/routes.ts, one integration per function (connections' two routes share one).
    const routeFunctions: Record<RouteHandler, ServiceFunction> = {
      authorize: this.authorizeFunction,
      callback: this.callbackFunction,
      connections: this.connectionsFunction,
      webhook: this.webhookFunction,
    };
    const integrations = new Map<RouteHandler, HttpLambdaIntegration>();
    const integrationOf = (handler: RouteHandler): HttpLambdaIntegration => {
      let integration = integrations.get(handler);
      if (!integration) {
        const id = `${handler.charAt(0).toUpperCase()}${handler.slice(1)}Integration`;
        integration = new HttpLambdaIntegration(id, routeFunctions[handler]);
        integrations.set(handler, integration);
      }
      return integration;
    };
    const connectionsAuth = connectionsRouteAuth(config.connectionsAuth);
    const routes = HTTP_ROUTES.flatMap((route): { caller: RouteCaller; route: apigwv2.HttpRoute }[] =>
      this.httpApi
        .addRoutes({
          path: route.path,
          methods: [apigwv2.HttpMethod[route.method]],
          integration: integrationOf(route.handler),
          ...('access' in route ? connectionsAuth(route.access) : {}),
        })
        .map((created) => ({ caller: route.caller, route: created })),
    );
    // The stage's route settings name these routes, which must exist when the stage is created or updated.
    for (const { route } of routes) stage.node.addDependency(route);

    for (const fn of [this.authorizeFunction, this.callbackFunction, this.connectionsFunction, this.webhookFunction]) {
      Validations.of(fn.node.defaultChild as CfnResource).acknowledge({
        id: 'Serverless-LambdaDLQ',
        reason:
          'Invoked only synchronously, by its API Gateway route: a failure is returned to the caller (an error page or status), and a dead-letter queue, which receives failed asynchronous invocations only, would never receive anything.',
      });
    }

    // The routes with no authorizer: API Gateway cannot check who calls them, the handler does.
    const unauthorizedReasons: Partial<Record<RouteCaller, string>> = {
      browser:
        "Opened by the end user's browser (a link from the product, then Zoom's redirect), which has no AWS credentials. The handler authenticates the request itself: a signed, expiring connect token on /zoom/authorize; a single-use OAuth state whose attempt is sealed in this browser's cookie on /zoom/callback.",
      zoom: "Called by Zoom's webhook delivery, which cannot sign with AWS credentials. Zoom signs every request instead: the handler verifies x-zm-signature (HMAC-SHA256 with the app's Secret Token over the timestamp and raw body, constant-time, timestamps older than 5 minutes rejected) and answers 401 without queueing anything unverified.",
    };
    for (const { caller, route } of routes) {
      const reason = unauthorizedReasons[caller];
      if (reason) Validations.of(route.node.defaultChild as CfnResource).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    }
  }
}

/**
 * Access log line per request. Only route keys, never paths or query strings: the callback's query carries the
 * OAuth code and state, and /connections paths carry product user ids.
 */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  caller: '$context.identity.userArn',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
} as const;
