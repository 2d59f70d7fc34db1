/**
 * `npm run docs:tables`: renders the documentation's tables that copy a source of the code, and writes them into
 * their documents between their markers:
 * - docs/operating.md, "Bounds and defaults": every setting of functions/core/setting-table.ts;
 * - docs/integrating.md, "Outcomes on the return URL": every outcome and reason of functions/core/outcome-reasons.ts.
 *
 * `npm run docs:tables -- --check` writes nothing and exits 1 when a document differs from what it would write; the
 * docs test holds the documents to the same rendering, so a table edited by hand, or a source changed without
 * running this, fails the tests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CONNECT_OUTCOMES, OUTCOME_REASON_DESCRIPTIONS, type OutcomeDescription } from '../functions/core/outcome-reasons.js';
import { SETTING_TABLE } from '../functions/core/setting-table.js';
import type { Setting } from '../functions/core/settings.js';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

const code = (value: string | number) => `\`${value}\``;
const figure = (value: number) => value.toLocaleString('en-US');
/** A table cell: pipes would end it early. */
const cell = (text: string) => text.replace(/\|/g, '\\|');
const row = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;

function bounds(setting: Setting): string {
  switch (setting.kind) {
    case 'whole':
      return setting.max === undefined
        ? `${setting.unit}: at least ${figure(setting.min)}`
        : `${figure(setting.min)} to ${figure(setting.max)} ${setting.unit}`;
    case 'fraction':
      return 'a fraction above 0, at most 1 (0.2 for 20%)';
    case 'choice':
      return `one of ${setting.choices.map(code).join(', ')}`;
  }
}

/** The "Bounds and defaults" table: one row per setting, in the table's order. */
export function renderSettingsTable(settings: readonly Setting[] = SETTING_TABLE): string {
  return [
    '| deploy key | environment variable | what it sets | bounds | default |',
    '|---|---|---|---|---|',
    ...settings.map((setting) =>
      row([
        setting.key ? code(setting.key) : '',
        setting.variable ? code(setting.variable) : '',
        setting.meaning,
        bounds(setting),
        code(setting.default),
      ]),
    ),
  ].join('\n');
}

/** The outcomes table: each `zoom_connect` outcome, then each reason of `error`. */
export function renderOutcomesTable(): string {
  const outcome = (name: string, reason: string, description: OutcomeDescription) =>
    row([code(name), reason ? code(reason) : '', description.meaning, description.tellUser]);
  return [
    '| `zoom_connect` | `reason` | what happened | what the product should tell the user |',
    '|---|---|---|---|',
    ...Object.entries(CONNECT_OUTCOMES).map(([name, description]) => outcome(name, '', description)),
    ...Object.entries(OUTCOME_REASON_DESCRIPTIONS).map(([reason, description]) => outcome('error', reason, description)),
  ].join('\n');
}

/** A generated table: the document it lives in, between `<!-- BEGIN GENERATED: name ... -->` and its END marker. */
export interface GeneratedTable {
  readonly name: string;
  readonly document: string;
  readonly source: string;
  readonly render: () => string;
}

export const GENERATED_TABLES: readonly GeneratedTable[] = [
  { name: 'settings', document: 'docs/operating.md', source: 'functions/core/setting-table.ts', render: () => renderSettingsTable() },
  { name: 'outcomes', document: 'docs/integrating.md', source: 'functions/core/outcome-reasons.ts', render: renderOutcomesTable },
];

const begin = (table: GeneratedTable) =>
  `<!-- BEGIN GENERATED: ${table.name} (npm run docs:tables renders it from ${table.source}: edit that file, not this table) -->`;
const end = (table: GeneratedTable) => `<!-- END GENERATED: ${table.name} -->`;

/**
 * The text between a generated table's markers in `markdown`, without the blank lines around it.
 * @throws Error when the markers are missing or out of order
 */
export function generatedSection(markdown: string, table: GeneratedTable): string {
  const from = markdown.indexOf(begin(table));
  const to = markdown.indexOf(end(table));
  if (from < 0 || to < from) throw new Error(`${table.document} has no markers for the generated ${table.name} table`);
  return markdown.slice(from + begin(table).length, to).trim();
}

/**
 * `markdown` with the generated table between its markers rendered anew.
 * @throws Error when the markers are missing or out of order
 */
export function withGeneratedSection(markdown: string, table: GeneratedTable): string {
  generatedSection(markdown, table);
  const from = markdown.indexOf(begin(table)) + begin(table).length;
  return `${markdown.slice(0, from)}\n${table.render()}\n${markdown.slice(markdown.indexOf(end(table)))}`;
}

function main(argv: readonly string[]): number {
  const check = argv.includes('--check');
  let stale = 0;
  for (const table of GENERATED_TABLES) {
    const file = path.join(PROJECT_ROOT, table.document);
    const before = readFileSync(file, 'utf8');
    const after = withGeneratedSection(before, table);
    if (after === before) continue;
    stale++;
    if (check) console.error(`${table.document}: the ${table.name} table differs from ${table.source}; run npm run docs:tables`);
    else {
      writeFileSync(file, after);
      console.log(`${table.document}: rendered the ${table.name} table from ${table.source}`);
    }
  }
  return check && stale > 0 ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
