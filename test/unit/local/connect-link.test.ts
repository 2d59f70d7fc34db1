import { describe, expect, it } from 'vitest';
import { type LinkRequest, parseLinkRequest, UsageError } from '../../../local/connect-link.js';
import type { RunningServer } from '../../../local/server-registry.js';

const running = (port: number, extra: Partial<RunningServer> = {}): RunningServer => ({
  pid: 1000 + port,
  port,
  baseUrl: `http://localhost:${port}`,
  apiBaseUrl: `http://localhost:${port}`,
  returnUrlAllowlist: `http://localhost:${port}/`,
  sandboxRecall: true,
  ...extra,
});

const parse = (args: string[], env: NodeJS.ProcessEnv = {}, servers: RunningServer[] = []) =>
  parseLinkRequest(['--user', 'alice', ...args], env, servers) as LinkRequest;

describe('connect-link: which server the link is for', () => {
  it('takes the port from PORT, and then the allow-list of the server on that port', () => {
    const request = parse(['--return-to', 'http://localhost:4310/?user=alice'], { PORT: '4310' }, [
      running(4310, { returnUrlAllowlist: 'http://localhost:4310/app/' }),
    ]);
    expect(request.apiUrl).toBe('http://localhost:4310');
    expect(request.notes).toEqual([expect.stringMatching(/^Warning: --return-to .* is not on the return-URL allow-list \(http:\/\/localhost:4310\/app\/\)/)]);
  });

  it('without PORT, finds the one local server running, and says so', () => {
    const request = parse(['--return-to', 'http://localhost:4310/?user=alice'], {}, [running(4310)]);
    expect(request.apiUrl).toBe('http://localhost:4310');
    expect(request.notes).toEqual(['Using the local server running on port 4310 (set PORT to choose another).']);
  });

  it('with several running, picks the one the return URL is on, or asks for PORT', () => {
    const servers = [running(4310), running(4311)];
    expect(parse(['--return-to', 'http://localhost:4311/'], {}, servers).apiUrl).toBe('http://localhost:4311');
    expect(() => parse(['--return-to', 'https://app.example/'], {}, servers)).toThrow(UsageError);
    expect(() => parse(['--return-to', 'https://app.example/'], {}, servers)).toThrow(/ports 4310, 4311.*set PORT/);
  });

  it('with none running and no PORT, uses port 3000 and says how to choose another', () => {
    const request = parse(['--return-to', 'http://localhost:3000/'], {}, []);
    expect(request.apiUrl).toBe('http://localhost:3000');
    expect(request.notes).toEqual([expect.stringContaining('No running local server found (npm start), so the link is for port 3000; set PORT')]);
  });

  it('warns when --return-to is on another port than the server (the link would be refused)', () => {
    const request = parse(['--return-to', 'http://localhost:3000/?user=alice'], { PORT: '4310' });
    expect(request.notes).toEqual([expect.stringContaining('is not on the return-URL allow-list (http://localhost:4310/)')]);
  });

  it('uses RETURN_URL_ALLOWLIST and ZOOM_REDIRECT_URI when set, as the server does', () => {
    const request = parse(['--return-to', 'https://app.example/settings/zoom'], {
      PORT: '4310',
      RETURN_URL_ALLOWLIST: 'https://app.example/settings/',
      ZOOM_REDIRECT_URI: 'https://tunnel.example/zoom/callback',
    });
    expect(request.apiUrl).toBe('https://tunnel.example');
    expect(request.notes).toEqual([]);
  });

  it('refuses a PORT that is not a port number', () => {
    expect(() => parse(['--return-to', 'http://localhost:3000/'], { PORT: 'abc' })).toThrow(/PORT must be a port number/);
  });

  it('for a deployed API, warns only against an allow-list it was given', () => {
    const args = ['--return-to', 'https://evil.example/', '--api-url', 'https://api.example', '--signing-key-secret-id', 'k'];
    expect(parse(args, {}, [running(4310)]).notes).toEqual([]);
    expect(parse(args, { RETURN_URL_ALLOWLIST: 'https://app.example/' }).notes).toEqual([
      expect.stringContaining('not on the return-URL allow-list (https://app.example/)'),
    ]);
  });
});
