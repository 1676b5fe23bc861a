/**
 * The search-list walk, outcome by outcome, against glibc's res_search
 * (resolv/res_query.c, `__res_context_search`; the essay in
 * src/dns/stub-resolver.ts quotes it). One row per outcome of one candidate and
 * where the candidate stands in the walk; each row says what glibc asks and
 * gives, and what we ask and give — the same unless the row says why not —
 * and runs against the in-process DNS server with glibc's defaults
 * (timeout 5 s, attempts 2: a timed-out candidate costs 10 s). Each row's
 * resolver runs on a clock ten times faster than the machine's
 * (harness/fast-timers.ts), so those 10 s pass in one, and a timed-out
 * row checks that its tries were given the 5 s; the rows run side by side.
 *
 * Search list `a.test b.test c.test`. With `ndots:5` the name `rN` is asked
 * as rN.a.test (first), rN.b.test (middle), rN.c.test, then rN as written;
 * with `ndots:1` the name `rN.x` is asked as written first, then with each
 * domain. Unless a row sets them, rN.c.test holds 10.0.0.3 (a later
 * candidate that answers) and rN as written holds 10.0.0.9, so where a walk
 * goes next shows in what it answers.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DnsError } from '../src/dns/errors.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { fastTimers } from '../harness/fast-timers.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { resolvConfText } from '../harness/temp-folder.js';

type Outcome = 'records' | 'NODATA' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'timeout' | 'network error';
/** Candidates by where they stand: the three domains, and the name as written. */
type Place = 'a' | 'b' | 'c' | 'written';

interface Row {
  outcome: Outcome;
  /** The candidate that gives `outcome`. */
  at: Place;
  /** The name tried as written first (ndots:1) instead of last (ndots:5). */
  asWrittenFirst?: boolean;
  /** Also remove the records of the later candidates, so the walk's end shows. */
  nothingLater?: boolean;
  /** What glibc asks, in order, and what it gives (an address, or h_errno's meaning). */
  glibc: { asks: Place[]; gives: string };
  /** What we ask and give, when it differs from glibc, and why. */
  ours?: { asks: Place[]; gives: string; why: string };
}

const LIST_FIRST: Row[] = (['a', 'b'] as const).flatMap((at): Row[] => {
  const before: Place[] = at === 'a' ? ['a'] : ['a', 'b'];
  return [
    { outcome: 'records', at, glibc: { asks: before, gives: `10.0.0.${at === 'a' ? 1 : 2}` } },
    { outcome: 'NODATA', at, glibc: { asks: ['a', 'b', 'c'], gives: '10.0.0.3' } },
    { outcome: 'NXDOMAIN', at, glibc: { asks: ['a', 'b', 'c'], gives: '10.0.0.3' } },
    { outcome: 'SERVFAIL', at, glibc: { asks: ['a', 'b', 'c'], gives: '10.0.0.3' } },
    { outcome: 'REFUSED', at, glibc: { asks: [...before, 'written'], gives: '10.0.0.9' } },
    { outcome: 'timeout', at, glibc: { asks: [...before, 'written'], gives: '10.0.0.9' } },
    // TCP refused after a truncated reply: glibc's send_vc leaves ECONNREFUSED, and res_search returns at once.
    { outcome: 'network error', at, glibc: { asks: before, gives: 'TRY_AGAIN' }, ours: { asks: before, gives: 'NETWORK', why: 'TRY_AGAIN is "could not ask"' } },
  ];
});

/** The name as written, asked last after every domain said NXDOMAIN. */
const WRITTEN_LAST: Row[] = [
  { outcome: 'records', at: 'written', nothingLater: true, glibc: { asks: ['a', 'b', 'c', 'written'], gives: '10.0.0.9' } },
  { outcome: 'NODATA', at: 'written', nothingLater: true, glibc: { asks: ['a', 'b', 'c', 'written'], gives: 'NODATA' } },
  { outcome: 'NXDOMAIN', at: 'written', nothingLater: true, glibc: { asks: ['a', 'b', 'c', 'written'], gives: 'NXDOMAIN' } },
  ...(['SERVFAIL', 'REFUSED', 'timeout'] as const).map(
    (outcome): Row => ({
      outcome,
      at: 'written',
      nothingLater: true,
      glibc: { asks: ['a', 'b', 'c', 'written'], gives: 'TRY_AGAIN' },
      ours: {
        asks: ['a', 'b', 'c', 'written'],
        gives: 'NXDOMAIN',
        why: 'three candidates answered NXDOMAIN: "could not ask" only when nothing answered, so one failing candidate never holds a deleted name’s addresses',
      },
    }),
  ),
  { outcome: 'network error', at: 'written', nothingLater: true, glibc: { asks: ['a', 'b', 'c', 'written'], gives: 'TRY_AGAIN' }, ours: { asks: ['a', 'b', 'c', 'written'], gives: 'NETWORK', why: 'TRY_AGAIN is "could not ask"' } },
];

