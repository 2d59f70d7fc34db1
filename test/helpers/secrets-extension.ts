import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SECRETS_EXTENSION_TOKEN_HEADER } from '../../functions/adapters/secrets-extension.js';

/** The session token the stand-in expects, and `useEnv()` gives the function. */
export const EXTENSION_SESSION_TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE-session-token-for-tests';

export interface ExtensionRequest {
  method: string;
  path: string;
  secretId: string | null;
  versionStage: string | null;
  token: string | undefined;
}

export interface SecretsExtensionStandIn {
  port: number;
  /** Every request served, in order. */
  readonly requests: ExtensionRequest[];
  /** Answers every following request with this instead of asking Secrets Manager (`undefined`: back to normal). */
  override(answer: ((req: IncomingMessage, res: ServerResponse) => void) | undefined): void;
  /** Points the function at this stand-in: PARAMETERS_SECRETS_EXTENSION_HTTP_PORT and AWS_SESSION_TOKEN. */
  useEnv(): void;
  close(): Promise<void>;
}

/**
 * The AWS Parameters and Secrets Lambda Extension's localhost API, over real HTTP, in front of Secrets Manager as
 * the tests mock it (aws-sdk-client-mock on `SecretsManagerClient`): each request is one GetSecretValue, so a
 * test's Secrets Manager script, and its count of GetSecretValue calls, hold for a function that reads through the
 * extension too. A failure is answered as deployed versions of the extension answer any failure, a bare 400
 * (`style: 'typed'`: Secrets Manager's status and `{"__type": ...}`, as the open-source agent answers).
 */
export async function startSecretsExtension(options: { style?: 'bare' | 'typed' } = {}): Promise<SecretsExtensionStandIn> {
  const requests: ExtensionRequest[] = [];
  const client = new SecretsManagerClient({ region: 'us-west-2', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  let override: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const token = req.headers[SECRETS_EXTENSION_TOKEN_HEADER.toLowerCase()];
    requests.push({
      method: req.method ?? '',
      path: url.pathname,
      secretId: url.searchParams.get('secretId'),
      versionStage: url.searchParams.get('versionStage'),
      token: typeof token === 'string' ? token : undefined,
    });
    if (override) {
      override(req, res);
      return;
    }
    if (req.method !== 'GET' || url.pathname !== '/secretsmanager/get') {
      res.writeHead(404).end();
      return;
    }
    if (token !== EXTENSION_SESSION_TOKEN) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
      return;
    }
    const secretId = url.searchParams.get('secretId') ?? '';
    const versionStage = url.searchParams.get('versionStage');
    // A mock with no behaviour for this input answers `undefined`, not a promise: hence Promise.resolve().
    Promise.resolve()
      .then(() => client.send(new GetSecretValueCommand({ SecretId: secretId, ...(versionStage ? { VersionStage: versionStage } : {}) })))
      .then(
        (output) => {
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              ARN: `arn:aws:secretsmanager:us-west-2:123456789012:secret:${secretId}`,
              Name: secretId,
              SecretString: output?.SecretString ?? null,
              SecretBinary: null,
              VersionId: '00000000-0000-4000-8000-000000000001',
              VersionStages: [versionStage ?? 'AWSCURRENT'],
              CreatedDate: '2026-11-30T18:00:00.000Z',
              ResultMetadata: {},
            }),
          );
        },
        (error: unknown) => {
          const name = error instanceof Error ? error.name : 'Error';
          if (options.style === 'typed') {
            res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify({ __type: name, message: 'failed' }));
          } else {
            res.writeHead(400, { 'content-type': 'text/plain' }).end('an unexpected error occurred while executing request');
          }
        },
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, 'localhost', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    requests,
    override: (answer) => {
      override = answer;
    },
    useEnv: () => {
      process.env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT = String(port);
      process.env.AWS_SESSION_TOKEN = EXTENSION_SESSION_TOKEN;
    },
    close: () =>
      new Promise<void>((resolve) => {
        client.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
