/**
 * docs/design.md's module table is the map readers use: every module under
 * src/ is in it, and it names no module that is gone.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function modules(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return modules(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}

describe('docs/design.md', () => {
  it('lists every module under src/ and none that does not exist', () => {
    const design = readFileSync(path.join(ROOT, 'docs', 'design.md'), 'utf8');
    const listed = new Set([...design.matchAll(/`(src\/[^`]+\.ts)`/g)].map((match) => match[1]!));
    const tree = new Set(modules('src'));
    expect([...tree].filter((file) => !listed.has(file)), 'modules missing from the table').toEqual([]);
    expect([...listed].filter((file) => !tree.has(file)), 'table rows for modules that do not exist').toEqual([]);
  });
});

/** The layer a file of src/ belongs to: the table row that names it or its folder. */
function layerOf(file: string, layers: readonly string[]): string | undefined {
  return layers.find((layer) => (layer.endsWith('/') ? file.startsWith(layer) : file === layer));
}

/** docs/design.md's layer table: each layer and the layers it may import. */
function layerTable(design: string): Map<string, string[]> {
  const section = design.slice(design.indexOf('## Layers'), design.indexOf('| module | holds |'));
  const rows = [...section.matchAll(/^\| `(src\/[^`]+)` \| (.*) \|$/gm)];
  return new Map(rows.map((row) => [row[1]!, [...row[2]!.matchAll(/`(src\/[^`]+)`/g)].map((match) => match[1]!)]));
}

/** Every relative import of `file` (static and `import type` alike), as a path under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'";]*?from '(\.{1,2}\/[^']+)'/g)].map((match) =>
    path.posix.normalize(path.posix.join(path.posix.dirname(file), match[1]!)).replace(/\.js$/, '.ts'),
  );
}

describe("docs/design.md's layers", () => {
  const design = readFileSync(path.join(ROOT, 'docs', 'design.md'), 'utf8');
  const table = layerTable(design);
  const layers = [...table.keys()];

  it('name every file of src/ and every layer a row names', () => {
    expect(layers.length).toBeGreaterThanOrEqual(8);
    expect(modules('src').filter((file) => layerOf(file, layers) === undefined)).toEqual([]);
    const named = [...table.values()].flat();
    expect(named.filter((layer) => !table.has(layer))).toEqual([]);
  });

  it('are kept: every import in src/ stays in its layer or goes to one the table allows', () => {
    const breaches = modules('src').flatMap((file) => {
      const from = layerOf(file, layers)!;
      return importsOf(file)
        .filter((target) => {
          const to = layerOf(target, layers);
          return to !== from && !table.get(from)!.includes(to ?? target);
        })
        .map((target) => `${file} imports ${target}`);
    });
    expect(breaches).toEqual([]);
  });

  it('the check finds a breach: src/dns/ importing the watch side is one', () => {
    expect(layerOf('src/dns/client.ts', layers)).toBe('src/dns/');
    expect(table.get('src/dns/')).toEqual([]);
    expect(importsOf('src/watch/registry.ts')).toContain('src/dns/stub-resolver.ts');
  });
});
