import { describe, expect, it } from 'vitest';
import { allowedReturnUrl, allowlistEntries, withOutcome } from '../../../functions/core/return-url.js';

describe('allowedReturnUrl', () => {
  describe('matches allow-list entries as URLs, not as string prefixes', () => {
    it('refuses a host that merely starts with the allowed host and port', () => {
      expect(allowedReturnUrl('http://127.0.0.1:8080.evil.example/', ['http://127.0.0.1:8080/'])).toBeUndefined();
    });

    it('accepts the allowed origin itself and paths under it', () => {
      const allowlist = ['http://127.0.0.1:8080/'];

      expect(allowedReturnUrl('http://127.0.0.1:8080/', allowlist)?.href).toBe('http://127.0.0.1:8080/');
      expect(allowedReturnUrl('http://127.0.0.1:8080/done?x=1', allowlist)?.href).toBe('http://127.0.0.1:8080/done?x=1');
    });

    it('refuses a sibling path that shares the entry path as a string prefix', () => {
      expect(allowedReturnUrl('https://app.example/settings-evil', ['https://app.example/settings'])).toBeUndefined();
      expect(allowedReturnUrl('https://app.example/settingsx/a', ['https://app.example/settings'])).toBeUndefined();
    });

    it('accepts the entry path and paths below it when the entry has no trailing slash', () => {
      const allowlist = ['https://app.example/settings'];

      expect(allowedReturnUrl('https://app.example/settings', allowlist)).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings/', allowlist)).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings/zoom?tab=1', allowlist)).toBeDefined();
    });

    it('accepts the entry path with or without its slash when the entry has a trailing slash', () => {
      const allowlist = ['https://app.example/settings/'];

      expect(allowedReturnUrl('https://app.example/settings/', allowlist)).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings', allowlist)).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings/zoom', allowlist)).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings-evil', allowlist)).toBeUndefined();
      expect(allowedReturnUrl('https://app.example/', allowlist)).toBeUndefined();
    });

    it('refuses a different scheme', () => {
      expect(allowedReturnUrl('http://app.example/settings', ['https://app.example/settings'])).toBeUndefined();
      expect(allowedReturnUrl('https://app.example/settings', ['http://app.example/settings'])).toBeUndefined();
    });

    it('refuses a different port', () => {
      expect(allowedReturnUrl('https://app.example:8443/settings', ['https://app.example/settings'])).toBeUndefined();
      expect(allowedReturnUrl('http://127.0.0.1:8081/', ['http://127.0.0.1:8080/'])).toBeUndefined();
      expect(allowedReturnUrl('http://127.0.0.1/', ['http://127.0.0.1:8080/'])).toBeUndefined();
    });

    it('treats an explicit default port as the same port as none', () => {
      expect(allowedReturnUrl('https://app.example:443/settings', ['https://app.example/settings'])).toBeDefined();
      expect(allowedReturnUrl('https://app.example/settings', ['https://app.example:443/settings'])).toBeDefined();
      expect(allowedReturnUrl('http://app.example:80/x', ['http://app.example/'])).toBeDefined();
    });

    it('refuses a different host, including a subdomain of the allowed host', () => {
      expect(allowedReturnUrl('https://evil.example/settings', ['https://app.example/settings'])).toBeUndefined();
      expect(allowedReturnUrl('https://a.app.example/settings', ['https://app.example/settings'])).toBeUndefined();
    });

    it('compares host names case-insensitively, as URLs do', () => {
      expect(allowedReturnUrl('https://APP.Example/settings', ['https://app.example/settings'])?.href).toBe(
        'https://app.example/settings',
      );
    });
  });

  it('refuses userinfo that makes an allowed host look like the target', () => {
    // Prepare: the real host here is evil.example; "app.example" is only a user name.
    const allowlist = ['https://app.example/'];

    // Act / Assess
    expect(allowedReturnUrl('https://app.example@evil.example/', allowlist)).toBeUndefined();
    expect(allowedReturnUrl('https://user:pass@app.example/', allowlist)).toBeUndefined();
    expect(allowedReturnUrl('https://user@app.example/', allowlist)).toBeUndefined();
  });

  it.each([
    'javascript:alert(1)',
    'javascript://app.example/%0aalert(1)',
    'data:text/html,<script>alert(1)</script>',
    'ftp://app.example/settings',
    'file:///etc/passwd',
    'mailto:someone@app.example',
    '//app.example/settings',
    '/settings',
    'not a url',
    '',
  ])('refuses %j, which is not an absolute http(s) URL', (candidate) => {
    expect(allowedReturnUrl(candidate, ['https://app.example/', 'https://app.example/settings'])).toBeUndefined();
  });

  it('refuses a non-http entry even for an identical candidate', () => {
    expect(allowedReturnUrl('javascript:alert(1)', ['javascript:alert(1)'])).toBeUndefined();
  });

  it.each([
    'https://app.example/settings/../admin',
    'https://app.example/settings/%2e%2e/admin',
    'https://app.example/settings/%2E%2E/admin',
    'https://app.example/settings\\..\\admin',
    'https://app.example/settings/./../admin',
  ])('refuses path traversal out of the entry path: %s', (candidate) => {
    expect(allowedReturnUrl(candidate, ['https://app.example/settings'])).toBeUndefined();
  });

  it('refuses an encoded slash that only looks like a path under the entry', () => {
    expect(allowedReturnUrl('https://app.example/settings%2F..%2Fadmin', ['https://app.example/settings'])).toBeUndefined();
  });

  it('returns the URL normalized, with query and fragment kept', () => {
    const url = allowedReturnUrl('https://app.example/settings/./zoom?x=1#done', ['https://app.example/settings']);

    expect(url?.href).toBe('https://app.example/settings/zoom?x=1#done');
  });

  it('matches any entry of a multi-entry allow-list and ignores unparseable entries', () => {
    const allowlist = ['not a url', 'https://admin.example/', 'https://app.example/settings'];

    expect(allowedReturnUrl('https://app.example/settings/zoom', allowlist)).toBeDefined();
    expect(allowedReturnUrl('https://admin.example/anything', allowlist)).toBeDefined();
    expect(allowedReturnUrl('https://other.example/', allowlist)).toBeUndefined();
  });

  it('refuses everything when the allow-list is empty', () => {
    expect(allowedReturnUrl('https://app.example/', [])).toBeUndefined();
  });
});

