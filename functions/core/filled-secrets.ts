/**
 * The secrets ops fill in after the first deploy, one value each (the bare string, no JSON), so that every function
 * is granted exactly the secrets it reads: the Recall API key only to the functions that call Recall, the Zoom client
 * id only to the two connect steps, the webhook Secret Token only to the webhook. Each is named to a function by its
 * variable; the stack creates each as `<secretNamePrefix>/<nameSuffix>` holding the placeholder.
 */
export const FILLED_SECRETS = {
  recallApiKey: { variable: 'RECALL_API_KEY_SECRET_ID', nameSuffix: 'recall-api-key', what: 'the Recall API key' },
  zoomClientId: { variable: 'ZOOM_CLIENT_ID_SECRET_ID', nameSuffix: 'zoom-client-id', what: "the Zoom app's client id" },
  zoomWebhookSecretToken: {
    variable: 'ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID',
    nameSuffix: 'zoom-webhook-secret-token',
    what: "the Zoom app's Secret Token",
  },
} as const;

export type FilledSecret = keyof typeof FILLED_SECRETS;
export const FILLED_SECRET_NAMES = Object.keys(FILLED_SECRETS) as FilledSecret[];
