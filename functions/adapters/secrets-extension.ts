import { request } from 'node:http';
import { MisconfiguredError } from '../core/errors.js';
import type { SecretReader, SecretVersionStage } from './secrets.js';

/**
 * Reads secrets through the AWS Parameters and Secrets Lambda Extension: AWS's own caching secret reader, a layer
 * that answers `GET http://localhost:<port>/secretsmanager/get?secretId=...&versionStage=...` with what
 * GetSecretValue returns. The function then needs no AWS SDK to read a secret (the authorize step needs nothing
 * else from AWS, so its bundle carries no SDK at all), and the extension's cache survives the function's own.
 *
 * The extension serves requests only while the function is invoked, not during init: secrets are read per request
 * (and cached by `SecretStore`), never at module scope.
 *
 * How it answers a failure is not documented. Versions seen in the field answer every failure (no such secret, no
 * such version stage, access denied) with the same bare `400`; the open-source Secrets Manager Agent speaking the
 * same protocol answers Secrets Manager's own status and `{"__type": "ResourceNotFoundException", ...}`. Both are
 * understood here: a typed answer is classified by its type; a bare 400 for `AWSPREVIOUS` is a secret never rotated
 * (the function reads `AWSCURRENT` of the same secret with the same grant, so access is not the problem), and a bare
 * 400 for the current version is a misconfiguration the extension's own log line in this function's log group
 * explains.
 */

/** The extension's documented default port; CDK's `paramsAndSecrets` sets PARAMETERS_SECRETS_EXTENSION_HTTP_PORT. */
export const SECRETS_EXTENSION_DEFAULT_PORT = 2773;
/** The extension refuses requests that do not carry the function's session token in this header. */
export const SECRETS_EXTENSION_TOKEN_HEADER = 'X-Aws-Parameters-Secrets-Token';
const DEFAULT_TIMEOUT_MS = 3_000;
/** A secret is at most 64 KB; an answer much larger than that is not a secret. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** Secrets Manager errors that ops must fix; any other typed error is passed on as transient. */
const UNREADABLE_TYPES = new Set([
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'InvalidParameterException',
  'ValidationException',
]);

/** The extension could not be asked, or did not answer usefully; worth trying again on the next request. */
export class SecretsExtensionError extends Error {
  override readonly name = 'SecretsExtensionError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ExtensionReaderOptions {
  /**
   * Where PARAMETERS_SECRETS_EXTENSION_HTTP_PORT and AWS_SESSION_TOKEN are read, at each read (a read is a cache
   * miss: rare); `process.env` by default.
   */
  env?: NodeJS.ProcessEnv;
  /** Per read; the extension itself waits for Secrets Manager on a cache miss. */
  timeoutMs?: number;
}

/**
 * @throws from `read`: MisconfiguredError (the layer is missing, the token is not set or refused, the secret is
 *   unreadable or has no string value), SecretsExtensionError (timeout, connection reset, 5xx, throttling)
 */
export function extensionSecretReader(options: ExtensionReaderOptions = {}): SecretReader {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return {
    async read(secretId, versionStage) {
      const env = options.env ?? process.env;
      const token = env.AWS_SESSION_TOKEN;
      if (!token) {
        throw new MisconfiguredError(
          'AWS_SESSION_TOKEN is not set: the Parameters and Secrets extension answers only requests that carry it.',
          { secret: secretId, fields: ['AWS_SESSION_TOKEN'] },
        );
      }
      const port = extensionPort(env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, secretId);
      const query = new URLSearchParams({ secretId, ...(versionStage ? { versionStage } : {}) });
      const answer = await get(port, `/secretsmanager/get?${query}`, token, timeoutMs, secretId);
      return interpret(answer, secretId, versionStage);
    },
  };
}

function extensionPort(value: string | undefined, secretId: string): number {
  if (value === undefined || value === '') return SECRETS_EXTENSION_DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new MisconfiguredError('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT is not a port number.', {
      secret: secretId,
      fields: ['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT'],
    });
  }
  return port;
}

interface Answer {
  status: number;
  body: Buffer;
}

