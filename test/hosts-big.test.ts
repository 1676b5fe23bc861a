/**
 * Hosts files far past what /etc/hosts usually holds (issue 20, item 6): up
 * to the 32 MiB cap of distinct short names, read in slices with the event
 * loop turning between them, each slice scanned in steps with the event loop
 * let run after SCAN_TURN_MS of scanning in one turn, keeping the names of
 * the first 64 KiB and the names asked — never a table of every name. These
 * tests assert what the reader did (its slices and steps, the turns of the
 * event loop during the scan, the names it kept, the scans it ran; the time
 * per turn on an injected clock), not how long the machine took; the stall,
 * heap and RSS it costs are measured by scripts/hosts-cost.ts
 * (docs/reliability.md, "A big hosts file").
 */
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsFile, MAX_HOSTS_BYTES, SCAN_SLICE_BYTES, WHOLE_TABLE_BYTES, hostsParseCount, hostsScanCount, lastHostsScan } from '../src/dns/hosts.js';
import { SCAN_STEP_BYTES, SCAN_TURN_MS, parseHosts } from '../src/dns/hosts-scanner.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import { setTraceSink, trace } from '../src/watch/trace.js';
import { seededRandom } from '../harness/seeded-random.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hosts-big-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Line `i` of a file of distinct names and addresses: `10.a.b.c nXXX`. */
function line(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} n${i.toString(36)}\n`;
}

/** `bytes` of distinct-name lines (whole lines only); how many lines, and how many start within the first `within` bytes. */
function distinctLines(bytes: number, within = WHOLE_TABLE_BYTES): { text: string; lines: number; linesWithin: number } {
  const parts: string[] = [];
  let size = 0;
  let linesWithin = 0;
  for (let i = 0; ; i++) {
    const next = line(i);
    if (size + next.length > bytes) break;
    if (size < within) linesWithin++;
    parts.push(next);
    size += next.length;
  }
  return { text: parts.join(''), lines: parts.length, linesWithin };
}

const nameOf = (i: number): string => `n${i.toString(36)}`;
const addressOf = (i: number): string => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** A clock on which every reading is SCAN_TURN_MS after the one before: each step of a scan seems to take the whole budget of a turn. */
function slowClock(): { now(): number } {
  let now = 0;
  return { now: () => (now += SCAN_TURN_MS) };
}

/** Counts turns of the event loop (a setImmediate chain) until stopped. */
function countTurns(): { stop(): number } {
  let turns = 0;
  let running = true;
  const turn = (): void => {
    turns++;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    stop() {
      running = false;
      return turns;
    },
  };
}

describe('a hosts file at the size cap (32 MiB of distinct short names, and more past it)', () => {
  let path: string;
  let lines: number;
  let linesWithin: number;

  beforeAll(async () => {
    path = join(dir, 'at-the-cap');
    ({ lines, linesWithin } = await (async () => {
      const made = distinctLines(MAX_HOSTS_BYTES);
      await writeFile(path, made.text);
      return made;
    })());
    // Past the cap: never read.
    await appendFile(path, '10.9.9.9 over-the-cap\n');
  }, 60_000);

  it('is scanned in slices of at most 64 KiB with the event loop turning between them, keeping only the first part and the names asked', async () => {
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const counter = countTurns();
    const last = lines - 1;
    const middle = Math.floor(lines / 2);
    // Asked in one turn: one scan for all of them (after the first, which reads the first part).
    const scansBefore = hostsScanCount();
    const [atEnd, inMiddle, absent, early, overCap] = await Promise.all([
      hosts.lookup(nameOf(last), 0),
      hosts.lookup(nameOf(middle), 4),
      hosts.lookup('not-in-the-file', 0),
      hosts.lookup(nameOf(3), 0),
      hosts.lookup('over-the-cap', 0),
    ]);
    const turns = counter.stop();
    loopDelay.disable();
    const maxDelayMs = Math.round(loopDelay.max / 1e6);

    expect(atEnd).toEqual([{ address: addressOf(last), family: 4, ttl: Infinity }]);
    expect(inMiddle).toEqual([{ address: addressOf(middle), family: 4, ttl: Infinity }]);
    expect(absent).toBeNull();
    expect(early).toEqual([{ address: addressOf(3), family: 4, ttl: Infinity }]);
    expect(overCap).toBeNull();
    expect(hostsScanCount() - scansBefore).toBe(2);

    const scan = lastHostsScan()!;
    expect(scan.path).toBe(path);
    expect(scan.bytes).toBe(MAX_HOSTS_BYTES);
    expect(scan.whole).toBe(false);
    // Every slice at most SCAN_SLICE_BYTES: no turn of the event loop scans more.
    expect(scan.slices).toBeGreaterThanOrEqual(MAX_HOSTS_BYTES / SCAN_SLICE_BYTES);
    expect(scan.largestSliceBytes).toBeLessThanOrEqual(SCAN_SLICE_BYTES);
    // Each slice scanned in steps of at most SCAN_STEP_BYTES, the clock read between two.
    expect(scan.steps).toBeGreaterThanOrEqual(MAX_HOSTS_BYTES / SCAN_STEP_BYTES);
    expect(scan.largestStepBytes).toBeLessThanOrEqual(SCAN_STEP_BYTES);
    // The event loop ran between the slices (an asynchronous read after each), in both scans.
    expect(turns, `event loop: ${turns} turns, longest delay ${maxDelayMs} ms`).toBeGreaterThanOrEqual(scan.slices);
    // Kept: the names of the first 64 KiB, and the two asked beyond it; not 1.6 million.
    expect(scan.namesWanted).toBe(4);
    expect(scan.namesKept).toBe(linesWithin + 2);
    expect(lines).toBeGreaterThan(1_500_000);

    // Known now, for this version: no more scans.
    await hosts.lookup(nameOf(last), 0);
    await hosts.lookup('not-in-the-file', 0);
    expect(hostsScanCount() - scansBefore).toBe(2);
    // Used in part: a warning, not an error.
    expect(hosts.lastError).toBeUndefined();
    expect(hosts.lastWarning).toBe(`${path}: larger than 32 MiB; only its first 32 MiB are used`);
  }, 60_000);

  it('a resolver traces it as used in part, once — not as "not used"', async () => {
    const lines: string[] = [];
    setTraceSink((text) => lines.push(text));
    const resolver = new StubResolver({ resolvConf: parseResolvConf(''), hostsPath: path, trace });
    try {
      for (let i = 0; i < 3; i++) expect((await resolver.resolve(nameOf(7), 4)).source).toBe('hosts');
    } finally {
      resolver.close();
      setTraceSink(null);
    }
    expect(lines.filter((text) => text.startsWith('hosts file'))).toEqual([
      `hosts file used in part: ${path}: larger than 32 MiB; only its first 32 MiB are used`,
    ]);
  }, 60_000);
});

describe('a hosts file past the whole-table size', () => {
  it(`lets the event loop run within a slice once scanning it has taken SCAN_TURN_MS (${SCAN_TURN_MS} ms) in one turn`, async () => {
    const path = join(dir, 'slow-turns');
    const made = distinctLines(1024 * 1024);
    await writeFile(path, made.text);
    // Every step seems to take a whole turn's budget: the scan yields before each step but a slice's first.
    const hosts = new HostsFile(path, { statIntervalMs: 0, clock: slowClock() });
    const counter = countTurns();
    const answer = await hosts.lookup(nameOf(made.lines - 1), 0);
    const turns = counter.stop();
    expect(answer).toEqual([{ address: addressOf(made.lines - 1), family: 4, ttl: Infinity }]);
    const scan = lastHostsScan()!;
    expect(scan.bytes).toBe(Buffer.byteLength(made.text));
    expect(scan.largestStepBytes).toBe(SCAN_STEP_BYTES);
    expect(scan.steps).toBe(Math.ceil(scan.bytes / SCAN_STEP_BYTES));
    expect(scan.yields).toBe(scan.steps - scan.slices);
    // Two scans (the first part, then the name): a turn of the event loop for every slice read and every yield of the last.
    expect(turns).toBeGreaterThanOrEqual(scan.slices + scan.yields);
  });

  it('names asked in one turn share one scan; a name asked later, one more; a known name, none', async () => {
    const path = join(dir, 'batches');
    const { lines } = distinctLines(1024 * 1024);
    await writeFile(path, distinctLines(1024 * 1024).text);
    const hosts = new HostsFile(path, { statIntervalMs: 60_000 });
    const parsesBefore = hostsParseCount();
    const before = hostsScanCount();
    const asked = Array.from({ length: 200 }, (_, i) => nameOf(lines - 1 - i));
    const answers = await Promise.all(asked.map((name) => hosts.lookup(name, 0)));
    expect(answers.every((answer) => answer?.length === 1)).toBe(true);
    // The version's first scan (the first part), then one for the 200 names.
    expect(hostsScanCount() - before).toBe(2);
    expect(hostsParseCount() - parsesBefore).toBe(1);
    expect(lastHostsScan()).toMatchObject({ namesWanted: 200, whole: false });
    expect(await hosts.lookup('late-comer', 0)).toBeNull();
    expect(hostsScanCount() - before).toBe(3);
    expect(await hosts.lookup(asked[0]!, 0)).toHaveLength(1);
    expect(await hosts.lookup('late-comer', 0)).toBeNull();
    expect(hostsScanCount() - before).toBe(3);
  });

  it('a new version is scanned once, for the names asked of the one before', async () => {
    const path = join(dir, 'versions');
    const made = distinctLines(512 * 1024);
    await writeFile(path, made.text);
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    const late = nameOf(made.lines - 1);
    expect(await hosts.lookup(late, 0)).toEqual([{ address: addressOf(made.lines - 1), family: 4, ttl: Infinity }]);
    expect(await hosts.lookup('added-later', 0)).toBeNull();
    await writeFile(path, `${made.text}10.7.7.7 added-later\n10.7.7.8 ${late}\n`);
    const before = hostsScanCount();
    expect(await hosts.lookup('added-later', 4)).toEqual([{ address: '10.7.7.7', family: 4, ttl: Infinity }]);
    expect((await hosts.lookup(late, 0))?.map((entry) => entry.address)).toEqual([addressOf(made.lines - 1), '10.7.7.8']);
    expect(hostsScanCount() - before).toBe(1);
    expect(lastHostsScan()).toMatchObject({ namesWanted: 2 });
  });

  it('slice boundaries change nothing: the same answers as parseHosts for every name, a name split between slices, a line longer than a slice', async () => {
    const path = join(dir, 'boundaries');
    const random = seededRandom(20);
    const parts: string[] = [];
    let size = 0;
    const push = (text: string): void => {
      parts.push(text);
      size += text.length;
    };
    const names = ['alpha', 'Beta.', 'GAMMA', 'delta', 'x-1', 'svc.ns.svc.cluster.local', 'ümlaut.test'];
    const addresses = ['10.0.0.1', '10.0.0.2', 'fd00::1', '::ffff:10.0.0.3', 'not-an-ip', '999.1.1.1', '0.0.0.0'];
    const blanks = [' ', '\t', ' \t ', '\v', '\f'];
    const breaks = ['\n', '\r\n', '\r'];
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    // Up to a few bytes before each slice boundary, then a name across it; random lines elsewhere.
    for (let boundary = SCAN_SLICE_BYTES; boundary <= 4 * SCAN_SLICE_BYTES; boundary += SCAN_SLICE_BYTES) {
      while (size < boundary - 200) {
        const kind = random();
        if (kind < 0.1) push(`# ${pick(names)} ${pick(addresses)}${pick(breaks)}`);
        else if (kind < 0.15) push(pick(breaks));
        else {
          const count = 1 + Math.floor(random() * 4);
          const lineNames = Array.from({ length: count }, () => (random() < 0.3 ? `n${Math.floor(random() * 5_000)}` : pick(names)));
          const comment = random() < 0.1 ? `#${pick(names)}` : '';
          push(`${pick(blanks)}${pick(addresses)}${pick(blanks)}${lineNames.join(pick(blanks))}${comment}${pick(breaks)}`);
        }
      }
      // Slices 1 and 3 end 3 bytes into an address, slices 2 and 4 3 bytes into a name.
      const n = boundary / SCAN_SLICE_BYTES;
      const address = `10.9.0.${n}`;
      push(' '.repeat(boundary - 3 - size - (n % 2 === 0 ? address.length + 1 : 0)));
      push(`${address}\tsplit-${n}\n`);
    }
    // A line longer than a slice: many aliases, the one asked at the end; and a CRLF across a boundary.
    push(`10.8.0.1 ${Array.from({ length: 20_000 }, (_, i) => `alias${i}`).join(' ')} long-line-end\n`);
    push(' '.repeat(SCAN_SLICE_BYTES - (size % SCAN_SLICE_BYTES) - 20) + '10.8.0.2 crlf-split\r');
    push('\n10.8.0.3 after-crlf');
    const text = parts.join('');
    await writeFile(path, text);
    expect(Buffer.byteLength(text)).toBeGreaterThan(4 * SCAN_SLICE_BYTES);

    const expected = parseHosts(text);
    const asked = [...expected.keys(), 'absent', 'not-an-ip', 'alias19999x'];
    // The event loop let run between every two steps: a token cut by a step or a slice boundary, and a turn between its halves.
    const hosts = new HostsFile(path, { statIntervalMs: 60_000, clock: slowClock() });
    const answers = await Promise.all(asked.map((name) => hosts.lookup(name, 0)));
    expect(lastHostsScan()).toMatchObject({ yields: lastHostsScan()!.steps - lastHostsScan()!.slices });
    for (const [i, name] of asked.entries()) {
      const want = expected.get(name)?.map((entry) => ({ ...entry, ttl: Infinity })) ?? null;
      expect(answers[i], name).toEqual(want);
    }
    for (const name of ['split-1', 'split-2', 'split-3', 'split-4', 'long-line-end', 'alias0', 'crlf-split', 'after-crlf', 'beta', 'ümlaut.test']) {
      expect(expected.has(name), name).toBe(true);
    }
    expect(expected.get('split-2')).toEqual([{ address: '10.9.0.2', family: 4 }]);
    expect(lastHostsScan()?.whole).toBe(false);
  });
});

describe('a small hosts file', () => {
  it('is kept whole: one scan, then any name is answered without another', async () => {
    const path = join(dir, 'small');
    await writeFile(path, '127.0.0.1 localhost\n::1 localhost ip6-localhost\n10.0.0.5 svc\n');
    const hosts = new HostsFile(path, { statIntervalMs: 60_000 });
    const before = hostsScanCount();
    expect(await hosts.lookup('svc', 4)).toEqual([{ address: '10.0.0.5', family: 4, ttl: Infinity }]);
    expect(lastHostsScan()).toMatchObject({ whole: true, slices: 1, namesKept: 3 });
    for (const name of ['localhost', 'ip6-localhost', 'absent', 'other']) await hosts.lookup(name, 0);
    expect(hostsScanCount() - before).toBe(1);
  });
});