/** The name as written tried first (dots >= ndots): whatever it gives short of records, glibc walks the list. */
const WRITTEN_FIRST: Row[] = [
  { outcome: 'records', at: 'written', asWrittenFirst: true, glibc: { asks: ['written'], gives: '10.0.0.9' } },
  ...(['NODATA', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'timeout'] as const).map(
    (outcome): Row => ({ outcome, at: 'written', asWrittenFirst: true, glibc: { asks: ['written', 'a', 'b', 'c'], gives: '10.0.0.3' } }),
  ),
  // A search-list candidate after it that times out: the list ends, and the name as written was tried already.
  { outcome: 'timeout', at: 'b', asWrittenFirst: true, nothingLater: true, glibc: { asks: ['written', 'a', 'b'], gives: 'NXDOMAIN' } },
];

const SEARCH = 'search a.test b.test c.test';
// No TCP: a truncated reply then fails over TCP with "connection refused", a network error on one name.
const fixture = dnsServerForFile({ server: { tcp: false }, label: 'search-walk' });
let server: DnsTestServer;
let row = 0;

beforeAll(() => {
  ({ server } = fixture);
});

function names(label: string, asWrittenFirst: boolean): Record<Place, string> {
  const written = asWrittenFirst ? `${label}.x` : label;
  return { a: `${written}.a.test`, b: `${written}.b.test`, c: `${written}.c.test`, written };
}

/** Make `name` give `outcome` to an A query. */
function give(name: string, outcome: Outcome, address: string): void {
  switch (outcome) {
    case 'records':
      return server.setRecords(name, { A: [address] });
    case 'NODATA':
      return server.setRecords(name, { AAAA: ['fd00::1'] });
    case 'NXDOMAIN':
      return server.deleteName(name);
    case 'SERVFAIL':
      return server.setFault('servfail', { name });
    case 'REFUSED':
      return server.setFault('refused', { name });
    case 'timeout':
      return server.setFault('drop', { name });
    case 'network error':
      return server.setFault('truncate', { name });
  }
}

function describeRow({ outcome, at, asWrittenFirst, glibc, ours }: Row): string {
  const where = at === 'written' ? `the name as written, tried ${asWrittenFirst ? 'first' : 'last'}` : `${at === 'a' ? 'the first' : 'the middle'} search-list candidate${asWrittenFirst ? ' (after the name as written)' : ''}`;
  const theirs = `glibc asks ${glibc.asks.join(', ')} and gives ${glibc.gives}`;
  return `${outcome} on ${where}: ${theirs}${ours ? `; we give ${ours.gives} (${ours.why})` : '; so do we'}`;
}

describe('the search-list walk, outcome by outcome, as glibc’s res_search walks it', () => {
  it.concurrent.each([...LIST_FIRST, ...WRITTEN_LAST, ...WRITTEN_FIRST].map((entry) => [describeRow(entry), entry] as const))(
    '%s',
    async (_title, entry) => {
      const label = `r${++row}`;
      const asWrittenFirst = entry.asWrittenFirst ?? false;
      const candidate = names(label, asWrittenFirst);
      const address: Record<Place, string> = { a: '10.0.0.1', b: '10.0.0.2', c: '10.0.0.3', written: '10.0.0.9' };
      if (!entry.nothingLater) {
        server.setRecords(candidate.c, { A: [address.c] });
        server.setRecords(candidate.written, { A: [address.written] });
      }
      give(candidate[entry.at], entry.outcome, address[entry.at]);
      const resolvConf = parseResolvConf(resolvConfText(server, `${SEARCH}\noptions ndots:${asWrittenFirst ? 1 : 5}`));
      const timers = fastTimers(10);
      const resolver = new StubResolver({ resolvConf, hostsPath: false, timers });
      try {
        const expected = entry.ours ?? entry.glibc;
        let gives: string;
        try {
          const resolution = await resolver.resolve(candidate.written, 4);
          gives = resolution.addresses.map((record) => record.address).join(',');
        } catch (error) {
          if (!(error instanceof DnsError)) throw error;
          gives = error.code;
        }
        expect(gives).toBe(expected.gives);
        const place = new Map(Object.entries(candidate).map(([key, name]) => [name.toLowerCase(), key]));
        const asked: string[] = [];
        for (const query of server.queries) {
          const key = place.get(query.name.toLowerCase());
          if (key !== undefined && asked.at(-1) !== key) asked.push(key);
        }
        expect(asked).toEqual(expected.asks);
        // glibc's timeout, not a shortened one: the candidate that timed out had 5 s for its first try.
        if (entry.outcome === 'timeout') expect(timers.delays).toContain(5_000);
      } finally {
        resolver.close();
      }
    },
    30_000,
  );
});
