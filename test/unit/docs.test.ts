import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The documentation stands on its own: a short README that maps docs/, and links between the files that lead
 * somewhere. A heading renamed in one file, or a file moved, breaks a link elsewhere without anyone noticing;
 * this catches it.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DOCUMENTS = [
  'README.md',
  'local/README.md',
  'client/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** The text outside fenced code blocks and inline code: links in code are examples, not links. */
function prose(markdown: string): string {
  return markdown
    .replace(/^```[\s\S]*?^```/gm, '')
    .replace(/`[^`\n]*`/g, '');
}

/** Relative link targets of a document: `[text](target)`, without web, mail or pure in-page targets left out. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2, ... */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, text] of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    // Headings are slugged as rendered: code keeps its text (`## Local mode (`npm start`)` gives local-mode-npm-start),
    // a link keeps its label.
    const rendered = (text as string).replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = rendered.toLowerCase().trim().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('the documentation', () => {
  it('keeps the README short: what the service is, the quick start, a map of docs/', () => {
    const lines = read('README.md').split('\n').length;
    expect(lines).toBeLessThanOrEqual(160);
    for (const document of DOCUMENTS.filter((path) => path.startsWith('docs/'))) {
      expect(read('README.md'), `README.md maps ${document}`).toContain(`](${document})`);
    }
  });

  it.each(DOCUMENTS)('%s: every relative link leads to a file in the repository, and to a heading it has', (document) => {
    const broken: string[] = [];
    for (const target of relativeLinks(read(document))) {
      const [path = '', anchor] = target.split('#');
      const file = path === '' ? join(ROOT, document) : resolve(ROOT, dirname(document), path);
      const inside = relative(ROOT, file);
      if (inside.startsWith('..') || !existsSync(file)) {
        broken.push(`${target}: no such file in the repository`);
        continue;
      }
      if (anchor === undefined || statSync(file).isDirectory()) continue;
      if (!file.endsWith('.md')) {
        broken.push(`${target}: an anchor into a file that is not Markdown`);
        continue;
      }
      if (!anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it.each(DOCUMENTS)('%s: every document or path it names is in the repository', (document) => {
    expect(outsideReferences(read(document), document)).toEqual([]);
  });
});

/**
 * Names a reader cannot follow from a clone: a Markdown file (in prose or code) that exists neither beside the
 * document nor from the repository's root, a relative path that climbs out of the repository, an absolute path
 * into this machine's file system.
 */
function outsideReferences(markdown: string, document: string): string[] {
  const found: string[] = [];
  for (const [name] of markdown.matchAll(/[\w./-]*[\w-]+\.md\b/g)) {
    if (/^[a-z]+:\/\//i.test(name) || name.includes('//')) continue;
    const candidates = [resolve(ROOT, dirname(document), name), resolve(ROOT, name.replace(/^\/+/, ''))];
    if (!candidates.some((file) => !relative(ROOT, file).startsWith('..') && existsSync(file))) found.push(name);
  }
  for (const [path] of markdown.matchAll(/(?:\.\.\/)+[\w./-]*[\w/-]/g)) {
    if (relative(ROOT, resolve(ROOT, dirname(document), path)).startsWith('..')) found.push(path);
  }
  for (const [path] of markdown.matchAll(/(?<![\w.:/-])\/(?:work|home|root|tmp|Users)\/[\w./-]*[\w/-]/g)) found.push(path);
  return [...new Set(found)];
}

describe('the link checker itself', () => {
  it('reports a Markdown file or path that is not in the repository, and passes ones that are', () => {
    const markdown =
      'See [local](../local/README.md), `README.md`, docs/design.md and [web](https://example.com/GUIDE.md), ' +
      'but not NOTES.md, `../../elsewhere/spec.txt` or /home/someone/plan.txt.';
    expect(outsideReferences(markdown, 'docs/x.md')).toEqual(['NOTES.md', '../../elsewhere/spec.txt', '/home/someone/plan.txt']);
  });

  it('finds relative links outside code, and leaves web links and code alone', () => {
    const markdown = 'See [a](docs/a.md#x), [web](https://example.com) and `[code](nope.md)`.\n```\n[block](nope.md)\n```\n';
    expect(relativeLinks(markdown)).toEqual(['docs/a.md#x']);
  });

  it('slugs headings as GitHub does, repeats numbered', () => {
    const markdown = ('## Local mode (`npm start`)\n### Events\n## Events\n## The invariants ([x](y.md), 4 and 6)\n');
    expect([...anchors(markdown)]).toEqual(['local-mode-npm-start', 'events', 'events-1', 'the-invariants-x-4-and-6']);
  });
});
