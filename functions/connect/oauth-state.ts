import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { CompactEncrypt, compactDecrypt, type CryptoKey } from 'jose';
import * as z from 'zod/mini';

/**
 * One started connect attempt, kept by the browser that started it: sealed (encrypted and authenticated) into the
 * browser-binding cookie by the authorize step and opened by the callback. Nothing of it is stored server-side
 * until the callback uses it: then only its state's hash, to refuse a second use (`ConsumedStateRepository`).
 *
 * The seal is a JWE in compact form, `alg: dir`, `enc: A256GCM`, with a key derived from the state-key secret by
 * HKDF-SHA256 (info `recall-zoom-connect/state-cookie/v1`, 32 bytes). AES-GCM keeps the user id, return URL and
 * PKCE verifier secret and makes any change to the cookie fail to open; the payload names the SHA-256 of the state
 * it was made for, so a cookie cannot be replayed with another state. No Lambda types here.
 */
export interface OAuthState {
  /** SHA-256 (hex) of the state carried in the Zoom URL: the attempt belongs to that state and no other. */
  stateId: string;
  userId: string;
  /** Allow-listed when the attempt started. */
  returnTo: string;
  codeVerifier: string;
  /** Epoch seconds. */
  expiresAt: number;
  /**
   * When the attempt began (epoch ms): orders the attempts of one user, so that of two begun in the same second the
   * newer one's record wins.
   */
  startedAtMs: number;
  /**
   * The connect link (token) that started the attempt: the SHA-256 (hex) of the JWT and its `exp` (epoch seconds).
   * The callback uses the link up together with the state, so one link completes one connection; a re-authorize
   * the service starts itself carries it on, already used.
   */
  link?: { id: string; expiresAt: number } | undefined;
  /** How many times this attempt was sent back to Zoom for a fresh code (bounded to one). */
  reauthCount: number;
  /** Follows the attempt from authorize to callback in the logs. */
  correlationId: string;
}

export const STATE_COOKIE_KEY_INFO = 'recall-zoom-connect/state-cookie/v1';
const PAYLOAD_VERSION = 1;
/** Browsers keep cookies of up to 4096 bytes; anything longer is not one of ours and is not even parsed. */
export const MAX_SEALED_STATE_LENGTH = 4096;

/** The sealed JSON, with short names: it travels in a cookie. */
const PayloadSchema = z.strictObject({
  v: z.literal(PAYLOAD_VERSION),
  s: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  u: z.string().check(z.minLength(1), z.maxLength(256)),
  r: z.string().check(z.minLength(1), z.maxLength(4096)),
  p: z.string().check(z.regex(/^[A-Za-z0-9_-]{43,128}$/)),
  x: z.int().check(z.positive()),
  n: z.int().check(z.minimum(0), z.maximum(9)),
  c: z.string().check(z.minLength(1), z.maxLength(64)),
  t: z.int().check(z.positive()),
  l: z.optional(z.string().check(z.regex(/^[0-9a-f]{64}$/))),
  lx: z.optional(z.int().check(z.positive())),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DECRYPT_OPTIONS = { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] };

/**
 * Seals an attempt for its cookie.
 * @param secret - the current state key (the secret string; the AES key is derived from it)
 */
export async function sealOAuthState(state: OAuthState, secret: string): Promise<string> {
  const payload: z.infer<typeof PayloadSchema> = {
    v: PAYLOAD_VERSION,
    s: state.stateId,
    u: state.userId,
    r: state.returnTo,
    p: state.codeVerifier,
    x: state.expiresAt,
    n: state.reauthCount,
    c: state.correlationId,
    t: state.startedAtMs,
    ...(state.link ? { l: state.link.id, lx: state.link.expiresAt } : {}),
  };
  return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .encrypt(await stateCookieKey(secret));
}

export type OpenedOAuthState =
  | { status: 'opened'; state: OAuthState }
  /** Not sealed with any of the keys (forged, tampered with, truncated, or from before a second rotation). */
  | { status: 'unreadable' }
  /** Genuine, but made for another state. */
  | { status: 'other_state' };

/**
 * Opens a sealed attempt with each key in turn (current first, then previous) and checks that it was made for
 * `stateId`. Expiry is the caller's to check: an expired attempt still names where the user goes back to.
 */
export async function openOAuthState(sealed: string, stateId: string, secrets: readonly string[]): Promise<OpenedOAuthState> {
  const state = await openAnyOAuthState(sealed, secrets);
  if (!state) return { status: 'unreadable' };
  if (!sameHex(state.stateId, stateId)) return { status: 'other_state' };
  return { status: 'opened', state };
}

/**
 * Opens a sealed attempt with each key in turn, whatever state it was made for: for a request that carries no
 * state (Zoom's decline without one), and for counting a browser's attempts. The caller checks which it belongs to.
 * @returns the attempt, or `undefined` when no key opens it or its payload is not one this version knows
 */
export async function openAnyOAuthState(sealed: string, secrets: readonly string[]): Promise<OAuthState | undefined> {
  if (sealed.length > MAX_SEALED_STATE_LENGTH) return undefined;
  for (const secret of secrets) {
    let plaintext: Uint8Array;
    try {
      ({ plaintext } = await compactDecrypt(sealed, await stateCookieKey(secret), DECRYPT_OPTIONS));
    } catch {
      continue;
    }
    // Authenticated, so ours; a payload this version does not know (a future one) cannot be used all the same.
    const parsed = PayloadSchema.safeParse(parseJson(decoder.decode(plaintext)));
    if (!parsed.success) return undefined;
    const payload = parsed.data;
    return {
      stateId: payload.s,
      userId: payload.u,
      returnTo: payload.r,
      codeVerifier: payload.p,
      expiresAt: payload.x,
      reauthCount: payload.n,
      correlationId: payload.c,
      startedAtMs: payload.t,
      ...(payload.l && payload.lx ? { link: { id: payload.l, expiresAt: payload.lx } } : {}),
    };
  }
  return undefined;
}

/** Keys rotate rarely; a handful covers a rotation in flight without letting the map grow. */
const MAX_CACHED_KEYS = 8;
const keys = new Map<string, Promise<CryptoKey>>();

/**
 * The AES-256-GCM key for a state-key secret: HKDF-SHA256 (no salt: the secret is random, generated by the stack)
 * derived and imported once per secret, so a warm invocation seals and opens without deriving or importing.
 */
export function stateCookieKey(secret: string): Promise<CryptoKey> {
  const cached = keys.get(secret);
  if (cached) return cached;
  const raw = new Uint8Array(hkdfSync('sha256', secret, new Uint8Array(0), STATE_COOKIE_KEY_INFO, 32));
  const key = crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
  if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value as string);
  keys.set(secret, key);
  key.catch(() => keys.delete(secret));
  return key;
}

function sameHex(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
