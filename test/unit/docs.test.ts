import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SETTING_TABLE } from '../../functions/core/setting-table.js';
import { GENERATED_TABLES, generatedSection, withGeneratedSection } from '../../scripts/docs-tables.js';

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

/**
 * The tables that copy a source of the code are rendered from it (`npm run docs:tables`), and every other mention of
 * a setting's default or bounds in the documents agrees with the settings table.
 */
describe('the documentation and the code it describes', () => {
  it.each(GENERATED_TABLES.map((table) => [table.name, table] as const))(
    'the %s table is rendered from its source, unchanged by hand',
    (_name, table) => {
      expect(generatedSection(read(table.document), table)).toBe(table.render());
    },
  );

  it.each(DOCUMENTS)('%s: a default or range written next to a setting is the one of the settings table', (document) => {
    expect(settingsMisquoted(read(document))).toEqual([]);
  });
});

/** A Markdown table row's cells, or undefined for a line that is no row. */
const cells = (line: string): string[] | undefined =>
  line.startsWith('|') ? line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()) : undefined;

const number = (text: string) => Number(text.replace(/,/g, ''));

/**
 * The places in `markdown` where a setting of the table is named (by key or variable) with a default or a range
 * that is not its own: a table row that starts with the setting and ends with a default in code, and prose that
 * follows the name, before the sentence or the next name in code ends, with `default N` or `N to M`.
 */
function settingsMisquoted(markdown: string): string[] {
  const found: string[] = [];
  for (const setting of SETTING_TABLE) {
    for (const name of [setting.key, setting.variable].filter((name): name is string => name !== undefined)) {
      for (const line of markdown.split('\n')) {
        const row = cells(line);
        if (row?.[0] === `\`${name}\`` && /^`[\d.]+`$/.test(row.at(-1) ?? '') && row.at(-1) !== `\`${setting.default}\``) {
          found.push(`${name}: default ${row.at(-1)} in a table, not ${setting.default}`);
        }
      }
      for (const [, after = ''] of markdown.matchAll(new RegExp(`\`${name.replace(/\./g, '\\.')}\`([^.|\\x60]{0,120})`, 'g'))) {
        const stated = /default\s+(\d+(?:,\d{3})*)/.exec(after);
        if (stated && number(stated[1] as string) !== setting.default) found.push(`${name}: default ${stated[1]}, not ${setting.default}`);
        const range = /(\d+(?:,\d{3})*)\s+(?:to|-|–)\s+(\d+(?:,\d{3})*)/.exec(after);
        if (range && setting.kind === 'whole' && (number(range[1] as string) !== setting.min || number(range[2] as string) !== setting.max)) {
          found.push(`${name}: ${range[1]} to ${range[2]}, not ${setting.min} to ${setting.max ?? 'unbounded'}`);
        }
      }
    }
  }
  return found;
}

describe('the checks of the documentation', () => {
  const table = GENERATED_TABLES[0]!;
  const markers = (inside: string) =>
    `Intro.\n\n${read(table.document).match(/<!-- BEGIN GENERATED: [^>]*-->/)?.[0]}\n${inside}\n<!-- END GENERATED: ${table.name} -->\n\nAfter.\n`;

  it('renders a generated table between its markers only, and refuses a document without them', () => {
    const rendered = withGeneratedSection(markers('| stale | table |'), table);
    expect(rendered.startsWith('Intro.\n\n<!-- BEGIN GENERATED')).toBe(true);
    expect(rendered.endsWith('<!-- END GENERATED: settings -->\n\nAfter.\n')).toBe(true);
    expect(generatedSection(rendered, table)).toBe(table.render());
    expect(withGeneratedSection(rendered, table)).toBe(rendered);
    expect(() => withGeneratedSection('no markers here', table)).toThrow('no markers for the generated settings table');
  });

  it('finds a default or range that differs from the settings table, and passes the right ones', () => {
    const markdown = [
      '| `CONNECT_TOKEN_MAX_TTL_SECONDS` | lifetime | `600` |',
      '| `RECALL_TIMEOUT_MS` | timeout | `5000` |',
      'Set `connectTokenMaxTtlSeconds` (60 to 7,200, default 900) and `recallMaxAttempts` (1 to 6, default 3).',
    ].join('\n');
    expect(settingsMisquoted(markdown)).toEqual([
      'connectTokenMaxTtlSeconds: 60 to 7,200, not 60 to 3600',
      'CONNECT_TOKEN_MAX_TTL_SECONDS: default `600` in a table, not 900',
    ]);
  });
});
