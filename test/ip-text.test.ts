/** Property tests: the cheap IP-text checks agree with net.isIP. */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAddressOf, mayBeIpLiteral } from '../src/dns/ip-text.js';

const ipish = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.string({ unit: fc.constantFrom('0', '1', 'a', 'f', 'F', 'g', ':', '.', '9', '%', ' '), maxLength: 45 }),
  fc.string({ maxLength: 20 }),
);

describe('ip-text', () => {
  it('isAddressOf(text, family) is net.isIP(text) === family', () => {
    fc.assert(
      fc.property(ipish, fc.constantFrom(4 as const, 6 as const), (text, family) => {
        expect(isAddressOf(text, family)).toBe(net.isIP(text) === family);
      }),
      { numRuns: 20_000 },
    );
  });

  it('a text mayBeIpLiteral declines is no IP address', () => {
    fc.assert(
      fc.property(fc.oneof(ipish, fc.domain()), (text) => {
        if (!mayBeIpLiteral(text)) expect(net.isIP(text)).toBe(0);
      }),
      { numRuns: 20_000 },
    );
  });
});
