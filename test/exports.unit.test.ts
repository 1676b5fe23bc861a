/**
 * Every export of a module in src/ has a user outside its file: another
 * module, or a test, benchmark, example or script that reaches it as its
 * seam. The public entry (src/index.ts, src/package-entry.ts) is exempt: its
 * users are the package's.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PUBLIC_ENTRIES = new Set(['src/index.ts', 'src/package-entry.ts']);
const USER_FOLDERS = ['src', 'test', 'bench', 'harness', 'examples', 'scripts'];

function tsFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : tsFiles(relative);
    return /\.m?ts$/.test(entry.name) ? [relative] : [];
  });
}

/** `module#name` for each name a file imports or re-exports from a relative module (`module#*` for a namespace). */
function importedNames(file: string, source: ts.SourceFile): string[] {
  const found: string[] = [];
  const add = (specifier: string, names: string[]): void => {
    if (!specifier.startsWith('.')) return;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    for (const name of names) found.push(`${target}#${name}`);
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const bindings = node.importClause?.namedBindings;
      const names = !bindings ? [] : ts.isNamespaceImport(bindings) ? ['*'] : bindings.elements.map((e) => (e.propertyName ?? e.name).text);
      add(node.moduleSpecifier.text, names);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      add(node.moduleSpecifier.text, clause && ts.isNamedExports(clause) ? clause.elements.map((e) => (e.propertyName ?? e.name).text) : ['*']);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      // `const { a, b } = await import('./x.js')`: the names destructured.
      const [argument] = node.arguments;
      let holder: ts.Node = node.parent;
      if (ts.isAwaitExpression(holder)) holder = holder.parent;
      if (argument && ts.isStringLiteral(argument)) {
        const names = ts.isVariableDeclaration(holder) && ts.isObjectBindingPattern(holder.name)
          ? holder.name.elements.map((e) => (e.propertyName ?? e.name).getText(source))
          : ['*'];
        add(argument.text, names);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The names a module exports by `export` on a declaration. */
function exportedNames(source: ts.SourceFile): string[] {
  return source.statements.flatMap((statement) => {
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (!modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)) return [];
    if (ts.isVariableStatement(statement)) return statement.declarationList.declarations.map((d) => d.name.getText(source));
    const name = (statement as ts.DeclarationStatement).name;
    return name ? [name.getText(source)] : [];
  });
}

/** `file: name` for each export of src/ with no user outside its file, among `texts` (path → source text). */
function exportsWithoutUsers(texts: ReadonlyMap<string, string>): string[] {
  const users = new Map<string, Set<string>>();
  const exported: [string, string][] = [];
  for (const [file, text] of texts) {
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    for (const key of importedNames(file, source)) (users.get(key) ?? users.set(key, new Set()).get(key)!).add(file);
    if (file.startsWith('src/') && !PUBLIC_ENTRIES.has(file)) for (const name of exportedNames(source)) exported.push([file, name]);
  }
  const usedOutside = (file: string, key: string): boolean => [...(users.get(key) ?? [])].some((user) => user !== file);
  return exported.filter(([file, name]) => !usedOutside(file, `${file}#${name}`) && !usedOutside(file, `${file}#*`)).map(([file, name]) => `${file}: ${name}`);
}

describe('exports in src/', () => {
  it('each has a user outside its file (else it is not exported)', () => {
    const files = USER_FOLDERS.flatMap((folder) => tsFiles(folder));
    expect(exportsWithoutUsers(new Map(files.map((file) => [file, readFileSync(path.join(ROOT, file), 'utf8')])))).toEqual([]);
  });

  it('the check finds an export nobody imports, and counts a dynamic import and a re-export as users', () => {
    const texts = new Map([
      ['src/a.ts', 'export const used = 1;\nexport function unused() {}\nexport type Dyn = 1;\nexport interface Again {}\n'],
      ['src/b.ts', "import { used } from './a.js';\nexport { type Again } from './a.js';\n"],
      ['test/c.test.ts', "const { Dyn } = await import('../src/a.js');\n"],
    ]);
    expect(exportsWithoutUsers(texts)).toEqual(['src/a.ts: unused']);
  });
});
