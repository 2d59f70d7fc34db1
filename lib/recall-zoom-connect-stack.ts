import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID, PLACEHOLDER_RETURN_URL, type DeployConfig } from './config.js';
import { ConnectApi } from './constructs/connect-api.js';
import { StatefulResources } from './constructs/stateful-resources.js';

export interface RecallZoomConnectStackProps extends StackProps {
  /** Validated deploy configuration, see `parseDeployConfig`. */
  readonly config: DeployConfig;
}

/**
 * The whole service: stateful resources (table, secrets) and the stateless API that uses them, plus the outputs
 * ops need after `cdk deploy`.
 */
export class RecallZoomConnectStack extends Stack {
  public readonly state: StatefulResources;
  public readonly api: ConnectApi;

  constructor(scope: Construct, id: string, props: RecallZoomConnectStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.state = new StatefulResources(this, 'State', {
      appSecretName: config.appSecretName,
      ...(config.existingAppSecretName ? { existingAppSecretName: config.existingAppSecretName } : {}),
    });
    this.api = new ConnectApi(this, 'Api', {
      config,
      table: this.state.table,
      appSecret: this.state.appSecret,
      signingKeySecret: this.state.signingKeySecret,
    });

    // cdk.json ships placeholders so `cdk synth` works out of the box; say so loudly rather than deploy them silently.
    if (config.recallZoomOAuthAppId === PLACEHOLDER_RECALL_ZOOM_OAUTH_APP_ID) {
      Annotations.of(this).addWarningV2(
        'recall-zoom-connect:placeholderRecallZoomOAuthAppId',
        'recallZoomOAuthAppId is still the placeholder from cdk.json; set it to your Recall Zoom OAuth App id before deploying.',
      );
    }
    if (config.returnUrlAllowlist.includes(PLACEHOLDER_RETURN_URL)) {
      Annotations.of(this).addWarningV2(
        'recall-zoom-connect:placeholderReturnUrl',
        `returnUrlAllowlist still contains the example ${PLACEHOLDER_RETURN_URL} from cdk.json; replace it with your product's return URL(s).`,
      );
    }

    new CfnOutput(this, 'ZoomRedirectUri', {
      description: 'Paste exactly (trailing slash included) into the Zoom app: OAuth Redirect URL and OAuth Allow List.',
      value: this.api.zoomRedirectUri,
    });
    new CfnOutput(this, 'ApiUrl', {
      description: 'Base URL of the service. Connect links point at <ApiUrl>/zoom/authorize?connect_token=...',
      value: this.api.baseUrl,
    });
    new CfnOutput(this, 'ConnectionsEndpoint', {
      description:
        'GET|DELETE <this>/{userId}. IAM-authorized: sign requests with SigV4 (service execute-api) using a principal allowed execute-api:Invoke on this API.',
      value: `${this.api.baseUrl}/connections`,
    });
    new CfnOutput(this, 'ConnectionsInvokeArn', {
      description: 'Resource for the execute-api:Invoke statement in the IAM policy of the product backend.',
      value: this.api.httpApi.arnForExecuteApi('*', '/connections/*', '$default'),
    });
    new CfnOutput(this, 'AppSecretName', {
      description:
        'Secrets Manager secret to fill in: {"recallApiKey":"...","zoomClientId":"...","zoomWebhookSecretToken":"..."}',
      value: this.state.appSecretName,
    });
    new CfnOutput(this, 'SigningKeySecretArn', {
      description: 'Secrets Manager secret holding the connect-token HS256 key; the product backend reads it to sign links.',
      value: this.state.signingKeySecret.secretArn,
    });
    new CfnOutput(this, 'TableName', {
      description: 'DynamoDB table of OAuth states and connections.',
      value: this.state.table.tableName,
    });
    if (this.api.customDomain) {
      new CfnOutput(this, 'CustomDomainTarget', {
        description: `Point a CNAME (or alias) record for ${config.customDomain?.domainName} at this host.`,
        value: this.api.customDomain.regionalDomainName,
      });
    }
  }
}
