import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/args.js';
import { Reporter } from '../src/cli/report.js';
import type { WatcherStats } from '../src/watch/stats.js';

/** What the command says about a cache in front, as the verdict moves poll by poll. */

type CacheStats = Pick<WatcherStats, 'cache' | 'cacheTtl' | 'stalenessBoundMs'>;

const AT = new Date('2026-11-29T12:00:00.000Z');
const unknown: CacheStats = { cache: 'unknown', cacheTtl: undefined, stalenessBoundMs: undefined };
const none: CacheStats = { cache: 'none', cacheTtl: undefined, stalenessBoundMs: undefined };
const detected: CacheStats = { cache: 'detected', cacheTtl: 30, stalenessBoundMs: 37_000 };

function reporter(args: string[]) {
  const command = parseCommandLine([...args, 'svc.test']);
  if (command.kind !== 'run') throw new Error('expected a run');
  const out = { stdout: '', stderr: '' };
  const report = new Reporter(command.config, { write: (s: string) => (out.stdout += s) }, { write: (s: string) => (out.stderr += s) }, () => AT);
  return { report, out };
}

describe('Reporter.cache', () => {
  it('says nothing while no cache is seen, once when one is, and once when it goes', () => {
    const { report, out } = reporter([]);
    for (const stats of [unknown, none, none, detected, detected, { ...detected, cacheTtl: 31 }, none, none]) report.cache(stats);
    expect(out.stdout).toBe('');
    expect(out.stderr).toBe(
      '2026-11-29T12:00:00.000Z  note: answers come from a cache (the TTL counts down; it keeps a copy up to 30s): ' +
        'a change can take up to 37s to show here; polling as each copy expires\n' +
        '2026-11-29T12:00:00.000Z  note: answers no longer come from a cache (the TTL repeats)\n',
    );
  });

  it('--json: the same moments as cache events on stdout', () => {
    const { report, out } = reporter(['--json']);
    for (const stats of [unknown, detected, detected, unknown]) report.cache(stats);
    expect(out.stderr).toBe('');
    expect(out.stdout.trim().split('\n').map((line) => JSON.parse(line) as unknown)).toEqual([
      { type: 'cache', at: AT.toISOString(), name: 'svc.test', cache: 'detected', ttl: 30, stalenessBoundMs: 37_000 },
      { type: 'cache', at: AT.toISOString(), name: 'svc.test', cache: 'unknown', ttl: null, stalenessBoundMs: null },
    ]);
  });
});
