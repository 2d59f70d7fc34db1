#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { resolveDeployConfig } from '../lib/config.js';
import { RecallZoomConnectStack } from '../lib/recall-zoom-connect-stack.js';

const app = new App();
// cdk.json's context, `-c key=value`, and over them the file `npm run deploy -- --config <file>` names.
const config = resolveDeployConfig(app.node.getAllContext());

new RecallZoomConnectStack(app, config.stackName, {
  description: "recall-zoom-connect: connects customers' Zoom accounts to Recall.ai with Recall-managed OAuth",
  // Pinned when the config names them: deploying with credentials of another account or region then fails.
  ...(config.awsAccountId || config.awsRegion ? { env: { account: config.awsAccountId, region: config.awsRegion } } : {}),
  config,
});

// cdk-nag 3 runs as policy-validation plugins: unacknowledged findings fail `cdk synth` and `cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
