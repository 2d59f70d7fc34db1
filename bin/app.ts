#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { assertSupportedRegion, resolveDeployConfig } from '../lib/config.js';
import { RecallZoomConnectStack } from '../lib/recall-zoom-connect-stack.js';

const app = new App();
// cdk.json's context, `-c key=value`, and over them the file `npm run deploy -- --config <file>` names.
const config = resolveDeployConfig(app.node.getAllContext());
// A stack not pinned to a region goes to the region of the AWS profile, which the CLI passes here: refuse one the
// stack cannot deploy to now, rather than at deploy, where the template's layer lookup would find no entry for it.
const profileRegion = process.env.CDK_DEFAULT_REGION;
if (!config.awsRegion && profileRegion) {
  assertSupportedRegion(profileRegion, 'The region of your AWS profile (CDK_DEFAULT_REGION; pin another with awsRegion)');
}

new RecallZoomConnectStack(app, config.stackName, {
  description: "recall-zoom-connect: connects customers' Zoom accounts to Recall.ai with Recall-managed OAuth",
  // Pinned when the config names them: deploying with credentials of another account or region then fails.
  ...(config.awsAccountId || config.awsRegion ? { env: { account: config.awsAccountId, region: config.awsRegion } } : {}),
  config,
});

// cdk-nag 3 runs as policy-validation plugins: unacknowledged findings fail `cdk synth` and `cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
