import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/**
 * HTML for the local pages (sandbox Zoom, demo page). Every interpolated value is escaped unless it is already
 * `SafeHtml`, so a query parameter can never become markup. Pages carry a strict CSP: no script at all, no images,
 * and the one shared stylesheet allowed by the hash of its exact text. They work without JavaScript: every action
 * is a link or a plain form.
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

/**
 * The one stylesheet. Colours meet WCAG AA: text 15:1, the blue (#0b5cad) 6.7:1 on white and 6:1 on the notice
 * background; the focus ring is near-black on the page's white (offset from the control), so it shows on every
 * control, the blue buttons included.
 */
const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.5rem;line-height:1.25}h2{font-size:1.15rem;margin-top:2rem}
a{color:#0b5cad}
fieldset{border:1px solid #6b6b6b;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}legend{font-weight:600}
label{display:block;margin:.35rem 0}
input[type=text]{font:inherit;padding:.25rem .4rem;border:1px solid #6b6b6b;border-radius:4px}
button,.button{font:inherit;display:inline-block;padding:.45rem 1rem;margin:.25rem .5rem .25rem 0;border-radius:6px;
border:2px solid #0b5cad;background:#0b5cad;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#fff;color:#0b5cad}
:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px}
.notice{border-left:4px solid #0b5cad;padding:.5rem 1rem;margin:1rem 0;background:#eef5fc}.notice p{margin:.25rem 0}
.notice.error{border-color:#b3261e;background:#fcefee}.notice.ok{border-color:#1e7b34;background:#edf7ef}
.hint{font-size:.9rem;color:#4a4a4a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dt{font-weight:600}dd{margin:0;word-break:break-all}
code{font-size:.9em}
@media (forced-colors:active){button,.button{border-color:ButtonText}}
`;

/** The CSP source allowing exactly `STYLE`: SHA-256 of the bytes served inside `<style>`, base64. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE, 'utf8').digest('base64')}'`;

/**
 * The policy every local page carries: nothing may load or run but the one stylesheet.
 * @param formTargets - origins a form may submit to or be redirected to afterwards, besides the page's own
 *   (`form-action` also governs the redirects that follow a form submission)
 */
export function pageCsp(formTargets: readonly string[] = []): string {
  const targets = [...new Set(formTargets)].map((origin) => ` ${origin}`).join('');
  return [
    "default-src 'none'",
    `style-src ${STYLE_HASH}`,
    "img-src 'none'",
    `form-action 'self'${targets}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export interface PageOptions {
  title: string;
  body: SafeHtml;
  status?: number;
  /** Origins a form on the page may submit to, or be redirected to after submitting (besides 'self'). */
  formTargets?: readonly string[];
  /** More response headers (e.g. `allow` on a 405). */
  headers?: Record<string, string>;
}

/** Sends a complete HTML page with the security headers every local page shares; `body` goes inside `<main>`. */
export function sendPage(
  res: ServerResponse,
  { title, body, status = 200, formTargets = [], headers = {} }: PageOptions,
): void {
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
    ...headers,
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': pageCsp(formTargets),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(document.value);
}

export interface ProblemPage {
  status: number;
  /** The page's one heading and title: what went wrong, in a few words. */
  heading: string;
  /** What happened, in plain words. */
  what: string | SafeHtml;
  /** What to do next. */
  next: string | SafeHtml;
  /** Where to go on from here (a same-origin link). */
  link?: { href: string; text: string };
  headers?: Record<string, string>;
}

/** An error page: one heading, what happened, what to do next, and a way on. */
export function sendProblemPage(res: ServerResponse, problem: ProblemPage): void {
  const body = html`<h1>${problem.heading}</h1>
<p>${problem.what}</p>
<p>${problem.next}</p>
${problem.link ? html`<p><a href="${problem.link.href}">${problem.link.text}</a></p>` : ''}`;
  sendPage(res, {
    status: problem.status,
    title: problem.heading,
    body,
    ...(problem.headers ? { headers: problem.headers } : {}),
  });
}
