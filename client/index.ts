import { signConnectToken } from '../functions/shared/connect-token.js';
import { type Connection, ConnectionSchema, ErrorBodySchema } from './connection.js';
import { type AwsSigningOptions, type RequestSigner, sigV4Signer } from './signing.js';

export { CONNECTION_STATUSES, type Connection, ConnectionSchema, type ConnectionStatus } from './connection.js';
export {
  CONNECTION_EVENT_SOURCE,
  CONNECTION_EVENT_TYPES,
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  type ConnectionEventType,
  connectionEventDetailType,
} from './events.js';
export type { AwsCredentials, AwsCredentialsSource, AwsSigningOptions } from './signing.js';

/**
 * The product backend's client for this service: mints connect links, reads and ends connections.
 *
 * ```ts
 * import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
 * import { createConnectClient } from 'recall-zoom-connect';
 *
 * const zoomConnect = createConnectClient({
 *   apiUrl: process.env.ZOOM_CONNECT_API_URL,           // the stack's ApiUrl output
 *   signingKey: await readConnectSigningKey(),          // the connect-token signing key secret
 *   aws: { region: 'us-east-1', credentials: fromNodeProviderChain() },
 * });
 * const link = await zoomConnect.createConnectUrl({ userId: 'user-42', returnTo: 'https://app.example.com/settings/' });
 * const connection = await zoomConnect.getConnection('user-42');   // undefined: never connected
 * ```
 */
export interface ConnectClientOptions {
  /** The service's base URL: the stack's API URL on AWS, `http://localhost:3000` in local mode. */
  apiUrl: string;
  /**
   * Where connect links point: the stack's `ConnectUrl` output. Only differs from `<apiUrl>/zoom/authorize` when
   * another host fronts the browser routes (`zoomRedirectUri`): the binding cookie must be set on that host.
   * @default `${apiUrl}/zoom/authorize`
   */
  connectUrl?: string | undefined;
  /** The HS256 connect-token key; only `createConnectUrl` needs it. */
  signingKey?: string | undefined;
  /** Sign requests with IAM (SigV4, `execute-api`), as the deployed `/connections` routes require. */
  aws?: AwsSigningOptions | undefined;
  /** A `fetch` to use instead of the global one (a proxy, a timeout, tests). */
  fetch?: typeof fetch | undefined;
}

export interface ConnectUrlRequest {
  /** The product's user id; it comes back as `userId` on the connection. 1 to 256 characters. */
  userId: string;
  /** Where the user lands afterwards; must be on the service's RETURN_URL_ALLOWLIST. */
  returnTo: string;
  /** How long the link can be used to start a connect flow. @default 600 */
  ttlSeconds?: number | undefined;
}

export interface ConnectClient {
  /** A signed link to `GET /zoom/authorize`: the "Connect Zoom" button's `href`. */
  createConnectUrl(request: ConnectUrlRequest): Promise<string>;
  /** The user's connection, or `undefined` when the user never connected. */
  getConnection(userId: string): Promise<Connection | undefined>;
  /** Ends the user's connection (idempotent); `undefined` when the user never connected. */
  disconnect(userId: string): Promise<Connection | undefined>;
}

/**
 * The service answered with an unexpected status or body, or could not be reached (`status` undefined). The
 * message names the operation and the status, never a token, credential or response text other than the
 * service's own `error` message.
 */
export class ConnectApiError extends Error {
  override readonly name = 'ConnectApiError';
  constructor(
    message: string,
    /** The HTTP status, or `undefined` when no response arrived. */
    readonly status: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

const MAX_USER_ID_LENGTH = 256;
const MAX_TTL_SECONDS = 86_400;
const MAX_ERROR_TEXT = 200;

/**
 * Creates a client.
 * @param options - the API URL, and the signing key and AWS credentials where the calls need them
 * @throws TypeError when `apiUrl` is not an http(s) URL
 */
export function createConnectClient(options: ConnectClientOptions): ConnectClient {
  if (!isHttpUrl(options.apiUrl)) throw new TypeError('apiUrl must be an http(s) URL.');
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  if (options.connectUrl !== undefined && !isHttpUrl(options.connectUrl)) {
    throw new TypeError('connectUrl must be an http(s) URL.');
  }
  const connectUrl = options.connectUrl ?? `${apiUrl}/zoom/authorize`;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const sign: RequestSigner | undefined = options.aws ? sigV4Signer(options.aws) : undefined;

  async function connectionRequest(method: 'GET' | 'DELETE', userId: string): Promise<Connection | undefined> {
    checkUserId(userId);
    const operation = `${method} /connections/{userId}`;
    const url = new URL(`${apiUrl}/connections/${encodeURIComponent(userId)}`);
    const headers = sign ? await sign(method, url) : { accept: 'application/json' };
    let response: Response;
    try {
      response = await fetchFn(url, { method, headers });
    } catch (error) {
      throw new ConnectApiError(`${operation} could not reach the service.`, undefined, { cause: error });
    }
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const body = await readJson(response);
    if (!response.ok) {
      const detail = ErrorBodySchema.safeParse(body);
      const suffix = detail.success ? `: ${detail.data.error.slice(0, MAX_ERROR_TEXT)}` : '';
      throw new ConnectApiError(`${operation} answered ${response.status}${suffix}`, response.status);
    }
    const connection = ConnectionSchema.safeParse(body);
    if (!connection.success) {
      throw new ConnectApiError(`${operation} answered ${response.status} with an unexpected body.`, response.status);
    }
    return connection.data;
  }

  return {
    async createConnectUrl({ userId, returnTo, ttlSeconds = 600 }) {
      if (!options.signingKey) {
        throw new TypeError(
          'createConnectUrl needs the signingKey option (the connect-token signing key the service verifies with).',
        );
      }
      checkUserId(userId);
      if (!isHttpUrl(returnTo)) throw new TypeError('returnTo must be an http(s) URL.');
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) {
        throw new TypeError(`ttlSeconds must be a whole number between 1 and ${MAX_TTL_SECONDS}.`);
      }
      const token = await signConnectToken({ userId, returnTo }, options.signingKey, ttlSeconds);
      return `${connectUrl}?connect_token=${encodeURIComponent(token)}`;
    },
    getConnection: (userId) => connectionRequest('GET', userId),
    disconnect: (userId) => connectionRequest('DELETE', userId),
  };
}

/**
 * The service accepts 1 to 256 characters. `.` and `..` cannot travel as a path segment: URL parsers resolve them
 * (even percent-encoded), so the request would reach another route.
 */
function checkUserId(userId: string): void {
  if (typeof userId !== 'string' || userId.length === 0 || userId.length > MAX_USER_ID_LENGTH) {
    throw new TypeError(`userId must be 1 to ${MAX_USER_ID_LENGTH} characters.`);
  }
  if (userId === '.' || userId === '..') throw new TypeError('userId cannot be "." or "..".');
}

function isHttpUrl(value: string): boolean {
  if (typeof value !== 'string' || !URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'http:' || protocol === 'https:';
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}
