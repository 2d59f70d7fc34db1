import { describe, expect, it } from 'vitest';
import { allowedHosts, isAllowedHost, isCrossSiteWrite, originVerdict } from '../../../local/local-guard.js';

const OWN = 'http://localhost:4310';

describe('local guard: hosts', () => {
  it('answers the loopback names on the port, a configured redirect URI\'s host, and nothing else', () => {
    const hosts = allowedHosts(4310, ['https://tunnel.example']);
    for (const host of ['localhost:4310', '127.0.0.1:4310', '[::1]:4310', 'LocalHost:4310', 'tunnel.example']) {
      expect(isAllowedHost(host, hosts), host).toBe(true);
    }
    for (const host of [undefined, '', 'localhost', 'localhost:4311', 'evil.example:4310', '127.0.0.1.nip.io:4310', '0.0.0.0:4310']) {
      expect(isAllowedHost(host, hosts), String(host)).toBe(false);
    }
  });

  it('accepts a bare loopback name on port 80, where browsers omit the port', () => {
    expect(isAllowedHost('localhost', allowedHosts(80))).toBe(true);
  });
});

describe('local guard: origins', () => {
  it.each([
    [{ 'sec-fetch-site': 'same-origin', origin: 'null' }, 'same-origin'],
    [{ origin: OWN }, 'same-origin'],
    [{}, 'not-a-browser'],
    [{ origin: 'null' }, 'cross-site'],
    [{ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }, 'cross-site'],
    [{ 'sec-fetch-site': 'same-site' }, 'cross-site'],
    [{ 'sec-fetch-site': 'none' }, 'cross-site'],
  ] as const)('%j is %s', (headers, verdict) => {
    expect(originVerdict(headers, OWN)).toBe(verdict);
  });

  it('checks only methods that change something', () => {
    const crossSite = { origin: 'https://evil.example' };
    expect(isCrossSiteWrite('GET', crossSite, OWN)).toBe(false);
    expect(isCrossSiteWrite('HEAD', crossSite, OWN)).toBe(false);
    expect(isCrossSiteWrite('POST', crossSite, OWN)).toBe(true);
    expect(isCrossSiteWrite('DELETE', crossSite, OWN)).toBe(true);
    expect(isCrossSiteWrite('POST', {}, OWN)).toBe(false);
  });
});
