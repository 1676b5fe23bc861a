/**
 * selectTxtServiceConfig: a channel's service config out of TXT records, by
 * the rules of the app's own grpc-js copy (its service-config.js), in each
 * grpc-js version the library supports — reached whether the app passes the
 * CommonJS module or an `import * as grpc` namespace — and compared on
 * generated records with that version's own extractAndSelectServiceConfig.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as grpcCurrent from '@grpc/grpc-js';
import * as grpc18 from 'grpc-js-1.8';
import * as grpc110 from 'grpc-js-1.10';
import * as grpc113 from 'grpc-js-1.13';
import { rollPercentage, selectTxtServiceConfig, txtSelectionAvailable } from '../src/grpc/txt-service-config.js';

const require = createRequire(import.meta.url);

const VERSIONS: Array<[name: string, namespace: object, file: string]> = [
  ['1.8', grpc18, 'grpc-js-1.8/build/src/service-config.js'],
  ['1.10', grpc110, 'grpc-js-1.10/build/src/service-config.js'],
  ['1.13', grpc113, 'grpc-js-1.13/build/src/service-config.js'],
  ['1.14', grpcCurrent, '@grpc/grpc-js/build/src/service-config.js'],
];

const ROUND_ROBIN = { loadBalancingConfig: [{ round_robin: {} }] };
const grpcConfig = (choices: unknown): string => `grpc_config=${JSON.stringify(choices)}`;

/** The first load-balancing policy of a validated config: a name in 1.10+, a config object with its name in 1.8. */
function policyOf(config: unknown): string | undefined {
  const first = (config as { loadBalancingConfig?: unknown[] } | null)?.loadBalancingConfig?.[0] as { getLoadBalancerName?: () => string } | undefined;
  if (!first) return undefined;
  return typeof first.getLoadBalancerName === 'function' ? first.getLoadBalancerName() : Object.keys(first)[0];
}

/** Choices as a TXT publisher might write them: valid and not, matching and not. */
const choice = fc.record(
  {
    serviceConfig: fc.constantFrom<unknown>(ROUND_ROBIN, {}, { loadBalancingConfig: [{ pick_first: {} }] }, { loadBalancingConfig: 'bad' }, 7),
    percentage: fc.oneof(fc.integer({ min: -5, max: 105 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.constant<unknown>('50')),
    clientLanguage: fc.constantFrom<unknown>(['node'], ['go', 'node'], ['NODE'], [], 'node', [7]),
    clientHostname: fc.constantFrom<unknown>([os.hostname()], ['elsewhere'], []),
    unexpected: fc.constant(true),
  },
  { requiredKeys: [] },
);
const record = fc.oneof(
  fc.array(choice, { maxLength: 4 }).map((choices) => {
    const text = grpcConfig(choices);
    const cut = Math.min(text.length, 20);
    return [text.slice(0, cut), text.slice(cut)];
  }),
  fc.constantFrom<string[]>(['v=spf1 -all'], ['grpc_config=not json'], ['grpc_config=', '{}'], ['grpc_con', 'fig=[]'], ['Grpc_config=[]'], [], ['grpc_config=null']),
);

describe('selectTxtServiceConfig', () => {
  for (const [name, namespace, file] of VERSIONS) {
    const cjs = (namespace as { default: object }).default;
    const own = require(file) as { extractAndSelectServiceConfig(records: string[][], percentage: number): object | null };

    it(`grpc-js ${name}: reached from the module and from its namespace`, () => {
      expect(txtSelectionAvailable(cjs)).toBe(true);
      expect(txtSelectionAvailable(namespace)).toBe(true);
    });

    it(`grpc-js ${name}: takes round_robin from grpc_config, joining the record's strings`, () => {
      const text = grpcConfig([{ serviceConfig: ROUND_ROBIN }]);
      const records = [['v=spf1 -all'], [text.slice(0, 15), text.slice(15)]];
      expect(policyOf(selectTxtServiceConfig(records, { percentage: 0, grpc: namespace }))).toBe('round_robin');
      expect(selectTxtServiceConfig([['v=spf1 -all']], { percentage: 0, grpc: namespace })).toBeNull();
      expect(selectTxtServiceConfig([], { percentage: 0, grpc: namespace })).toBeNull();
    });

    it(`grpc-js ${name}: percentage against the roll, and no match is an error`, () => {
      const records = [[grpcConfig([{ percentage: 30, serviceConfig: ROUND_ROBIN }])]];
      expect(policyOf(selectTxtServiceConfig(records, { percentage: 30, grpc: namespace }))).toBe('round_robin');
      const none = selectTxtServiceConfig(records, { percentage: 30.5, grpc: namespace });
      expect(none).toBeInstanceOf(Error);
      expect((none as Error).message).toBe('No matching service config found');
      expect(selectTxtServiceConfig([['grpc_config={']], { percentage: 0, grpc: namespace })).toBeInstanceOf(Error);
    });

    it(`grpc-js ${name}: the same outcome as its own extractAndSelectServiceConfig on generated records`, () => {
      fc.assert(
        fc.property(fc.array(record, { maxLength: 3 }), fc.double({ min: 0, max: 100, maxExcluded: true, noNaN: true }), (records, percentage) => {
          let expected: unknown;
          try {
            expected = own.extractAndSelectServiceConfig(records, percentage);
          } catch (error) {
            expected = { error: (error as Error).message };
          }
          const got = selectTxtServiceConfig(records, { percentage, grpc: namespace });
          expect(got instanceof Error ? { error: got.message } : got).toEqual(expected);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('is null for an object that is not a grpc-js module on disk (nothing to validate with)', () => {
    const records = [[grpcConfig([{ serviceConfig: ROUND_ROBIN }])]];
    expect(txtSelectionAvailable({})).toBe(false);
    expect(selectTxtServiceConfig(records, { percentage: 0, grpc: {} })).toBeNull();
    expect(selectTxtServiceConfig(records, { percentage: 0, grpc: null })).toBeNull();
  });

  it('rolls in [0, 100) as grpc-js does', () => {
    expect(rollPercentage(() => 0)).toBe(0);
    expect(rollPercentage(() => 0.999)).toBeCloseTo(99.9);
    const roll = rollPercentage();
    expect(roll).toBeGreaterThanOrEqual(0);
    expect(roll).toBeLessThan(100);
  });
});
