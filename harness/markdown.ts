/**
 * Reading the project's Markdown the way the doc tests need it: a section by
 * its heading, the tables in it, the code spans of a cell, and the fenced
 * code blocks with the HTML comment that marks one. GitHub's reading where it
 * matters (escaped `\|` inside table cells, fences indented in list items),
 * nothing more: the docs are ours, not arbitrary Markdown.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { escapeRegExp } from './within.js';

/** The documents a reader meets, relative to the repository: README, changelog, docs/*.md, the examples' READMEs. */
export function projectDocuments(root: string): string[] {
  return [
    'README.md',
    'CHANGELOG.md',
    ...readdirSync(path.join(root, 'docs'))
      .filter((file) => file.endsWith('.md'))
      .map((file) => `docs/${file}`),
    ...readdirSync(path.join(root, 'examples'))
      .map((dir) => `examples/${dir}/README.md`)
      .filter((file) => existsSync(path.join(root, file))),
  ];
}

/** A fenced code block: its language, its code (dedented), the line it starts on, the marker comment before it. */
export interface FencedBlock {
  language: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** `<!-- snippet: X -->` on the line before the fence (blank lines between allowed): X, else undefined. */
  marker: string | undefined;
}

const FENCE = /^(\s*)```(\S*)\s*$/;
const MARKER = /^\s*<!--\s*snippet:\s*([\w-]+)\s*-->\s*$/;

/** Every fenced code block of the document, in order. */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length && !/^\s*```\s*$/.test(lines[end] ?? ''); end++) body.push((lines[end] ?? '').slice(indent));
    let before = index - 1;
    while (before >= 0 && (lines[before] ?? '').trim() === '') before--;
    blocks.push({ language: open[2] ?? '', code: body.join('\n'), line: index + 1, marker: MARKER.exec(lines[before] ?? '')?.[1] });
    index = end;
  }
  return blocks;
}

/** The text under `heading` (a whole heading line, e.g. `## API`) up to the next heading of the same or a higher level. */
export function section(markdown: string, heading: string): string {
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  let end = start + 1;
  let fenced = false;
  for (; end < lines.length; end++) {
    const line = lines[end] ?? '';
    if (FENCE.test(line)) fenced = !fenced;
    const hashes = /^(#+) /.exec(line)?.[1]?.length;
    if (!fenced && hashes !== undefined && hashes <= level) break;
  }
  return lines.slice(start + 1, end).join('\n');
}

/** A table as rows of cells; the header row first, the `|---|` row left out. Cells are trimmed, `\|` read as `|`. */
export type Table = string[][];

/** Every table in the text, outside code blocks. */
export function tables(markdown: string): Table[] {
  const found: Table[] = [];
  let current: Table | undefined;
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (FENCE.test(line)) fenced = !fenced;
    const isRow = !fenced && /^\s*\|.*\|\s*$/.test(line);
    if (!isRow) {
      current = undefined;
      continue;
    }
    const cells = splitRow(line);
    if (cells.every((cell) => /^:?-+:?$/.test(cell))) continue;
    if (!current) found.push((current = []));
    current.push(cells);
  }
  return found;
}

function splitRow(line: string): string[] {
  const inner = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < inner.length; i++) {
    const char = inner[i];
    if (char === '\\' && inner[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (char === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += char;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/** The table whose header's first cell is `firstHeader`; throws if there is none. */
export function tableByHeader(markdown: string, firstHeader: string): Table {
  const table = tables(markdown).find((candidate) => candidate[0]?.[0] === firstHeader);
  if (!table) throw new Error(`no table with a first column "${firstHeader}"`);
  return table;
}

/** The contents of every code span in the text (`like this`), outside fenced code blocks. */
export function codeSpans(text: string): string[] {
  return withoutFences(text).flatMap((line) => [...line.matchAll(/`([^`]+)`/g)].map((match) => match[1] ?? ''));
}

/** The text's lines, those of fenced code blocks (fences included) left out. */
function withoutFences(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (FENCE.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** Whether `name` is a whole word inside one of the text's code spans. */
export function namesInCode(text: string, name: string): boolean {
  const word = new RegExp(`(^|[^\\w$])${escapeRegExp(name)}($|[^\\w$])`);
  return codeSpans(text).some((span) => word.test(span));
}

/**
 * The anchors GitHub gives the document's headings: lower case, punctuation
 * dropped (code backticks and em dashes included), spaces as `-`, and `-1`,
 * `-2` … for a heading text seen before.
 */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (FENCE.test(line)) fenced = !fenced;
    const heading = fenced ? undefined : /^#{1,6} (.*)$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const slug = heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}
