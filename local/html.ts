import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/**
 * HTML for the local pages (sandbox Zoom, demo page). Every interpolated value is escaped unless it is already
 * `SafeHtml`, so a query parameter can never become markup. Pages carry a strict CSP: no script at all, and the one
 * shared stylesheet allowed by its hash.
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type HtmlValue = string | number | SafeHtml | undefined | null | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);

function render(value: HtmlValue): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<p>${userText}</p>\`` escapes `userText`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += render(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
fieldset{border:1px solid #8a8a8a;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
label{display:block;margin:.35rem 0}
input[type=text]{font:inherit;padding:.25rem .4rem;border:1px solid #6b6b6b;border-radius:4px}
button,.button{font:inherit;display:inline-block;padding:.45rem 1rem;margin:.25rem .5rem .25rem 0;border-radius:6px;
border:1px solid #0b5cad;background:#0b5cad;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#fff;color:#0b5cad}
:focus-visible{outline:3px solid #f4a100;outline-offset:2px}
.notice{border-left:4px solid #0b5cad;padding:.5rem 1rem;background:#eef5fc}
.notice.error{border-color:#b3261e;background:#fcefee}.notice.ok{border-color:#1e7b34;background:#edf7ef}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
code{font-size:.9em}
`;
const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;

export interface PageOptions {
  title: string;
  body: SafeHtml;
  status?: number;
  /** Origins a form on the page may submit to, or be redirected to after submitting (besides 'self'). */
  formTargets?: readonly string[];
}

/**
 * Sends a complete HTML page with the security headers every local page shares.
 * `form-action` also governs where a form submission may be redirected, hence `formTargets`.
 */
export function sendPage(res: ServerResponse, { title, body, status = 200, formTargets = [] }: PageOptions): void {
  const csp = [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    `form-action 'self'${formTargets.map((origin) => ` ${origin}`).join('')}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const document = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(document.value);
}
