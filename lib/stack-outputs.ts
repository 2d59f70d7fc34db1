import { FILLED_SECRETS, type FilledSecret } from '../functions/core/filled-secrets.js';

/*
 * How ops and scripts find the secrets ops fill in: by name, and by the stack output that holds each name. The stack
 * creates and outputs them, `npm run deploy` and `npm run doctor` look them up, so all take both from here. Kept free
 * of aws-cdk-lib so the scripts do not load CDK to read them.
 */

/** The stack output that names each secret ops fill in. */
export const FILLED_SECRET_OUTPUTS: Readonly<Record<FilledSecret, string>> = {
  recallApiKey: 'RecallApiKeySecretName',
  zoomClientId: 'ZoomClientIdSecretName',
  zoomWebhookSecretToken: 'ZoomWebhookSecretTokenSecretName',
};

/**
 * The name of a secret ops fill in: `<secretNamePrefix>/<nameSuffix>`.
 * @param secretNamePrefix - `secretNamePrefix` of the deploy config
 * @param name - which secret
 */
export const filledSecretName = (secretNamePrefix: string, name: FilledSecret): string =>
  `${secretNamePrefix}/${FILLED_SECRETS[name].nameSuffix}`;
