/**
 * The package's public API as the TypeScript compiler reads it from
 * src/index.ts: what the doc tests check the README and
 * docs/api-conventions.md against.
 */
import path from 'node:path';
import ts from 'typescript';

export interface PublicApi {
  checker: ts.TypeChecker;
  /** Every export of src/index.ts by name, aliases followed to what they name. */
  exports: Map<string, ts.Symbol>;
}

export function readPublicApi(root: string): PublicApi {
  const index = path.join(root, 'src', 'index.ts');
  const program = ts.createProgram([index], {
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(index);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (!moduleSymbol) throw new Error(`cannot read ${index}`);
  const exports = new Map(
    checker.getExportsOfModule(moduleSymbol).map((symbol) => [symbol.name, symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol]),
  );
  return { checker, exports };
}

/** A member declared in `srcDir` (ours, not Error's, EventEmitter's or Date's) and not private. */
export function isOwnPublicMember(property: ts.Symbol, srcDir: string): boolean {
  const declaration = property.valueDeclaration ?? property.declarations?.[0];
  if (!declaration?.getSourceFile().fileName.startsWith(`${srcDir}${path.sep}`)) return false;
  return (ts.getCombinedModifierFlags(declaration) & ts.ModifierFlags.Private) === 0;
}
