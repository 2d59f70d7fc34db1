import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENTS_HEADER_NAME, parseDeployConfig } from '../../../lib/config.js';
import { problemsWith, REQUIRED_CONTEXT } from './helpers.js';

const parse = (context: Record<string, unknown>) => parseDeployConfig({ ...REQUIRED_CONTEXT, ...context });

describe('eventsEndpoint', () => {
  it('is off by default, and null or an empty -c value mean off', () => {
    expect(parse({}).eventsEndpoint).toBeUndefined();
    expect(parse({ eventsEndpoint: null }).eventsEndpoint).toBeUndefined();
    expect(parse({ eventsEndpoint: '' }).eventsEndpoint).toBeUndefined();
  });

  it('defaults the header name and the rate limit, and takes JSON from -c', () => {
    expect(parse({ eventsEndpoint: { url: 'https://api.example.com/hooks' } }).eventsEndpoint).toEqual({
      url: 'https://api.example.com/hooks',
      headerName: DEFAULT_EVENTS_HEADER_NAME,
      rateLimitPerSecond: 10,
    });
    expect(
      parse({ eventsEndpoint: '{"url":"https://api.example.com/h?src=zoom","headerName":"X-Acme-Secret","rateLimitPerSecond":"300"}' })
        .eventsEndpoint,
    ).toEqual({ url: 'https://api.example.com/h?src=zoom', headerName: 'X-Acme-Secret', rateLimitPerSecond: 300 });
  });

  it.each([
    ['http://api.example.com/hooks', 'must use https, not http'],
    ['https://localhost:8443/hooks', 'points at this machine'],
    ['https://127.0.0.1/hooks', 'points at this machine'],
    ['https://user:pass@api.example.com/hooks', 'must not carry credentials'],
    ['https://api.example.com/hooks#part', 'must not have a #fragment'],
    ['https://api.example.com/hooks/*', 'must not contain "*"'],
    ['api.example.com/hooks', 'is not an absolute URL'],
    [`https://api.example.com/${'a'.repeat(2048)}`, 'at most 2048 characters'],
  ])('rejects the url %s', (url, message) => {
    expect(problemsWith({ eventsEndpoint: { url } })).toContain(message);
  });

  it.each(['Host', 'content-type', 'User-Agent', 'x-amz-date', 'X-Amzn-Trace-Id', 'x secret', 'x-secret:', ''])(
    'rejects the header name %j',
    (headerName) => {
      expect(problemsWith({ eventsEndpoint: { url: 'https://api.example.com/h', headerName } })).toContain(
        'eventsEndpoint.headerName',
      );
    },
  );

  it('rejects a rate outside 1 to 300, unknown keys (a secret among them), and a value that is no object', () => {
    expect(problemsWith({ eventsEndpoint: { url: 'https://api.example.com/h', rateLimitPerSecond: 0 } })).toContain(
      'eventsEndpoint.rateLimitPerSecond must be between 1 and 300',
    );
    expect(problemsWith({ eventsEndpoint: { url: 'https://api.example.com/h', rateLimitPerSecond: 301 } })).toContain(
      'between 1 and 300',
    );
    // The secret is generated into Secrets Manager: the config has no place for one.
    const withSecret = problemsWith({ eventsEndpoint: { url: 'https://api.example.com/h', secret: 'hunter2' } });
    expect(withSecret).toContain('eventsEndpoint takes only url, headerName and rateLimitPerSecond, not secret');
    expect(withSecret).not.toContain('hunter2');
    expect(problemsWith({ eventsEndpoint: 42 })).toContain('eventsEndpoint must be an object');
  });
});

describe('connectionsAuth', () => {
  it('defaults to IAM, as before', () => {
    expect(parse({}).connectionsAuth).toEqual({ type: 'iam' });
    expect(parse({ connectionsAuth: null }).connectionsAuth).toEqual({ type: 'iam' });
    expect(parse({ connectionsAuth: '{"type":"iam"}' }).connectionsAuth).toEqual({ type: 'iam' });
  });

  it('takes a JWT issuer kept as written (trailing slash included), one or more audiences, and optional scopes', () => {
    expect(
      parse({ connectionsAuth: { type: 'jwt', issuer: 'https://acme.eu.auth0.com/', audience: 'https://zoom-connect.acme.test' } })
        .connectionsAuth,
    ).toEqual({ type: 'jwt', issuer: 'https://acme.eu.auth0.com/', audience: ['https://zoom-connect.acme.test'] });
    expect(
      parse({
        connectionsAuth: {
          type: 'jwt',
          issuer: 'https://login.microsoftonline.com/0000-tenant/v2.0',
          audience: ['api://zoom-connect', 'client-2'],
          scopes: { read: 'Connections.Read', write: 'Connections.Write' },
        },
      }).connectionsAuth,
    ).toEqual({
      type: 'jwt',
      issuer: 'https://login.microsoftonline.com/0000-tenant/v2.0',
      audience: ['api://zoom-connect', 'client-2'],
      scopes: { read: 'Connections.Read', write: 'Connections.Write' },
    });
  });

  it.each([
    [{ type: 'jwt', issuer: 'http://issuer.example.com/', audience: ['a'] }, 'connectionsAuth.issuer "http://issuer.example.com/" must use https'],
    [{ type: 'jwt', issuer: 'https://localhost/', audience: ['a'] }, 'points at this machine'],
    [{ type: 'jwt', issuer: 'https://issuer.example.com/?tenant=1', audience: ['a'] }, 'must not have a ?query'],
    [{ type: 'jwt', issuer: 'https://issuer.example.com/' }, 'connectionsAuth.audience must list'],
    [{ type: 'jwt', issuer: 'https://issuer.example.com/', audience: [] }, 'connectionsAuth.audience must list'],
    [{ type: 'jwt', issuer: 'https://issuer.example.com/', audience: ['  '] }, 'connectionsAuth.audience must list'],
    [{ type: 'jwt', audience: ['a'] }, 'connectionsAuth.issuer must be an https URL'],
    [{ type: 'jwt', issuer: 'https://i.example.com/', audience: ['a'], scopes: { read: 'a b', write: 'w' } }, 'connectionsAuth.scopes.read must be one scope name'],
    [{ type: 'jwt', issuer: 'https://i.example.com/', audience: ['a'], scopes: { read: 'r' } }, 'connectionsAuth.scopes.write'],
    [{ type: 'jwt', issuer: 'https://i.example.com/', audience: ['a'], scopes: 'read' }, 'connectionsAuth.scopes must be'],
    [{ type: 'jwt', issuer: 'https://i.example.com/', audience: ['a'], clientSecret: 'x' }, 'takes issuer, audience and scopes, not clientSecret'],
    [{ type: 'iam', issuer: 'https://i.example.com/' }, 'connectionsAuth of type iam takes no other key, not issuer'],
    [{ type: 'cognito' }, 'connectionsAuth must be {"type": "iam"} or {"type": "jwt"'],
    ['jwt', 'connectionsAuth must be {"type": "iam"} or {"type": "jwt"'],
  ])('rejects %j', (connectionsAuth, message) => {
    expect(problemsWith({ connectionsAuth })).toContain(message);
  });
});
