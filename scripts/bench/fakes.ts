import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SECRETS_EXTENSION_TOKEN_HEADER } from '../../functions/adapters/secrets-extension.js';
import { createServiceTable, startLocalDynamoDb } from '../../local/local-table.js';
import { operationOf, RecallModel } from '../../local/recall-model.js';
import type { CodeExchangeInput, CodeExchangeResult, ZoomCodeExchanger, ZoomIdentity } from '../../local/sandbox-zoom.js';

/**
 * Local endpoints for the cold-start runs, all over real HTTP on loopback so that the bundles' SDK clients,
 * credential resolution, signing and HTTP stacks all run: dynalite (DynamoDB), a Secrets Manager stand-in (AWS
 * JSON 1.1, the protocol @aws-sdk/client-secrets-manager speaks, and the Parameters and Secrets Lambda Extension's
 * localhost API in front of it), and a minimal Recall that answers create with 201 (the shared Recall model).
 */

export interface HttpFake {
  url: string;
  /** Requests served, by operation (`secretsmanager.GetSecretValue`, `recall.create`, ...). */
  calls: Map<string, number>;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const count = (calls: Map<string, number>, name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);

/** What GetSecretValue answers for one secret (its `AWSCURRENT` version; none has an `AWSPREVIOUS` one). */
function secretValueOf(secrets: Readonly<Record<string, string>>, id: string, stage: unknown) {
  const value = stage === 'AWSPREVIOUS' ? undefined : secrets[id];
  if (value === undefined) return undefined;
  return {
    ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${id}-AbCdEf`,
    Name: id,
    SecretString: value,
    VersionId: '00000000-0000-4000-8000-000000000001',
    VersionStages: ['AWSCURRENT'],
    CreatedDate: 1_764_500_000,
  };
}

/**
 * Secrets Manager (and EventBridge `PutEvents`, should a function publish) over the AWS JSON protocol: the SDK
 * POSTs to `/` with `x-amz-target: secretsmanager.GetSecretValue` and a JSON body `{"SecretId": ...}`. The same
 * server answers as the Parameters and Secrets Lambda Extension does on localhost:
 * `GET /secretsmanager/get?secretId=...&versionStage=...` with the session token in
 * `X-Aws-Parameters-Secrets-Token`, GetSecretValue's JSON, and a bare 400 for any failure (as deployed versions do).
 * @param secrets - secret id to its string value
 * @param sessionToken - the AWS_SESSION_TOKEN the extension expects
 */
export async function startAwsJsonFake(secrets: Readonly<Record<string, string>>, sessionToken: string): Promise<HttpFake> {
  const calls = new Map<string, number>();
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method === 'GET' && req.url?.startsWith('/secretsmanager/get?')) {
        count(calls, 'extension.secretsmanager/get');
        const query = new URL(req.url, 'http://localhost').searchParams;
        const value = secretValueOf(secrets, query.get('secretId') ?? '', query.get('versionStage') ?? undefined);
        if (req.headers[SECRETS_EXTENSION_TOKEN_HEADER.toLowerCase()] !== sessionToken) {
          res.writeHead(401, { 'content-type': 'text/plain' }).end('unauthorized');
        } else if (value === undefined) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('an unexpected error occurred while executing request');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        }
        return;
      }
      const target = String(req.headers['x-amz-target'] ?? '');
      const input = JSON.parse((await readBody(req)) || '{}') as Record<string, unknown>;
      count(calls, target || `${req.method} ${req.url}`);
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(body));
      };
      if (target === 'secretsmanager.GetSecretValue') {
        const value = secretValueOf(secrets, String(input.SecretId), input.VersionStage);
        if (value === undefined) {
          send(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
          return;
        }
        send(200, value);
        return;
      }
      if (target === 'AWSEvents.PutEvents') {
        const entries = Array.isArray(input.Entries) ? input.Entries : [];
        send(200, { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) });
        return;
      }
      send(400, { __type: 'UnknownOperationException', message: `The bench fake does not serve ${target}.` });
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const url = await listen(server);
  return { url, calls, close: () => closeServer(server) };
}

/**
 * A Zoom for the bench's Recall: every code is a new Zoom user's first consent (so every callback takes the
 * first-connect path), and is spent on exchange.
 */
function firstConsentZoom(): ZoomCodeExchanger {
  const identities = new Map<string, ZoomIdentity>();
  let users = 0;
  const inspect = ({ code }: CodeExchangeInput): CodeExchangeResult => {
    let identity = identities.get(code);
    if (!identity) {
      identity = { userId: `bench-zoom-user-${++users}`, accountId: 'bench-zoom-account' };
      identities.set(code, identity);
    }
    return { ok: true, identity };
  };
  return {
    inspect,
    exchange(input) {
      const result = inspect(input);
      identities.delete(input.code);
      return result;
    },
  };
}

/**
 * A minimal Recall: the Recall model every stand-in shares (`local/recall-model.ts`) over HTTP, with the bench's API
 * key, taking a create for whichever OAuth app the stack under test names, and a Zoom whose every code is a new
 * user's: `POST /api/v2/zoom-oauth-credentials/` answers 201 with a new credential. No faults, latency or request
 * log (what the sandbox adds for tests): the bench measures the functions, not this server.
 */
export async function startMinimalRecall(apiKey: string): Promise<HttpFake> {
  const calls = new Map<string, number>();
  const model = new RecallModel({
    apiKey,
    oauthApp: { id: 'bench-oauth-app', clientId: 'bench-zoom-client-id', webhookSecret: 'bench-webhook-token' },
    anyOAuthApp: true,
    zoom: firstConsentZoom(),
  });
  const server = createServer((req, res) => {
    void (async () => {
      const body = Buffer.from(await readBody(req));
      const url = new URL(req.url ?? '/', 'http://recall.invalid');
      const method = req.method ?? 'GET';
      const { response } = await model.perform({
        method,
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body,
        publicBase: `http://${req.headers.host ?? 'localhost'}`,
      });
      const operation = operationOf(method, url.pathname);
      count(calls, response.status === 401 ? 'recall.unauthorized' : operation === 'create' ? 'recall.create' : `recall.${method} ${url.pathname}`);
      res.writeHead(response.status, response.headers);
      res.end(response.status === 204 ? undefined : response.body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const url = await listen(server);
  return { url, calls, close: () => closeServer(server) };
}

export interface LocalTable {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Dynalite with the service table, created by local mode's own helpers. The callback writes its consumed state and
 * the connection there; no attempt is seeded (it travels in the cookie, see `sealedAttempt`).
 */
export async function startLocalTable(tableName: string): Promise<LocalTable> {
  const dynamo = await startLocalDynamoDb();
  await createServiceTable(dynamo.endpoint, tableName);
  return { endpoint: dynamo.endpoint, close: () => dynamo.close() };
}
