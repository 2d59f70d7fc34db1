import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MAX_CONNECT_TOKEN_TTL_SECONDS, signConnectToken } from '../client/token.js';
import { allowedReturnUrl, allowlistEntries } from '../functions/core/return-url.js';
import { AUTHORIZE_PATH } from '../functions/core/routes.js';
import { LOCAL_DEFAULTS } from './local-settings.js';
import { type RunningServer, runningServers } from './server-registry.js';

/**
 * `npm run connect-link -- --user <id> --return-to <url>` prints one connect URL on stdout and nothing else, so
 * scripts can capture it. Everything else (usage, errors) goes to stderr.
 *
 * Local mode (no --api-url): signs with CONNECT_SIGNING_KEY (default: local mode's fixed development key) for
 * `/zoom/authorize` on the local server: the origin of ZOOM_REDIRECT_URI if set, else the server on $PORT, else the
 * one `npm start` running now (found through server-registry.ts), else http://localhost:3000 with a note saying so.
 * A --return-to that is not on the server's allow-list gets a warning: the service would refuse the link.
 * A deployed stack: --api-url <base> and the key from Secrets Manager, named by --signing-key-secret-id or, with
 * --api-url, by SIGNING_KEY_SECRET_ID (or the key itself in CONNECT_SIGNING_KEY).
 */

const USAGE = `Usage: npm run connect-link -- --user <product user id> --return-to <url> [options]

Options:
  --user <id>                     product user id (the token's sub), 1-256 characters
  --return-to <url>               where the user lands afterwards; must be on the service's RETURN_URL_ALLOWLIST
  --ttl <seconds>                 token lifetime, default 600, at most 900 (the service's default limit)
  --api-url <base>                a deployed API's base URL (default: the local server)
  --signing-key-secret-id <id>    read the signing key from AWS Secrets Manager (default with --api-url:
                                  $SIGNING_KEY_SECRET_ID)
  -h, --help                      show this help
`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface LinkRequest {
  userId: string;
  returnTo: string;
  ttlSeconds: number;
  apiUrl: string;
  key: { source: 'value'; value: string } | { source: 'secrets-manager'; secretId: string };
  /** What the user should know (for stderr): where the port came from, a return URL the service would refuse. */
  notes: string[];
}

/**
 * Parses and checks the command line.
 * @throws UsageError with a message for the user
 */
export function parseLinkRequest(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  servers: readonly RunningServer[] = [],
): LinkRequest | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        user: { type: 'string' },
        'return-to': { type: 'string' },
        ttl: { type: 'string' },
        'api-url': { type: 'string' },
        'signing-key-secret-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : 'Invalid arguments.');
  }
  if (values.help) return 'help';

  const userId = values.user;
  if (!userId || userId.length > 256) throw new UsageError('--user is required (1 to 256 characters).');
  const returnTo = values['return-to'];
  if (!returnTo || !isHttpUrl(returnTo)) throw new UsageError('--return-to is required and must be an http(s) URL.');
  const ttlSeconds = values.ttl === undefined ? 600 : Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_CONNECT_TOKEN_TTL_SECONDS) {
    throw new UsageError(`--ttl must be a whole number of seconds between 1 and ${MAX_CONNECT_TOKEN_TTL_SECONDS}.`);
  }

  const deployedApi = values['api-url'];
  if (deployedApi !== undefined && !isHttpUrl(deployedApi)) throw new UsageError('--api-url must be an http(s) URL.');
  // SIGNING_KEY_SECRET_ID alone never applies to a local link: a developer shell may have it set for another stack.
  const secretId = values['signing-key-secret-id'] ?? (deployedApi ? env.SIGNING_KEY_SECRET_ID : undefined);
  const key: LinkRequest['key'] | undefined = secretId
    ? { source: 'secrets-manager', secretId }
    : env.CONNECT_SIGNING_KEY
      ? { source: 'value', value: env.CONNECT_SIGNING_KEY }
      : deployedApi
        ? undefined
        : { source: 'value', value: LOCAL_DEFAULTS.connectSigningKey };
  if (!key) {
    throw new UsageError(
      'A deployed API needs its signing key: pass --signing-key-secret-id <id> or set SIGNING_KEY_SECRET_ID.',
    );
  }
  const target = deployedApi
    ? { apiUrl: deployedApi, allowlist: env.RETURN_URL_ALLOWLIST, notes: [] }
    : localTarget(env, servers, returnTo);
  const notes = [...target.notes];
  if (target.allowlist !== undefined) {
    const entries = allowlistEntries(target.allowlist);
    if (!allowedReturnUrl(returnTo, entries)) {
      notes.push(
        `Warning: --return-to ${returnTo} is not on the return-URL allow-list (${entries.join(', ')}), so the ` +
          'service will refuse this link. Use a return URL under one of those entries, or add one to RETURN_URL_ALLOWLIST.',
      );
    }
  }
  return { userId, returnTo, ttlSeconds, apiUrl: target.apiUrl, key, notes };
}

