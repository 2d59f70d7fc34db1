import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it, vi } from 'vitest';
import { AWS_FUNCTION_ENV, SECRETS } from '../../helpers/env.js';
import { handlerHarness } from '../../helpers/handler-harness.js';
import { signedWebhookEvent, WEBHOOK_QUEUE_URL } from '../../helpers/zoom-webhook.js';

// Each test loads the handler afresh: it reads its environment and caches its secrets at init.
const h = handlerHarness('webhook', { env: { SIGNING_KEY_SECRET_ID: undefined, WEBHOOK_QUEUE_URL }, warm: false });
const BODY = '{"event":"app_deauthorized","payload":{"account_id":"za-1","user_id":"zu-1"}}';

/** The webhook Secret Token's secret, holding `value`; every other secret holds a real value, which must not leak. */
function webhookTokenSecret(value: string) {
  h.secretsManager.reset();
  h.secretsManager.on(GetSecretValueCommand).resolves({ SecretString: SECRETS.recallApiKey });
  h.secretsManager
    .on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID })
    .resolves({ SecretString: value });
}

describe('POST /zoom/webhook before ops filled in the Secret Token', () => {
  it.each([
    ['still holds the placeholder', 'REPLACE_ME'],
    ['is an empty line', '\n'],
    ['is only blanks', '   '],
  ])('answers a clear 503 and accepts nothing when the token %s', async (_case, token) => {
    // Prepare: a request signed with what an attacker would guess the unset token to be
    webhookTokenSecret(token);
    const error = vi.fn();
    const handler = await h.cold();
    const { logger } = await import('../../../functions/core/logger.js');
    vi.spyOn(logger, 'error').mockImplementation(error);

    // Act
    const response = await handler(signedWebhookEvent(token, BODY, String(Math.floor(Date.now() / 1000))));

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(JSON.parse(String(response.body))).toEqual({ error: 'The webhook is not configured yet.' });
    expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    // One line naming the secret and the field, the same line every function writes for a misconfiguration.
    expect(error).toHaveBeenCalledTimes(1);
    expect(error).toHaveBeenCalledWith('Service misconfigured', {
      reason: 'misconfigured',
      secret: AWS_FUNCTION_ENV.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID,
      fields: ['zoomWebhookSecretToken'],
      problem: expect.stringContaining("the Zoom app's Secret Token"),
    });
    expect(JSON.stringify(error.mock.calls)).not.toContain(SECRETS.recallApiKey);
    // The webhook reads its own secret and no other.
    expect(h.secretsManager.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).toEqual([
      AWS_FUNCTION_ENV.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID,
    ]);
  });

  it('fails at init, naming the variable, when WEBHOOK_QUEUE_URL is not set', async () => {
    await expect(h.cold({ WEBHOOK_QUEUE_URL: undefined })).rejects.toThrow(/WEBHOOK_QUEUE_URL/);
  });
});
