/**
 * The one host-name rule (src/dns/names.ts) that targets, watch() names,
 * search-list candidates and CNAME targets follow: its single-pass check
 * agrees with the rule written plainly, and says why a name is refused.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostNameProblem, isHostName } from '../src/dns/names.js';

/** The rule as RFC 952/1123 state it, plus "_": no speed concerns. */
function plainRule(name: string): boolean {
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  if (bare.length === 0 || bare.length > 253) return false;
  return bare.split('.').every((label) => /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/.test(label));
}

const nameish = fc.oneof(
  fc.domain(),
  fc.domain().map((name) => `${name}.`),
  fc.string({ unit: fc.constantFrom('a', 'Z', '0', '-', '_', '.', ' ', '/', 'ü', '\n', ':'), maxLength: 80 }),
  fc.array(fc.string({ unit: fc.constantFrom('a', '-', '_', '9'), minLength: 0, maxLength: 70 }), { maxLength: 6 }).map((labels) => labels.join('.')),
  fc.string({ maxLength: 30 }),
);

describe('hostNameProblem', () => {
  it('accepts exactly what the plain rule accepts, and gives a reason for everything else', () => {
    fc.assert(
      fc.property(nameish, (name) => {
        const problem = hostNameProblem(name);
        expect(problem === undefined, JSON.stringify(name)).toBe(plainRule(name));
        expect(isHostName(name)).toBe(problem === undefined);
        if (problem !== undefined) expect(problem.length).toBeGreaterThan(0);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each<[string, string]>([
    ['', 'the name is empty'],
    ['.', 'the host is only the root "."'],
    ['a..b', 'empty label in host name (two dots in a row, or a leading dot)'],
    ['.a', 'empty label in host name (two dots in a row, or a leading dot)'],
    ['a.b..', 'empty label in host name (two dots in a row, or a leading dot)'],
    [`${'x'.repeat(64)}.test`, `label "${'x'.repeat(20)}…" is 64 characters, more than 63`],
    // A label both too long and with a bad character: the length is said first.
    [`${'x'.repeat(64)}!.test`, `label "${'x'.repeat(20)}…" is 65 characters, more than 63`],
    ['svc.bü.test', '"bü" is not a valid DNS label: character "ü" is not allowed (letters, digits, "-" and "_"; IDNs in punycode)'],
    ['a.😀.test', '"😀" is not a valid DNS label: character "😀" is not allowed (letters, digits, "-" and "_"; IDNs in punycode)'],
    ['my-svc:50051', '"my-svc:50051" is not a valid DNS label: character ":" is not allowed (letters, digits, "-" and "_"; IDNs in punycode)'],
    ['-svc.test', '"-svc" is not a valid DNS label: it starts or ends with "-"'],
    ['svc.test-', '"test-" is not a valid DNS label: it starts or ends with "-"'],
  ])('%j: %s', (name, problem) => {
    expect(hostNameProblem(name)).toBe(problem);
  });

  it('accepts names at the limits', () => {
    const label = 'a'.repeat(63);
    const longest = `${label}.${label}.${label}.${'b'.repeat(61)}`;
    expect(longest).toHaveLength(253);
    for (const name of [longest, `${longest}.`, '_grpc._tcp.svc.test', 'xn--bcher-kva.example', '0', 'a-b.c_d']) {
      expect(hostNameProblem(name), name).toBeUndefined();
    }
    expect(hostNameProblem(`${longest}b`)).toBe('host name is 254 characters, more than 253');
  });
});