/** The local server the link is for, and its allow-list, from PORT, else the running server(s), else the default. */
function localTarget(
  env: NodeJS.ProcessEnv,
  servers: readonly RunningServer[],
  returnTo: string,
): { apiUrl: string; allowlist: string | undefined; notes: string[] } {
  const notes: string[] = [];
  let port: number;
  let server: RunningServer | undefined;
  if (env.PORT) {
    port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new UsageError('PORT must be a port number.');
    server = servers.find((candidate) => candidate.port === port);
  } else {
    const returnOrigin = new URL(returnTo).origin;
    server =
      servers.length === 1
        ? servers[0]
        : servers.find((candidate) => new URL(candidate.baseUrl).origin === returnOrigin);
    if (!server && servers.length > 1) {
      throw new UsageError(
        `Several local servers are running (ports ${servers.map(({ port: p }) => p).join(', ')}): set PORT to the one ` +
          'the link is for.',
      );
    }
    port = server?.port ?? LOCAL_DEFAULTS.port;
    notes.push(
      server
        ? `Using the local server running on port ${port} (set PORT to choose another).`
        : `No running local server found (npm start), so the link is for port ${port}; set PORT if it will run elsewhere.`,
    );
  }
  const redirectUri = env.ZOOM_REDIRECT_URI && isHttpUrl(env.ZOOM_REDIRECT_URI) ? env.ZOOM_REDIRECT_URI : undefined;
  const apiUrl = redirectUri ? new URL(redirectUri).origin : (server?.apiBaseUrl ?? `http://localhost:${port}`);
  const allowlist = env.RETURN_URL_ALLOWLIST || server?.returnUrlAllowlist || `http://localhost:${port}/`;
  return { apiUrl, allowlist, notes };
}

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

/**
 * Reads the signing key (a plain string secret). Errors name the secret, never its value. The SDK is imported
 * here, so that local links do not pay for loading it.
 */
async function readSigningKey(secretId: string): Promise<string> {
  const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({});
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (!SecretString) throw new Error(`Secret ${secretId} has no string value.`);
    return SecretString;
  } finally {
    client.destroy();
  }
}

/**
 * Builds the connect URL: `<api>/zoom/authorize?connect_token=<JWT>`.
 * @param request - the parsed command line
 */
export async function connectLink(request: LinkRequest): Promise<string> {
  const signingKey = request.key.source === 'value' ? request.key.value : await readSigningKey(request.key.secretId);
  const token = await signConnectToken(
    { userId: request.userId, returnTo: request.returnTo, ttlSeconds: request.ttlSeconds },
    signingKey,
  );
  return `${request.apiUrl.replace(/\/+$/, '')}${AUTHORIZE_PATH}?connect_token=${encodeURIComponent(token)}`;
}

async function main(): Promise<number> {
  let request: LinkRequest | 'help';
  try {
    request = parseLinkRequest(process.argv.slice(2), process.env, runningServers());
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (request === 'help') {
    process.stderr.write(USAGE);
    return 0;
  }
  for (const note of request.notes) process.stderr.write(`${note}\n`);
  try {
    process.stdout.write(`${await connectLink(request)}\n`);
    return 0;
  } catch (error) {
    const name = error instanceof Error ? error.name : 'Error';
    const message = error instanceof Error ? error.message : '';
    process.stderr.write(`Could not create the connect link: ${name}${message ? `: ${message}` : ''}\n`);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
