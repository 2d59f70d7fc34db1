import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { context } from '../../helpers/context.js';
import { AWS_FUNCTION_ENV, SECRETS, useAwsFunctionEnv } from '../../helpers/env.js';
import { signedWebhookEvent, WEBHOOK_QUEUE_URL } from '../../helpers/zoom-webhook.js';

/** Each test imports the handler afresh: it reads its environment and caches its secrets at init. */
const importHandler = async () => (await import('../../../functions/handlers/webhook/handler.js')).handler;

const sqs = mockClient(SQSClient);
const secretsManager = mockClient(SecretsManagerClient);
const BODY = '{"event":"app_deauthorized","payload":{"account_id":"za-1","user_id":"zu-1"}}';

/** The webhook Secret Token's secret, holding `value`; every other secret holds a real value, which must not leak. */
function webhookTokenSecret(value: string) {
  secretsManager.on(GetSecretValueCommand).resolves({ SecretString: SECRETS.recallApiKey });
  secretsManager
    .on(GetSecretValueCommand, { SecretId: AWS_FUNCTION_ENV.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID })
    .resolves({ SecretString: value });
}

beforeEach(() => {
  vi.resetModules();
  useAwsFunctionEnv();
  delete process.env.SIGNING_KEY_SECRET_ID;
  process.env.WEBHOOK_QUEUE_URL = WEBHOOK_QUEUE_URL;
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
  secretsManager.reset();
});

afterEach(() => {
  delete process.env.WEBHOOK_QUEUE_URL;
});

describe('POST /zoom/webhook before ops filled in the Secret Token', () => {
  it.each([
    ['still holds the placeholder', 'REPLACE_ME'],
    ['is an empty line', '\n'],
    ['is only blanks', '   '],
  ])('answers a clear 503 and accepts nothing when the token %s', async (_case, token) => {
    // Prepare: a request signed with what an attacker would guess the unset token to be
    webhookTokenSecret(token);
    const error = vi.fn();
    const handler = await importHandler();
    const { logger } = await import('../../../functions/core/logger.js');
    vi.spyOn(logger, 'error').mockImplementation(error);

    // Act
    const response = (await handler(
      signedWebhookEvent(token, BODY, String(Math.floor(Date.now() / 1000))),
      context,
    )) as APIGatewayProxyStructuredResultV2;

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['cache-control']).toBe('no-store');
    expect(JSON.parse(String(response.body))).toEqual({ error: 'The webhook is not configured yet.' });
    expect(sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
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
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((call) => call.args[0].input.SecretId)).toEqual([
      AWS_FUNCTION_ENV.ZOOM_WEBHOOK_SECRET_TOKEN_SECRET_ID,
    ]);
  });

  it('fails at init, naming the variable, when WEBHOOK_QUEUE_URL is not set', async () => {
    delete process.env.WEBHOOK_QUEUE_URL;

    await expect(importHandler()).rejects.toThrow(/WEBHOOK_QUEUE_URL/);
  });
});
