import { createHash, randomBytes } from 'node:crypto';

/** 256 bits from the CSPRNG, base64url: states and PKCE verifiers. */
export const randomToken = (): string => randomBytes(32).toString('base64url');

export const sha256Hex = (value: string): string => createHash('sha256').update(value).digest('hex');

/** PKCE S256: BASE64URL(SHA256(ASCII(code_verifier))), RFC 7636 §4.2. */
export const pkceChallenge = (verifier: string): string => createHash('sha256').update(verifier).digest('base64url');