describe('allowlistEntries', () => {
  it('splits RETURN_URL_ALLOWLIST on commas, trimming blanks and dropping empty entries', () => {
    expect(allowlistEntries(' https://app.example/settings/ ,,http://localhost:3000/ , ')).toEqual([
      'https://app.example/settings/',
      'http://localhost:3000/',
    ]);
  });
});

describe('withOutcome', () => {
  type Case = [url: string, outcome: Parameters<typeof withOutcome>[1], expected: string];
  it.each<[string, Case[]]>([
    [
      "keeps the product's own query byte for byte and appends the outcome",
      [['https://app.example/settings?a=1&b=x%20y&c=', { zoom_connect: 'connected' }, 'https://app.example/settings?a=1&b=x%20y&c=&zoom_connect=connected']],
    ],
    [
      'keeps encoded reserved characters and plus signs in the existing query as they were',
      [['https://app.example/s?q=a%26b%3Dc&p=1+2&u=%2F', { zoom_connect: 'denied' }, 'https://app.example/s?q=a%26b%3Dc&p=1+2&u=%2F&zoom_connect=denied']],
    ],
    ['starts a query when the URL has none', [['https://app.example/settings', { zoom_connect: 'connected' }, 'https://app.example/settings?zoom_connect=connected']]],
    [
      'does not double the question mark when the URL ends with an empty query',
      [['https://app.example/settings?', { zoom_connect: 'denied' }, 'https://app.example/settings?zoom_connect=denied']],
    ],
    [
      'keeps a fragment at the end, after the added outcome',
      [
        ['https://app.example/settings?a=1#zoom', { zoom_connect: 'connected' }, 'https://app.example/settings?a=1&zoom_connect=connected#zoom'],
        ['https://app.example/settings#zoom', { zoom_connect: 'error', reason: 'internal' }, 'https://app.example/settings?zoom_connect=error&reason=internal#zoom'],
      ],
    ],
    [
      'replaces a zoom_connect and a reason already in the query, never duplicating them, and keeps the rest as it was',
      [
        [
          'https://app.example/settings?zoom_connect=connected&a=x%20y&reason=old&zoom%5Fconnect=denied&b=',
          { zoom_connect: 'error', reason: 'link_used' },
          'https://app.example/settings?a=x%20y&b=&zoom_connect=error&reason=link_used',
        ],
        ['https://app.example/settings?zoom_connect=connected#top', { zoom_connect: 'denied' }, 'https://app.example/settings?zoom_connect=denied#top'],
      ],
    ],
    ['adds the install outcome of a Marketplace install', [['https://app.example/welcome', { zoom_connect: 'install' }, 'https://app.example/welcome?zoom_connect=install']]],
  ])('%s', (_, cases) => {
    for (const [url, outcome, expected] of cases) expect(withOutcome(url, outcome)).toBe(expected);
  });

  it('adds zoom_connect=error and the reason', () => {
    const result = withOutcome('https://app.example/settings?tab=zoom', { zoom_connect: 'error', reason: 'code_rejected' });

    expect(result).toBe('https://app.example/settings?tab=zoom&zoom_connect=error&reason=code_rejected');
    const params = new URL(result).searchParams;
    expect(params.get('zoom_connect')).toBe('error');
    expect(params.get('reason')).toBe('code_rejected');
    expect(params.get('tab')).toBe('zoom');
  });

  it('encodes the reason so it cannot inject further parameters', () => {
    const result = withOutcome('https://app.example/', { zoom_connect: 'error', reason: 'x&zoom_connect=connected' });

    expect(new URL(result).searchParams.getAll('zoom_connect')).toEqual(['error']);
    expect(new URL(result).searchParams.get('reason')).toBe('x&zoom_connect=connected');
  });

  it('keeps the origin and path of the return URL', () => {
    const result = new URL(withOutcome('http://127.0.0.1:8080/a/b/', { zoom_connect: 'connected' }));

    expect(result.origin).toBe('http://127.0.0.1:8080');
    expect(result.pathname).toBe('/a/b/');
  });
});
