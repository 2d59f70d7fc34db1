import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/** AWS credentials, as the SDK's providers resolve them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

/** Static credentials, or a provider such as `fromNodeProviderChain()` from `@aws-sdk/credential-providers`. */
export type AwsCredentialsSource = AwsCredentials | (() => Promise<AwsCredentials>);

export interface AwsSigningOptions {
  /** The region of the deployed stack (the API's `execute-api` endpoint). */
  region: string;
  credentials: AwsCredentialsSource;
}

export type RequestSigner = (method: string, url: URL) => Promise<Record<string, string>>;

/**
 * Signs requests for an IAM-authorized API Gateway route: SigV4, service `execute-api`. The path is signed as
 * sent (already percent-encoded); the signer encodes it once more, as SigV4 requires for every service but S3.
 * @returns the headers to send (`authorization`, `x-amz-date`, `x-amz-security-token` with a session token, ...)
 */
export function sigV4Signer(options: AwsSigningOptions): RequestSigner {
  const signer = new SignatureV4({
    service: 'execute-api',
    region: options.region,
    credentials: options.credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
  return async (method, url) => {
    const signed = await signer.sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, accept: 'application/json' },
    });
    // fetch sets `host` itself, from the same URL.
    const { host: _host, ...headers } = signed.headers;
    return headers;
  };
}
