/**
 * The README's API section against the package, so a reader finds every
 * export's signature and every option's type, default and unit there:
 *
 * - every runtime export of src/index.ts has a row in the exports table with
 *   its signature (constants: their value), and every row names an export;
 * - every type export is named in the section;
 * - every option `register()` accepts — read from its own "accepted:" list,
 *   so a new option fails here until it is documented — has a row in the
 *   options table with its type as the compiler reads it, its default
 *   (`DEFAULTS`' value where it has one) and its unit (the one
 *   docs/api-conventions.md gives it, for numbers);
 * - every channel option key, every field of the shapes a user reads
 *   (`WatchUpdate`, `WatcherStats`, `DnsWatch`'s members and events, each
 *   `WatchEvent`), and every `DnsErrorCode` has its row.
 *
 * The types are read with the TypeScript compiler from src/index.ts, as
 * test/api-conventions.unit.test.ts reads them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import { codeSpans, namesInCode, section, tableByHeader, tables } from '../harness/markdown.js';
import { isOwnPublicMember, readPublicApi, type PublicApi } from '../harness/public-api.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const API = section(README, '## API');

/** The unit column of docs/api-conventions.md's table: field name → unit. */
function conventionUnits(): Map<string, string> {
  const doc = readFileSync(path.join(ROOT, 'docs', 'api-conventions.md'), 'utf8');
  const units = section(doc, '## Units');
  return new Map(tableByHeader(units, 'field').slice(1).map((row) => [codeSpans(row[0] ?? '')[0] ?? '', row[1] ?? '']));
}

/** The names in a list that an error message gives after "accepted: ". */
function acceptedList(call: () => unknown): string[] {
  try {
    call();
  } catch (error) {
    const list = /accepted: (.*)$/.exec((error as Error).message)?.[1];
    if (list) return list.split(', ');
    throw error;
  }
  throw new Error('expected the call to refuse an unknown option');
}

/** Rows of a table keyed by the first code span of their first cell. */
function rowsByName(table: string[][]): Map<string, string[]> {
  return new Map(table.slice(1).map((row) => [codeSpans(row[0] ?? '')[0] ?? '', row]));
}

/** The declared type of an exported interface, alias or class (its instances). */
function declaredType({ checker, exports }: PublicApi, name: string): ts.Type {
  const symbol = exports.get(name);
  if (!symbol) throw new Error(`src/index.ts exports no ${name}`);
  return checker.getDeclaredTypeOfSymbol(symbol);
}

interface Property {
  name: string;
  type: string;
  /** A number or a union of numbers (`Family`). */
  isNumber: boolean;
}

/** A type's own public properties, declared in src/ (not Error's or EventEmitter's), with `[Symbol.x]` for symbol keys. */
function ownProperties({ checker }: PublicApi, type: ts.Type): Property[] {
  return checker
    .getPropertiesOfType(type)
    .filter((property) => isOwnPublicMember(property, SRC))
    .map((property) => {
      const type = checker.getNonNullableType(checker.getTypeOfSymbol(property));
      return {
        name: property.name.startsWith('__@') ? `[Symbol.${property.name.slice(3).split('@')[0]}]` : property.name,
        type: checker.typeToString(type),
        isNumber: (type.isUnion() ? type.types : [type]).every((part) => (part.flags & ts.TypeFlags.NumberLike) !== 0),
      };
    });
}

