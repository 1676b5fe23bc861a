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
