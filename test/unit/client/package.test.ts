import { readFileSync, readdirSync } from 'node:fs';
import { decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  ConnectionEventParseError,
  detailTypeOf,
  EVENT_SOURCE,
  MAX_CONNECT_TOKEN_TTL_SECONDS,
  parseConnectionEvent,
  signConnectToken,
} from '../../../client/index.js';
import { MAX_USER_ID_LENGTH } from '../../../client/token.js';
import { MAX_USER_ID_LENGTH as SERVICE_MAX_USER_ID_LENGTH, verifyConnectToken } from '../../../functions/connect/connect-token.js';
import { CONNECT_TOKEN_MAX_TTL } from '../../../functions/core/config.js';
import { eventsOf } from '../../../functions/adapters/outbox.js';

const KEY = 'a-64-character-signing-key-for-tests-0123456789abcdefghijklmnopq';
const RETURN_TO = 'https://app.example.com/settings/';

describe('the client package stands alone', () => {
  it('imports nothing from the service (only its own files and its declared dependencies)', () => {
    const dir = new URL('../../../client/', import.meta.url);
    const manifest = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { dependencies: Record<string, string> };
    const allowed = new Set([...Object.keys(manifest.dependencies), 'zod/mini']);
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      const source = readFileSync(new URL(file, dir), 'utf8');
      for (const [, specifier] of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom '([^']+)'/gms)) {
        const ok = /^\.\/[a-z-]+\.js$/.test(specifier as string) || allowed.has(specifier as string) || (specifier as string).startsWith('node:');
        expect(ok, `${file} imports ${specifier}`).toBe(true);
      }
    }
  });
});

describe('signConnectToken (the package\'s)', () => {
  it('mints the three claims plus iat and jti, 60 s by default, which the service verifies', async () => {
    const token = await signConnectToken({ userId: 'user-42', returnTo: RETURN_TO }, KEY);

    await expect(verifyConnectToken(token, [KEY], [RETURN_TO])).resolves.toMatchObject({ userId: 'user-42', returnTo: RETURN_TO });
    const claims = decodeJwt(token);
    expect(Object.keys(claims).sort()).toEqual(['exp', 'iat', 'jti', 'return_to', 'sub']);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(60);
  });

  it('mints a different link each time, even for the same user in the same second (a link completes one connection)', async () => {
    const request = { userId: 'user-42', returnTo: RETURN_TO };
    const [first, second] = await Promise.all([signConnectToken(request, KEY), signConnectToken(request, KEY)]);
    expect(first).not.toBe(second);
    expect(decodeJwt(first).jti).not.toBe(decodeJwt(second).jti);
  });

  it('allows up to the service\'s default maximum lifetime, and no more', async () => {
    // The package cannot import the service, so it keeps copies of its limits: they must stay the service's own.
    expect(MAX_CONNECT_TOKEN_TTL_SECONDS).toBe(CONNECT_TOKEN_MAX_TTL.default);
    expect(MAX_USER_ID_LENGTH).toBe(SERVICE_MAX_USER_ID_LENGTH);
    const token = await signConnectToken({ userId: 'u', returnTo: RETURN_TO, ttlSeconds: MAX_CONNECT_TOKEN_TTL_SECONDS }, KEY);
    const { exp, iat } = decodeJwt(token);
    expect((exp ?? 0) - (iat ?? 0)).toBe(CONNECT_TOKEN_MAX_TTL.default);
    const longer = { userId: 'u', returnTo: RETURN_TO, ttlSeconds: CONNECT_TOKEN_MAX_TTL.default + 1 };
    await expect(signConnectToken(longer, KEY)).rejects.toThrow(TypeError);
  });

  it.each([
    ['an empty key', { userId: 'u', returnTo: RETURN_TO }, ''],
    ['a relative returnTo', { userId: 'u', returnTo: '/settings' }, KEY],
    ['a userId of ".."', { userId: '..', returnTo: RETURN_TO }, KEY],
  ])('refuses %s', async (_case, request, key) => {
    await expect(signConnectToken(request, key)).rejects.toThrow(TypeError);
  });
});

describe('lifecycle events', () => {
  // What the outbox publisher puts on the bus for a stored `revoked` entry.
  const [detail] = eventsOf({
    eventId: 'evt-1',
    type: 'revoked',
    userId: 'user-42',
    status: 'revoked',
    recallCredentialId: 'cred-1',
    zoomAccountId: null,
    zoomUserId: 'zu-1',
    occurredAt: '2026-11-01T00:00:00.000Z',
    correlationId: 'corr-1',
    attributes: [],
  });

  it('parses what the service publishes, as the EventBridge event a rule delivers or as the detail alone', () => {
    const event = { version: '0', id: 'e1', source: EVENT_SOURCE, 'detail-type': detailTypeOf('revoked'), detail };
    expect(parseConnectionEvent(event)).toEqual(detail);
    expect(parseConnectionEvent(JSON.parse(JSON.stringify(detail)))).toEqual(detail);
  });

  it('keeps the eventId, and drops fields a newer service adds', () => {
    const parsed = parseConnectionEvent({ ...detail, eventId: 'evt-2', addedLater: true });
    expect(parsed.eventId).toBe('evt-2');
    expect(parsed).not.toHaveProperty('addedLater');
  });

  it('refuses what is not a lifecycle event, naming the fields but not their values', () => {
    expect(() => parseConnectionEvent({ ...detail, type: 'exploded', userId: 42 })).toThrow(ConnectionEventParseError);
    expect(() => parseConnectionEvent({ ...detail, type: 'exploded' })).toThrow(/check type\./);
    expect(() => parseConnectionEvent({ ...detail, schemaVersion: 2 })).toThrow(/schemaVersion/);
    expect(() =>
      parseConnectionEvent({ source: EVENT_SOURCE, 'detail-type': detailTypeOf('connected'), detail }),
    ).toThrow(/detail-type and detail.type disagree/);
    expect(() => parseConnectionEvent(null)).toThrow(ConnectionEventParseError);
  });
});
