import { type Connection, ConnectionSchema, ErrorBodySchema } from './connection.js';
import { type AwsSigningOptions, type RequestSigner, sigV4Signer } from './signing.js';
import { checkUserId, isHttpUrl, signConnectToken } from './token.js';

export { CONNECTION_STATUSES, type Connection, ConnectionSchema, type ConnectionStatus } from './connection.js';
export {
  CONNECTION_EVENT_TYPES,
  type ConnectionEventDetail,
  ConnectionEventDetailSchema,
  ConnectionEventParseError,
  type ConnectionEventType,
  detailTypeOf,
  EVENT_SOURCE,
  parseConnectionEvent,
} from './events.js';
export type { AwsCredentials, AwsCredentialsSource, AwsSigningOptions, RequestSigner } from './signing.js';
export { sigV4Signer } from './signing.js';
export {
  type ConnectTokenRequest,
  DEFAULT_CONNECT_TOKEN_TTL_SECONDS,
  MAX_CONNECT_TOKEN_TTL_SECONDS,
  signConnectToken,
} from './token.js';

/**
 * The product backend's client for this service: mints connect links, reads and ends connections.
 *
 * ```ts
 * import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
 * import { createConnectClient } from '@recall-zoom-connect/client';
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
  /** Sign requests with IAM (SigV4, `execute-api`), as the deployed `/connections` routes require by default. */
  aws?: AwsSigningOptions | undefined;
  /**
   * Or send `Authorization: Bearer <token>`, for a stack whose `connectionsAuth` is `jwt`: a token from the
   * product's own OpenID Connect provider, with the read scope for `getConnection` and the write scope for
   * `disconnect`. Called before every request, so it can hand out a cached token and refresh it as it expires.
   * Not together with `aws` or `signRequest`.
   */
  bearerToken?: BearerTokenProvider | undefined;
  /**
   * Or sign them yourself: called for every `/connections` request, it returns the headers to add (for example an
   * `authorization` header of another scheme). Not together with `aws` or `bearerToken`.
   */
  signRequest?: RequestSigner | undefined;
  /** A `fetch` to use instead of the global one (a proxy, a timeout, tests). */
  fetch?: typeof fetch | undefined;
}

/** Returns the current access token (a JWT), e.g. from a client-credentials grant, cached until it expires. */
export type BearerTokenProvider = () => Promise<string> | string;

export interface ConnectUrlRequest {
  /** The product's user id; it comes back as `userId` on the connection. 1 to 256 characters. */
  userId: string;
  /** Where the user lands afterwards; must be on the service's RETURN_URL_ALLOWLIST. */
  returnTo: string;
  /** How long the link can be used to start a connect flow, 1 to 900 seconds. @default 60 */
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

const MAX_ERROR_TEXT = 200;

/**
 * Creates a client.
 * @param options - the API URL, and the signing key and AWS credentials where the calls need them
 * @throws TypeError when `apiUrl` is not an http(s) URL, or both `aws` and `signRequest` are given
 */
export function createConnectClient(options: ConnectClientOptions): ConnectClient {
  if (!isHttpUrl(options.apiUrl)) throw new TypeError('apiUrl must be an http(s) URL.');
  const apiUrl = options.apiUrl.replace(/\/+$/, '');
  if (options.connectUrl !== undefined && !isHttpUrl(options.connectUrl)) {
    throw new TypeError('connectUrl must be an http(s) URL.');
  }
  const connectUrl = options.connectUrl ?? `${apiUrl}/zoom/authorize`;
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  const signers = [options.aws, options.bearerToken, options.signRequest].filter((given) => given !== undefined);
  if (signers.length > 1) {
    throw new TypeError('Pass one of aws (SigV4), bearerToken or signRequest: the API uses one of them (connectionsAuth).');
  }
  const sign: RequestSigner | undefined = options.aws
    ? sigV4Signer(options.aws)
    : options.bearerToken
      ? bearerSigner(options.bearerToken)
      : options.signRequest;

  async function connectionRequest(method: 'GET' | 'DELETE', userId: string): Promise<Connection | undefined> {
    checkUserId(userId);
    const operation = `${method} /connections/{userId}`;
    const url = new URL(`${apiUrl}/connections/${encodeURIComponent(userId)}`);
    const headers = { accept: 'application/json', ...(sign ? await sign(method, url) : {}) };
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
    async createConnectUrl({ userId, returnTo, ttlSeconds }) {
      if (!options.signingKey) {
        throw new TypeError(
          'createConnectUrl needs the signingKey option (the connect-token signing key the service verifies with).',
        );
      }
      const token = await signConnectToken({ userId, returnTo, ttlSeconds }, options.signingKey);
      return `${connectUrl}?connect_token=${encodeURIComponent(token)}`;
    },
    getConnection: (userId) => connectionRequest('GET', userId),
    disconnect: (userId) => connectionRequest('DELETE', userId),
  };
}

/** RFC 6750's `b64token`: what may follow `Bearer ` in the header (a JWT always fits). */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Headers carrying the provider's current token; the token never appears in an error. */
function bearerSigner(provider: BearerTokenProvider): RequestSigner {
  return async (method) => {
    let token: unknown;
    try {
      token = await provider();
    } catch (error) {
      throw new ConnectApiError(`${method} /connections/{userId}: the bearer token provider failed.`, undefined, { cause: error });
    }
    if (typeof token !== 'string' || !BEARER_TOKEN.test(token)) {
      throw new TypeError('bearerToken must return a non-empty access token (a JWT), with no spaces or line breaks.');
    }
    return { accept: 'application/json', authorization: `Bearer ${token}` };
  };
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return undefined;
  }
}
