import type { FilledSecret } from '../functions/core/filled-secrets.js';

/**
 * The stack output that names each secret ops fill in. The stack writes these outputs and `npm run doctor` reads
 * them to find the secrets of a deployed stack, so both take the names from here. Kept free of aws-cdk-lib so the
 * doctor does not load CDK to read them.
 */
export const FILLED_SECRET_OUTPUTS: Readonly<Record<FilledSecret, string>> = {
  recallApiKey: 'RecallApiKeySecretName',
  zoomClientId: 'ZoomClientIdSecretName',
  zoomWebhookSecretToken: 'ZoomWebhookSecretTokenSecretName',
};
