#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeployConfig } from '../lib/config.js';
import { RecallZoomConnectStack } from '../lib/recall-zoom-connect-stack.js';

const app = new App();

new RecallZoomConnectStack(app, 'RecallZoomConnect', {
  description: "recall-zoom-connect: connects customers' Zoom accounts to Recall.ai with Recall-managed OAuth",
  config: parseDeployConfig(app.node.getAllContext()),
});

// cdk-nag 3 runs as a policy-validation plugin: unacknowledged findings fail `cdk synth` and `cdk deploy`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
