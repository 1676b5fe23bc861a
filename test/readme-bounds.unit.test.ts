/**
 * Every resource bound is written in the README: its Operations section
 * lists them one line each (`- resource: bound;`), and docs/reliability.md's
 * "At a glance" table, which the README links to, gives the same bounds with
 * the details beside them. The two must name the same resources with the
 * same figures, so a bound added, changed or dropped on one side fails here
 * until the other says the same.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { section, tableByHeader } from '../harness/markdown.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** The README's bounds: the list after "**Bounds**" in its Operations section, resource → bound. */
function readmeBounds(): Map<string, string> {
  const operations = section(read('README.md'), '## Operations');
  const list = operations.slice(operations.indexOf('**Bounds**')).split('\n\n')[1] ?? '';
  return new Map(
    list
      .split('\n')
      .filter((line) => line.startsWith('- '))
      .map((line) => {
        const at = line.indexOf(': ');
        return [line.slice(2, at), line.slice(at + 2)];
      }),
  );
}

/** The figures of a bound: numbers as written (4,096; 1.9) and fractions (¾). */
function figures(text: string): string[] {
  return [...text.matchAll(/\d+(?:[.,]\d+)*|[¼½¾]/g)].map((match) => match[0]);
}

describe("the README's bounds", () => {
  const readme = readmeBounds();
  const table = tableByHeader(section(read('docs/reliability.md'), '### At a glance'), 'resource').slice(1);

  it('lists at least the bounds the developers keep (sockets, queries, files, memory)', () => {
    expect(readme.size).toBeGreaterThanOrEqual(10);
    expect([...readme.keys()]).toEqual(expect.arrayContaining(['UDP sockets', 'queries in flight per nameserver', 'bytes read from files', 'memory']));
  });

  it('names every resource of the reliability table, and nothing else', () => {
    expect([...readme.keys()].sort()).toEqual(table.map((row) => row[0] ?? '').sort());
  });

  it('gives every figure of each row of the table', () => {
    const missing = table.flatMap(([resource = '', bound = '']) => {
      const line = readme.get(resource) ?? '';
      return figures(bound)
        .filter((figure) => !figures(line).includes(figure))
        .map((figure) => `${resource}: ${figure}`);
    });
    expect(missing).toEqual([]);
  });

  it('reads figures as written', () => {
    expect(figures('256, growing to 4,096; one domain at most ¾; 1.9 KiB')).toEqual(['256', '4,096', '¾', '1.9']);
  });
});