describe('README API section', () => {
  let index: PublicApi;
  beforeAll(() => {
    index = readPublicApi(ROOT);
  }, 60_000);

  it('the table reader splits rows on unescaped pipes only', () => {
    expect(tables('| a | b |\n|---|---|\n| `x \\| y` | z |\n\ntext\n| c |\n')).toEqual([[['a', 'b'], ['`x | y`', 'z']], [['c']]]);
  });

  it('has a row for every runtime export, with its signature or value, and no row for anything else', () => {
    const rows = rowsByName(tableByHeader(API, 'export'));
    const runtime = Object.keys(api).sort();
    expect(runtime.filter((name) => !rows.has(name)), 'exports without a row').toEqual([]);
    expect([...rows.keys()].filter((name) => !runtime.includes(name)), 'rows for no export').toEqual([]);
    for (const [name, value] of Object.entries(api)) {
      const cell = rows.get(name)?.[1] ?? '';
      if (typeof value === 'function') {
        // A function's signature starts with its name; a class's declaration names it.
        const signature = codeSpans(cell).some((span) => span.startsWith(`${name}(`) || span.startsWith(`class ${name} `) || span === `class ${name}`);
        expect(signature, `${name}: "${cell}"`).toBe(true);
      } else if (typeof value === 'string') {
        expect(codeSpans(cell), name).toContain(`'${value}'`);
      }
    }
  });

  it('shows DEFAULTS with every value it holds', () => {
    const cell = rowsByName(tableByHeader(API, 'export')).get('DEFAULTS')?.[1] ?? '';
    const leaves = (value: object, at = ''): Array<[string, unknown]> =>
      Object.entries(value).flatMap(([key, inner]): Array<[string, unknown]> =>
        inner !== null && typeof inner === 'object' ? leaves(inner as object, `${at}${key}.`) : [[key, inner]],
      );
    for (const [key, value] of leaves(api.DEFAULTS)) expect(cell, key).toContain(`${key}: ${String(value)}`);
  });

  it('names every type export, and its list of types names only exports', () => {
    const types = [...index.exports.keys()].filter((name) => !(name in api));
    expect(types.length).toBeGreaterThan(5);
    expect(types.filter((name) => !namesInCode(API, name))).toEqual([]);
    const listed = codeSpans(/^Types: [\s\S]*?\n\n/m.exec(API)?.[0] ?? '');
    expect(listed.length, 'a "Types: …" paragraph').toBeGreaterThan(5);
    expect(listed.filter((name) => !index.exports.has(name))).toEqual([]);
    expect(types.filter((name) => !listed.includes(name)), 'type exports missing from the list').toEqual([]);
  });

  it('lists every option register() accepts, with type, default and unit; numbers in the unit api-conventions gives them', () => {
    const accepted = acceptedList(() => api.register({ notAnOption: 1 } as api.RegisterOptions));
    const backoff = acceptedList(() => api.watch('readme-api.test', { backoff: { notAnOption: 1 } as api.BackoffOptions }));
    expect(accepted).toContain('refreshInterval');
    expect(backoff).toContain('backoff.initial');
    const rows = rowsByName(tableByHeader(API, 'option'));
    const header = tableByHeader(API, 'option')[0];
    expect(header).toEqual(['option', 'type', 'default', 'unit', 'what']);
    const units = conventionUnits();
    const optionTypes = new Map([
      ...ownProperties(index, declaredType(index, 'RegisterOptions')).map((property) => [property.name, property] as const),
      ...ownProperties(index, declaredType(index, 'BackoffOptions')).map((property) => [`backoff.${property.name}`, property] as const),
    ]);
    const { backoff: backoffDefaults, ...topDefaults } = api.DEFAULTS;
    const defaults = new Map<string, number | boolean | undefined>([
      ...Object.entries(topDefaults),
      ...Object.entries(backoffDefaults).map(([key, value]): [string, number | undefined] => [`backoff.${key}`, value]),
    ]);
    const problems: string[] = [];
    for (const option of [...accepted, ...backoff]) {
      const row = rows.get(option);
      if (!row) {
        problems.push(`${option}: no row`);
        continue;
      }
      const [, type = '', byDefault = '', unit = '', what = ''] = row;
      if (!type || !byDefault || !unit || !what) problems.push(`${option}: an empty cell in ${JSON.stringify(row)}`);
      const property = optionTypes.get(option);
      const declared = (property?.type ?? '?').replace(/^readonly /, '');
      if (!(codeSpans(type)[0] ?? '').startsWith(declared)) problems.push(`${option}: type "${type}", declared ${declared}`);
      if (property?.isNumber) {
        const expected = units.get(option.replace(/^backoff\./, ''));
        if (unit !== expected) problems.push(`${option}: unit "${unit}", api-conventions.md says ${expected ?? 'nothing'}`);
      } else if (unit !== '—') {
        problems.push(`${option}: unit "${unit}" for a ${declared} (expected —)`);
      }
      if (defaults.has(option)) {
        const value = defaults.get(option);
        // An unset default follows another option (backoff.max: refreshInterval); the row says which.
        const shown = value === undefined ? codeSpans(byDefault).some((span) => /^[a-z]\w*$/i.test(span) && span in api.DEFAULTS) : codeSpans(byDefault).includes(String(value));
        if (!shown) problems.push(`${option}: default "${byDefault}", DEFAULTS holds ${String(value)}`);
      }
    }
    const extra = [...rows.keys()].filter((name) => ![...accepted, ...backoff, 'backoff'].includes(name));
    expect(problems).toEqual([]);
    expect(extra, 'rows for options that are not accepted').toEqual([]);
  });

  it('maps every channel option key to the option it overrides, with the unit of that option', () => {
    const rows = rowsByName(tableByHeader(API, 'channel option'));
    const options = rowsByName(tableByHeader(API, 'option'));
    for (const [key, option] of Object.entries(api.CHANNEL_OPTION_KEYS)) {
      const row = rows.get(key);
      expect(row, key).toBeDefined();
      expect(codeSpans(row?.[1] ?? '')[0], key).toBe(option);
      expect(row?.[2], key).toBe(options.get(option)?.[3]);
    }
  });

  it('documents every field of WatchUpdate and WatcherStats, and every DnsWatch member and event', () => {
    const watchSection = section(README, '### `watch()` and `DnsWatch`');
    const statsSection = section(README, '### `stats()`');
    const shapes: Array<[string, string]> = [
      ['WatchUpdate', tableByHeader(watchSection, 'field').map((row) => row[0]).join(' ')],
      ['WatcherStats', tableByHeader(statsSection, 'field').map((row) => row[0]).join(' ')],
      ['DnsWatch', tableByHeader(watchSection, '`DnsWatch` member').map((row) => row[0]).join(' ')],
    ];
    for (const [shape, firstColumn] of shapes) {
      const missing = ownProperties(index, declaredType(index, shape)).filter((property) => !namesInCode(firstColumn, property.name.replace(/^\[|\]$/g, '')));
      expect(missing.map((property) => property.name), shape).toEqual([]);
    }
    const members = tableByHeader(watchSection, '`DnsWatch` member').map((row) => row[0] ?? '');
    for (const event of ownProperties(index, declaredType(index, 'DnsWatchEvents'))) {
      expect(members.some((cell) => codeSpans(cell).some((span) => span.startsWith(`on('${event.name}'`))), event.name).toBe(true);
    }
  });

  it('gives every WatchEvent type its row with every field', () => {
    const rows = rowsByName(tableByHeader(section(README, '### `observe()`'), '`type`'));
    const union = declaredType(index, 'WatchEvent');
    const members = union.isUnion() ? union.types : [union];
    expect(members.length).toBeGreaterThanOrEqual(4);
    for (const member of members) {
      const properties = ownProperties(index, member);
      const type = properties.find((property) => property.name === 'type')?.type.replace(/"/g, "'") ?? '?';
      const row = rows.get(type);
      expect(row, type).toBeDefined();
      const missing = properties.filter((property) => property.name !== 'type' && !namesInCode(row?.[1] ?? '', property.name));
      expect(missing.map((property) => property.name), type).toEqual([]);
    }
  });

  it('explains every DnsErrorCode', () => {
    const codes = declaredType(index, 'DnsErrorCode');
    const names = (codes.isUnion() ? codes.types : [codes]).map((code) => index.checker.typeToString(code).replace(/"/g, ''));
    const firstColumn = tableByHeader(section(README, '### Errors'), '`DnsErrorCode`').map((row) => row[0] ?? '').join(' ');
    expect(names.length).toBeGreaterThan(5);
    expect(names.filter((code) => !namesInCode(firstColumn, code))).toEqual([]);
  });
});
