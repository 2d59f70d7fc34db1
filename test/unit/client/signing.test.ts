import { createHash, createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AwsCredentials } from '../../../client/index.js';
import { API, API_HOST, CONNECTION, fakeClient, json } from './fake-api.js';

const REGION = 'us-west-2';
const NOW = new Date('2026-11-30T18:00:00.000Z');
const CREDENTIALS: AwsCredentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};
const SESSION_TOKEN = 'session-token-from-sts';

/** A client signing with `credentials`, whose every request gets a connection; what it sent. */
const signingClient = (credentials: AwsCredentials | (() => Promise<AwsCredentials>) = CREDENTIALS) =>
  fakeClient(() => json(200, CONNECTION), { aws: { region: REGION, credentials } });

/**
 * SigV4 written out from AWS's documentation, independent of @smithy/signature-v4: the canonical request of an
 * `execute-api` call encodes each path segment twice, which is what API Gateway recomputes.
 */
function expectedSignature(method: string, encodedPath: string, headers: Headers, secret: string): string {
  const authorization = headers.get('authorization') ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1] ?? '';
  const names = signedHeaders.split(';');
  const value = (name: string) => (name === 'host' ? API_HOST : (headers.get(name) ?? ''));
  const emptyHash = createHash('sha256').update('').digest('hex');
  const canonicalPath = encodedPath
    .split('/')
    .map((segment) => encodeURIComponent(segment))
    .join('/');
  const canonicalRequest = [
    method,
    canonicalPath,
    '',
    ...names.map((name) => `${name}:${value(name).trim()}`),
    '',
    signedHeaders,
    emptyHash,
  ].join('\n');
  const amzDate = headers.get('x-amz-date') ?? '';
  const scope = `${amzDate.slice(0, 8)}/${REGION}/execute-api/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  );
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, amzDate.slice(0, 8)), REGION), 'execute-api'), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign).digest('hex');
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('IAM (SigV4) signing with `aws`', () => {
  it('signs for execute-api in the given region, with x-amz-date', async () => {
    const { sent, connect } = signingClient();

    await connect.getConnection('user-42');

    const headers = sent[0]?.headers;
    expect(headers?.get('authorization')).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261130\/us-west-2\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$/,
    );
    expect(headers?.get('x-amz-date')).toBe('20261130T180000Z');
    expect(headers?.get('x-amz-security-token')).toBeNull();
    expect(headers?.get('authorization')).toContain('SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date');
  });

  it('adds x-amz-security-token (and signs it) for temporary credentials', async () => {
    const { sent, connect } = signingClient({ ...CREDENTIALS, sessionToken: SESSION_TOKEN });

    await connect.disconnect('user-42');

    expect(sent[0]?.method).toBe('DELETE');
    expect(sent[0]?.headers.get('x-amz-security-token')).toBe(SESSION_TOKEN);
    expect(sent[0]?.headers.get('authorization')).toContain('x-amz-security-token');
  });

  it('takes a credentials provider and asks it for every request (rotated credentials are picked up)', async () => {
    const keys = ['AKIDFIRST', 'AKIDSECOND'];
    const provider = vi.fn(async () => ({ ...CREDENTIALS, accessKeyId: keys.shift() ?? 'AKIDLAST' }));
    const { sent, connect } = signingClient(provider);

    await connect.getConnection('user-42');
    await connect.getConnection('user-42');

    expect(sent.map((s) => /Credential=([A-Z]+)\//.exec(s.headers.get('authorization') ?? '')?.[1])).toEqual([
      'AKIDFIRST',
      'AKIDSECOND',
    ]);
  });

  it('computes the signature API Gateway expects, with the encoded user id encoded again in the canonical path', async () => {
    const { sent, connect } = signingClient({ ...CREDENTIALS, sessionToken: SESSION_TOKEN });

    await connect.getConnection('user@example.com');

    const request = sent[0];
    expect(request?.url).toBe(`${API}/connections/user%40example.com`);
    const signature = /Signature=([0-9a-f]{64})$/.exec(request?.headers.get('authorization') ?? '')?.[1];
    expect(signature).toBe(
      expectedSignature('GET', '/connections/user%40example.com', request?.headers ?? new Headers(), CREDENTIALS.secretAccessKey),
    );
  });

  it('never sends the secret access key', async () => {
    const { sent, connect } = signingClient();

    await connect.getConnection('user-42');

    const everything = [sent[0]?.url, ...[...(sent[0]?.headers.entries() ?? [])].flat()].join('\n');
    expect(everything).not.toContain(CREDENTIALS.secretAccessKey);
  });
});
