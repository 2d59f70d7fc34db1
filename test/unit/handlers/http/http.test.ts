import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { htmlPage } from '../../../../functions/handlers/http/http.js';

describe('htmlPage', () => {
  it('allows exactly its own stylesheet by hash, never unsafe-inline, and nothing else', () => {
    const page = htmlPage(400, 'This link cannot be used', 'This connect link has expired.');

    const csp = String(page.headers?.['content-security-policy']);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    const style = /<style>([^<]*)<\/style>/.exec(String(page.body))?.[1] ?? '';
    const hash = createHash('sha256').update(style, 'utf8').digest('base64');
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
  });

  it('says what happened and what to do next, escaping both', () => {
    const page = htmlPage(400, 'Title <b>', 'Message & "quote"');

    expect(page.body).toContain('Message &#38; &#34;quote&#34;');
    expect(page.body).toContain('Title &#60;b&#62;');
    expect(page.body).toContain('choose “Connect Zoom” again, in this browser');
    expect(page.headers?.['cache-control']).toBe('no-store');
  });
});
