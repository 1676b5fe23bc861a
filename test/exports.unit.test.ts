/**
 * Every export of a module in src/ has a user outside its file: another
 * module, or a test, benchmark, example or script that reaches it as its
 * seam. The public entry (src/index.ts, src/package-entry.ts) is exempt: its
 * users are the package's.
 *
 * And each thing has one exported name: no export that only gives another
 * export a second name (`export const B = A`, `export type B = A`,
 * `export { A as B }`), nor a module exporting again a name it imported
 * (`import { A } …; export { A }`): its users import it from its home.
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

/** The names a file binds by `import` (named, default and namespace). */
function importedBindings(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) || !statement.importClause) continue;
    const { name, namedBindings } = statement.importClause;
    if (name) names.add(name.text);
    if (namedBindings && ts.isNamespaceImport(namedBindings)) names.add(namedBindings.name.text);
    else if (namedBindings) for (const element of namedBindings.elements) names.add(element.name.text);
  }
  return names;
}

/**
 * `file: what` for each export of src/ that only gives another export a
 * second name, among `texts` (path → source text): a constant or type alias
 * that is just an imported or exported name, an `export { a as b }`, an
 * `export { a }` of a name the file imported, and outside the public entry
 * any `export { a } from` another module.
 */
function renamingExports(texts: ReadonlyMap<string, string>): string[] {
  const found: string[] = [];
  for (const [file, text] of texts) {
    if (!file.startsWith('src/')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const imported = importedBindings(source);
    const known = new Set([...imported, ...exportedNames(source)]);
    const isExported = (statement: ts.Statement): boolean =>
      ts.canHaveModifiers(statement) && (ts.getModifiers(statement) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
    for (const statement of source.statements) {
      if (ts.isVariableStatement(statement) && isExported(statement)) {
        for (const declaration of statement.declarationList.declarations) {
          const value = declaration.initializer;
          if (value && ts.isIdentifier(value) && known.has(value.text)) found.push(`${file}: ${declaration.name.getText(source)} = ${value.text}`);
        }
      } else if (ts.isTypeAliasDeclaration(statement) && isExported(statement)) {
        const type = statement.type;
        if (ts.isTypeReferenceNode(type) && !type.typeArguments && known.has(type.typeName.getText(source))) {
          found.push(`${file}: type ${statement.name.text} = ${type.typeName.getText(source)}`);
        }
      } else if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
        const local = statement.moduleSpecifier === undefined;
        for (const element of statement.exportClause.elements) {
          const renamed = element.propertyName !== undefined && element.propertyName.text !== element.name.text;
          // Passed on from another module outside the public entry: a second place to import the same thing from.
          const passedOn = !local && !PUBLIC_ENTRIES.has(file);
          if (renamed || passedOn || (local && imported.has(element.name.text))) found.push(`${file}: export { ${element.getText(source)} }`);
        }
      }
    }
  }
  return found;
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

  it('none only gives another export a second name', () => {
    const files = tsFiles('src');
    expect(renamingExports(new Map(files.map((file) => [file, readFileSync(path.join(ROOT, file), 'utf8')])))).toEqual([]);
  });

  it('the check finds an alias, a renaming export and an imported name exported again, and leaves values made from a name alone', () => {
    const texts = new Map([
      ['src/a.ts', 'export const A = 1;\nexport type T = { a: number };\n'],
      [
        'src/b.ts',
        [
          "import { A, type T } from './a.js';",
          'export const B = A;',
          'export const twice = 2 * A;',
          'export type U = T;',
          'export type V = Readonly<T>;',
          'export { A };',
          "export { A as C } from './a.js';",
          "export type { T } from './a.js';",
          'const local = 3;',
          'export { local };',
          '',
        ].join('\n'),
      ],
      ['src/index.ts', "export { A } from './a.js';\nexport { A as Z } from './a.js';\nexport * as all from './a.js';\nexport type { T } from './a.js';\n"],
    ]);
    expect(renamingExports(texts)).toEqual([
      'src/b.ts: B = A',
      'src/b.ts: type U = T',
      'src/b.ts: export { A }',
      'src/b.ts: export { A as C }',
      'src/b.ts: export { T }',
      'src/index.ts: export { A as Z }',
    ]);
  });
});