function get(port: number, path: string, token: string, timeoutMs: number, secretId: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: 'localhost', port, path, method: 'GET', headers: { [SECRETS_EXTENSION_TOKEN_HEADER]: token } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            req.destroy(new SecretsExtensionError(`The Parameters and Secrets extension answered more than 1 MiB for secret ${secretId}.`));
          } else chunks.push(chunk);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', fail);
      },
    );
    const timer = setTimeout(
      () => req.destroy(new SecretsExtensionError(`The Parameters and Secrets extension did not answer within ${timeoutMs} ms (secret ${secretId}).`)),
      timeoutMs,
    );
    function fail(error: unknown): void {
      clearTimeout(timer);
      if (error instanceof SecretsExtensionError) reject(error);
      else if (codeOf(error) === 'ECONNREFUSED') {
        reject(
          new MisconfiguredError(
            `Nothing answers on localhost:${port}: is the AWS Parameters and Secrets Lambda Extension layer attached, and PARAMETERS_SECRETS_EXTENSION_HTTP_PORT its port?`,
            { secret: secretId, fields: ['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT'], cause: error },
          ),
        );
      } else {
        reject(
          new SecretsExtensionError(`Reading secret ${secretId} through the Parameters and Secrets extension failed (${codeOf(error) ?? 'network error'}).`, undefined, {
            cause: error,
          }),
        );
      }
    }
    req.on('error', fail);
    req.end();
  });
}

/** Turns the extension's answer into a value, `undefined` (no such version) or the right error. Never quotes the body. */
function interpret(answer: Answer, secretId: string, versionStage: SecretVersionStage | undefined): string | undefined {
  const { status } = answer;
  const label = versionStage === 'AWSPREVIOUS' ? ` (${versionStage})` : '';
  if (status === 200) {
    const json = parseJson(answer.body);
    if (!isObject(json)) {
      throw new SecretsExtensionError(`The Parameters and Secrets extension answered secret ${secretId}${label} with a body that is not GetSecretValue's.`, status);
    }
    if (typeof json.SecretString === 'string' && json.SecretString.length > 0) return json.SecretString;
    throw new MisconfiguredError(`Secret ${secretId}${label} has no string value.`, { secret: secretId });
  }
  if (status === 401 || status === 403) {
    throw new MisconfiguredError(
      `The Parameters and Secrets extension refused to read secret ${secretId} (HTTP ${status}): the ${SECRETS_EXTENSION_TOKEN_HEADER} header must be this function's AWS_SESSION_TOKEN.`,
      { secret: secretId, fields: ['AWS_SESSION_TOKEN'] },
    );
  }
  if (status === 400 || status === 404) {
    const type = errorTypeOf(answer.body);
    if (type === 'ResourceNotFoundException') return undefined;
    if (type !== undefined && UNREADABLE_TYPES.has(type)) {
      throw new MisconfiguredError(`Secret ${secretId}${label} cannot be read (${type}).`, { secret: secretId });
    }
    if (type !== undefined) {
      throw new SecretsExtensionError(`The Parameters and Secrets extension could not read secret ${secretId}${label} (${type}).`, status);
    }
    // A bare 400. See the module comment: for the previous version, it is a secret never rotated.
    if (versionStage === 'AWSPREVIOUS') return undefined;
    throw new MisconfiguredError(
      `Secret ${secretId} cannot be read through the Parameters and Secrets extension (HTTP ${status}: the secret does not exist, or this function may not read it; the extension's log line in this function's log group says which).`,
      { secret: secretId },
    );
  }
  throw new SecretsExtensionError(`The Parameters and Secrets extension answered HTTP ${status} for secret ${secretId}${label}.`, status);
}

/** `ResourceNotFoundException` from `{"__type": "com.amazonaws.secretsmanager#ResourceNotFoundException"}` and kin. */
function errorTypeOf(body: Buffer): string | undefined {
  const json = parseJson(body);
  if (!isObject(json)) return undefined;
  const raw = [json.__type, json.code, json.Code, json.errorType].find((value) => typeof value === 'string') as string | undefined;
  const type = raw?.split(/[#:]/).filter(Boolean).at(-1);
  // Only a name goes on into messages and decisions, never free text from the body.
  return type && /^[A-Za-z]{1,64}$/.test(type) ? type : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;

const codeOf = (error: unknown): string | undefined => {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};
