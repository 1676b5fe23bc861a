/**
 * Small modules with one responsibility: no file in src/ over 400 lines, no
 * function over 60 — counted from the line its declaration starts on to
 * the line it ends on (methods, constructors, accessors and arrow functions
 * alike; a function inside another counts in both).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 60;

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return sourceFiles(relative);
    return entry.name.endsWith('.ts') ? [relative] : [];
  });
}

function lineCount(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** `file:line name (n lines)` for every function of `file` longer than the limit. */
function longFunctions(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = last - first + 1;
      const name = 'name' in node && node.name ? node.name.getText(source) : ts.SyntaxKind[node.kind];
      if (lines > MAX_FUNCTION_LINES) found.push(`${file}:${first + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe('src/ stays in small pieces', () => {
  const files = sourceFiles('src').map((file) => ({ file, text: readFileSync(path.join(ROOT, file), 'utf8') }));

  it(`no file over ${MAX_FILE_LINES} lines`, () => {
    const long = files.filter(({ text }) => lineCount(text) > MAX_FILE_LINES).map(({ file, text }) => `${file} (${lineCount(text)} lines)`);
    expect(long).toEqual([]);
  });

  it(`no function over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(files.flatMap(({ file, text }) => longFunctions(file, text))).toEqual([]);
  });

  it('the check counts what it says: a 61-line function is found, a 60-line one is not', () => {
    const body = (lines: number) => `function f() {\n${'  call();\n'.repeat(lines - 2)}}\n`;
    expect(longFunctions('a.ts', body(61))).toEqual(['a.ts:1 f (61 lines)']);
    expect(longFunctions('a.ts', body(60))).toEqual([]);
    expect(longFunctions('a.ts', `class A {\n  m() {\n${'    call();\n'.repeat(59)}  }\n}\n`)).toEqual(['a.ts:2 m (61 lines)']);
  });
});
