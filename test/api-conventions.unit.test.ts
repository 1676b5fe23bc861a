/**
 * docs/api-conventions.md against the public types, read by the TypeScript
 * compiler from src/index.ts: every number a user can read or set is in the
 * units table, its unit keeps the one rule (durations in ms, TTLs in seconds
 * and named so), and every field that carries a failure code is typed with
 * the exported DnsErrorCode.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { isOwnPublicMember, readPublicApi } from '../harness/public-api.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');

interface PublicField {
  /** Where a user meets it, e.g. `WatcherStats.lastError.code`. */
  path: string;
  name: string;
  type: string;
  isNumber: boolean;
}

/** Every property of the exported types and values declared in src/, followed into object types, arrays and unions. */
function publicFields(): PublicField[] {
  const { checker, exports } = readPublicApi(ROOT);
  const fields: PublicField[] = [];
  const visit = (type: ts.Type, at: string, seen: Set<ts.Type>): void => {
    for (const part of type.isUnion() ? type.types : [type]) {
      if (!(part.flags & ts.TypeFlags.Object) || seen.has(part)) continue;
      const element = checker.isArrayType(part) ? checker.getIndexTypeOfType(part, ts.IndexKind.Number) : undefined;
      if (element) {
        visit(element, `${at}[]`, seen);
        continue;
      }
      seen.add(part);
      for (const property of checker.getPropertiesOfType(part)) {
        if (!isOwnPublicMember(property, SRC)) continue;
        const propertyType = checker.getNonNullableType(checker.getTypeOfSymbol(property));
        const typeText = checker.typeToString(propertyType);
        // The grpc-js module a user passes in: its fields are grpc-js's.
        if (typeText === 'GrpcJsModule') continue;
        const parts = propertyType.isUnion() ? propertyType.types : [propertyType];
        const isNumber = parts.some((member) => (member.flags & ts.TypeFlags.NumberLike) !== 0);
        fields.push({ path: `${at}.${property.name}`, name: property.name, type: typeText, isNumber });
        visit(propertyType, `${at}.${property.name}`, seen);
      }
      seen.delete(part);
    }
  };
  for (const [name, symbol] of exports) {
    // The grpc-js module a user passes in: its fields are grpc-js's.
    if (name === 'GrpcJsModule') continue;
    const isType = symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias);
    const type = isType ? checker.getDeclaredTypeOfSymbol(symbol) : checker.getTypeOfSymbol(symbol);
    visit(type, name, new Set());
    if (symbol.flags & ts.SymbolFlags.Class) visit(checker.getDeclaredTypeOfSymbol(symbol), name, new Set());
  }
  return fields;
}

/** The units table: field name → unit. */
function unitsTable(): Map<string, string> {
  const doc = readFileSync(path.join(ROOT, 'docs', 'api-conventions.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Units'), doc.indexOf('## Codes'));
  return new Map([...section.matchAll(/^\| `(\w+)` \| ([^|]+?) \|/gm)].map((row) => [row[1]!, row[2]!]));
}

const TTL_NAME = /^ttl$|Ttl$/;

describe('docs/api-conventions.md', () => {
  let fields: PublicField[];
  beforeAll(() => {
    fields = publicFields();
  }, 60_000);

  it('finds the public API (the reading of the types works)', () => {
    const paths = fields.map((field) => field.path);
    expect(paths).toContain('WatchOptions.refreshInterval');
    expect(paths).toContain('WatcherStats.lastError.code');
    expect(paths).toContain('WatchUpdate.records[].ttl');
  });

  it('gives every public number a unit, and names no field that is gone', () => {
    const table = unitsTable();
    const numbers = new Set(fields.filter((field) => field.isNumber).map((field) => field.name));
    expect([...numbers].filter((name) => !table.has(name)), 'numbers without a row').toEqual([]);
    expect([...table.keys()].filter((name) => !numbers.has(name)), 'rows for no public number').toEqual([]);
  });

  it('keeps the one rule: seconds only for TTLs, which say so; every other duration in ms', () => {
    for (const [name, unit] of unitsTable()) {
      expect(['ms', 's (TTL)', 'fraction', 'factor', 'count', 'code'], name).toContain(unit);
      expect(unit === 's (TTL)', `${name}: seconds if and only if a TTL by name`).toBe(TTL_NAME.test(name));
      if (name.endsWith('Ms')) expect(unit, name).toBe('ms');
    }
  });

  it('types every field that carries a failure code with DnsErrorCode', () => {
    const codes = fields.filter((field) => field.name === 'code' || field.name === 'result');
    expect(codes.map((field) => field.path)).toEqual(expect.arrayContaining(['DnsError.code', 'WatcherStats.lastError.code']));
    for (const field of codes) expect(field.type, field.path).toMatch(/^(DnsErrorCode|"NOERROR" \| DnsErrorCode|DnsErrorCode \| "NOERROR")$/);
  });
});
