/**
 * Adaptive try timeouts and late replies, through DnsClient against the
 * harness DNS server on loopback, with glibc's defaults (timeout 5 s,
 * attempts 2). Assertions are on what the client scheduled (recorded timer
 * delays), what it reports (`servers()`, attempt events) and what the server
 * saw, not on how long a busy machine took.
 */
import { describe, expect, it, vi } from 'vitest';
import { DnsClient, type DnsClientOptions } from '../src/dns/client.js';
import { observe, watch, type WatchEvent } from '../src/index.js';
import { UDP_PORT_MAX_AGE_MS } from '../src/dns/udp-lane.js';
import type { AttemptEvent } from '../src/dns/types.js';
import { MIN_TRY_TIMEOUT_MS } from '../src/dns/server-metrics.js';
import { expectDnsError } from '../harness/resolver-helpers.js';
import { serverFixture } from '../harness/server-fixture.js';
import { shiftedTimers } from '../harness/shifted-timers.js';

const NAME = 'adaptive.test';
const CONFIGURED_MS = 5_000;

const { start: startServer, startWithResolvConf, cleanups } = serverFixture(NAME);

/** A client on a shifted clock; `factor` runs that clock faster than the machine's. */
function newClient(options: Partial<DnsClientOptions> & { factor?: number } = {}): { client: DnsClient; timers: ReturnType<typeof shiftedTimers>; attempts: AttemptEvent[] } {
  const timers = shiftedTimers(options.factor);
  const attempts: AttemptEvent[] = [];
  // random 0: the retry jitter takes nothing off (a round-1 try waits exactly twice the base), and every probe chance is drawn.
  const client = new DnsClient({ timeoutMs: CONFIGURED_MS, attempts: 2, timers, random: () => 0, onAttempt: (event) => attempts.push(event()), ...options });
  cleanups.push(() => client.close());
  return { client, timers, attempts };
}

/** The timers scheduled so far, port age timers left out: try timeouts, and after each that timed out the rest of the configured timeout it listens on. */
function tryDelays(timers: { delays: number[] }): number[] {
  return timers.delays.filter((ms) => ms !== UDP_PORT_MAX_AGE_MS);
}

/** What the metrics make of the latency measured so far: 5 × the average, at least the floor. */
function expectedTimeout(latencyMs: number | null): number {
  return latencyMs === null ? CONFIGURED_MS : Math.min(CONFIGURED_MS, Math.max(MIN_TRY_TIMEOUT_MS, Math.round(5 * latencyMs)));
}

describe('adaptive try timeouts: 5 × the measured latency within [250 ms, the configured timeout]', () => {
  it('the configured 5 s until a server answered three times, then its latency decides; every try timer is the timeout reported', async () => {
    const server = await startServer();
    const { client, timers } = newClient();
    for (let i = 0; i < 3; i++) {
      expect(client.servers()[0]?.timeoutMs ?? CONFIGURED_MS).toBe(CONFIGURED_MS);
      await client.query([server.nameserver], NAME, 'A');
    }
    expect(tryDelays(timers)).toEqual([CONFIGURED_MS, CONFIGURED_MS, CONFIGURED_MS]);
    const [status] = client.servers();
    expect(status!.latencyMs).not.toBeNull();
    // A loopback server answers in a few ms: the floor.
    expect(status!.timeoutMs).toBe(expectedTimeout(status!.latencyMs));
    expect(status!.timeoutMs).toBeLessThan(CONFIGURED_MS);
    const before = tryDelays(timers).length;
    await client.query([server.nameserver], NAME, 'AAAA');
    expect(tryDelays(timers).slice(before)).toEqual([status!.timeoutMs]);
    expect(timers.armed(status!.timeoutMs)).toBe(0);
  });

  it('one lost datagram costs one adaptive timeout: the retry leaves after it, from a fresh source port, and is answered', async () => {
    const server = await startServer();
    const { client, timers, attempts } = newClient();
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const timeoutMs = client.servers()[0]!.timeoutMs;
    server.resetLog();
    server.setFault('drop', { count: 1 });
    const before = tryDelays(timers).length;
    const started = performance.now();
    const reply = await client.query([server.nameserver], NAME, 'A');
    expect(reply.answers).toHaveLength(1);
    // Scheduled: the adaptive timeout; when it fired, the rest of the configured 5 s that try listens on;
    // then round two's timeout, twice as long (random 0 takes no jitter off).
    expect(tryDelays(timers).slice(before)).toEqual([timeoutMs, CONFIGURED_MS - timeoutMs, 2 * timeoutMs]);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ type: 'attempt', name: NAME, transport: 'udp', timeoutMs });
    expect(attempts[0]!.error.code).toBe('TIMEOUT');
    expect(attempts[0]!.error.message).toContain(`within ${timeoutMs} ms`);
    // The try that timed out retired its socket: the retry took another path.
    expect(server.queries).toHaveLength(2);
    expect(server.queries[1]!.sourcePort).not.toBe(server.queries[0]!.sourcePort);
    expect(performance.now() - started).toBeGreaterThanOrEqual(timeoutMs - 5);
  });

  it('later rounds wait longer: the base, then twice it, four times it…, never past the configured timeout', async () => {
    const server = await startServer();
    // The clock ten times faster than the machine's: four rounds up to the configured 5 s in under a second.
    const { client, timers } = newClient({ attempts: 4, factor: 10 });
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const timeoutMs = client.servers()[0]!.timeoutMs;
    server.setFault('drop');
    const before = tryDelays(timers).length;
    const error = await expectDnsError(client.query([server.nameserver], NAME, 'A'), 'TIMEOUT');
    // Each try's timeout, then the rest of the configured timeout it listens on for its reply.
    const rounds = [timeoutMs, 2 * timeoutMs, 4 * timeoutMs, Math.min(CONFIGURED_MS, 8 * timeoutMs)];
    expect(tryDelays(timers).slice(before)).toEqual(rounds.flatMap((ms) => (ms < CONFIGURED_MS ? [ms, CONFIGURED_MS - ms] : [ms])));
    expect(error.message).toMatch(/: no reply from 127\.0\.0\.1:\d+ within \d+ ms \(4 attempts\)$/);
    // Nothing held once the query failed: every try ended, the lingering ones too.
    expect(client.idsInUse).toBe(0);
    expect(client.servers()[0]).toMatchObject({ inFlight: 0, lingering: 0 });
    expect(timers.armed(timeoutMs) + timers.armed(2 * timeoutMs) + timers.armed(4 * timeoutMs)).toBe(0);
  });

  it('a slow server gets a longer timeout: 5 × its latency', async () => {
    const server = await startServer();
    server.setFault({ delayMs: 150 });
    const { client } = newClient();
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const [status] = client.servers();
    expect(status!.latencyMs).toBeGreaterThanOrEqual(150);
    expect(status!.timeoutMs).toBe(expectedTimeout(status!.latencyMs));
    expect(status!.timeoutMs).toBeGreaterThanOrEqual(750);
  });

  it('replies over TCP (after truncation) are measured too; the TCP try itself waits the configured timeout', async () => {
    const server = await startServer();
    server.setFault('truncate');
    const { client, timers } = newClient();
    for (let i = 0; i < 3; i++) expect((await client.query([server.nameserver], NAME, 'A')).transport).toBe('tcp');
    expect(client.servers()[0]!.latencyMs).not.toBeNull();
    expect(client.servers()[0]!.timeoutMs).toBeLessThan(CONFIGURED_MS);
    // Each query: the UDP try's timeout, then TCP's.
    expect(tryDelays(timers).filter((ms) => ms === CONFIGURED_MS).length).toBeGreaterThanOrEqual(3);
  });
});

describe('a reply that comes after its try timed out', () => {
  it('still answers the query while it waits (its retry was lost), and is measured from its own send', async () => {
    const server = await startServer();
    const { client, attempts } = newClient();
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const { timeoutMs, latencyMs } = client.servers()[0]!;
    // The first try's reply comes at 2 × its timeout; the retry (sent at 1×, waiting 2×) is lost.
    server.setFault('drop', { count: 1 });
    server.setFault({ delayMs: 2 * timeoutMs }, { count: 1 });
    server.resetLog();
    const reply = await client.query([server.nameserver], NAME, 'A');
    expect(reply).toMatchObject({ rcode: 0, transport: 'udp' });
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : ''))).toEqual(['10.0.0.1']);
    expect(server.queries.map((query) => query.fault)).toEqual([`delay ${2 * timeoutMs}ms`, 'drop']);
    expect(attempts.map((event) => [event.error.code, event.timeoutMs])).toEqual([['TIMEOUT', timeoutMs]]);
    // Measured as the slow reply it was: the average went up.
    expect(client.servers()[0]!.latencyMs).toBeGreaterThan(latencyMs!);
    // The retry in flight was dropped when the late reply answered.
    expect(client.idsInUse).toBe(0);
    expect(client.servers()[0]).toMatchObject({ inFlight: 0, lingering: 0 });
  });

  it('is dropped quietly once its query was answered by the retry: nothing counted, nothing broken', async () => {
    const server = await startServer();
    const { client } = newClient();
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const { timeoutMs } = client.servers()[0]!;
    server.setFault({ delayMs: 2 * timeoutMs }, { count: 1 });
    await client.query([server.nameserver], NAME, 'A');
    // Answered by the retry; the first try stopped listening with it.
    expect(client.servers()[0]).toMatchObject({ lingering: 0 });
    const { latencyMs } = client.servers()[0]!;
    // The late datagram arrives now, finds no try, and is dropped.
    await new Promise((resolve) => setTimeout(resolve, 2 * timeoutMs));
    expect(client.servers()[0]!.latencyMs).toBe(latencyMs);
    expect((await client.query([server.nameserver], NAME, 'AAAA')).answers).toHaveLength(1);
    expect(client.idsInUse).toBe(0);
  });

  it('listens at most until the configured timeout since its send', async () => {
    const server = await startServer();
    const { client, timers } = newClient({ timeoutMs: 1_000, attempts: 3 });
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    const { timeoutMs } = client.servers()[0]!;
    server.setFault('drop');
    server.resetLog();
    const outcome = expectDnsError(client.query([server.nameserver], NAME, 'A'), 'TIMEOUT');
    await server.waitForQueries(2);
    // The first try timed out and listens on for the rest of the configured 1 s.
    expect(client.servers()[0]!.lingering).toBeGreaterThanOrEqual(1);
    expect(timers.delays).toContain(1_000 - timeoutMs);
    await outcome;
    expect(client.servers()[0]!.lingering).toBe(0);
  });
});

describe('the timeout in use, as a watcher shows it: stats().nameservers and the query event', () => {
  type QueryEvent = Extract<WatchEvent, { type: 'query' }>;

  /** watch() on the harness server with glibc's defaults (timeout 5 s, attempts 2); a poll runs only when `poll()` asks for one. */
  async function watched() {
    const { server, resolvConfPath } = await startWithResolvConf();
    const queries: QueryEvent[] = [];
    const attempts: AttemptEvent[] = [];
    const stop = observe((event) => {
      if (event.type === 'query' && event.name === NAME) queries.push(event);
      if (event.type === 'attempt' && event.name === NAME) attempts.push(event);
    });
    cleanups.push(stop);
    const handle = watch(NAME, { family: 4, refreshInterval: 600_000, minInterval: 0, jitter: 0, resolvConfPath, hostsPath: false });
    cleanups.push(() => handle.close());
    /** The next poll (the first one runs by itself), to its end: its query event, and the nameservers as stats() shows them then. */
    const poll = async () => {
      const count = queries.length;
      if (count > 0) handle.refresh();
      await vi.waitFor(() => expect(queries).toHaveLength(count + 1), { timeout: 15_000, interval: 5 });
      const [status, ...others] = handle.stats()!.nameservers;
      expect(others).toEqual([]);
      return { event: queries[count]!, status: status! };
    };
    return { server, poll, attempts };
  }

  it('the configured 5 s until the server answered 3 times, then 5 × its latency (the floor on loopback); a lost datagram leaves it; late replies raise it', async () => {
    const { server, poll, attempts } = await watched();
    const polls = [];
    // Three fast answers: each poll's first try had the configured timeout; after the third, the latency decides.
    for (let i = 0; i < 3; i++) polls.push(await poll());
    expect(polls.map(({ event }) => event.tryTimeoutMs)).toEqual([CONFIGURED_MS, CONFIGURED_MS, CONFIGURED_MS]);
    expect(polls.map(({ event }) => event.result)).toEqual(['NOERROR', 'NOERROR', 'NOERROR']);
    expect(polls.slice(0, 2).map(({ status }) => status)).toEqual([
      { server: server.address, tryTimeoutMs: CONFIGURED_MS, latencyMs: undefined, healthy: true },
      { server: server.address, tryTimeoutMs: CONFIGURED_MS, latencyMs: undefined, healthy: true },
    ]);
    const fast = polls[2]!.status;
    expect(fast.latencyMs).toBeDefined();
    expect(fast.tryTimeoutMs).toBe(expectedTimeout(fast.latencyMs!));
    expect(fast.tryTimeoutMs).toBeLessThan(CONFIGURED_MS);
    expect(fast.healthy).toBe(true);
    // The next poll's first try has the timeout stats() showed.
    const down = await poll();
    expect(down.event.tryTimeoutMs).toBe(fast.tryTimeoutMs);
    expect(down.status.tryTimeoutMs).toBe(expectedTimeout(down.status.latencyMs!));
    expect(attempts).toEqual([]);

    // One datagram lost: the try timed out with the timeout shown, the retry (round 2, up to twice it) answered. A timeout measures
    // nothing (the reply may never have come), so the timeout in use stays.
    server.setFault('drop', { count: 1 });
    const lost = await poll();
    expect(lost.event).toMatchObject({ result: 'NOERROR', tryTimeoutMs: down.status.tryTimeoutMs });
    expect(attempts.map((attempt) => [attempt.error.code, attempt.timeoutMs])).toEqual([['TIMEOUT', down.status.tryTimeoutMs]]);
    expect(lost.status).toMatchObject({ tryTimeoutMs: expectedTimeout(lost.status.latencyMs!), healthy: true });
    expect(lost.status.tryTimeoutMs).toBeLessThan(2 * MIN_TRY_TIMEOUT_MS);

    // The server slows down past that timeout: the first try times out, its reply comes late and still answers, measured from its own
    // send — and the timeout in use goes up with it, in stats() and at the next poll's first try.
    const lateMs = 4 * MIN_TRY_TIMEOUT_MS;
    server.setFault({ delayMs: lateMs });
    const slow = await poll();
    expect(slow.event).toMatchObject({ result: 'NOERROR', tryTimeoutMs: lost.status.tryTimeoutMs });
    expect(attempts.slice(1).map((attempt) => attempt.error.code)).toContain('TIMEOUT');
    expect(slow.status.latencyMs).toBeGreaterThan(lost.status.latencyMs!);
    expect(slow.status.tryTimeoutMs).toBe(expectedTimeout(slow.status.latencyMs!));
    expect(slow.status.tryTimeoutMs).toBeGreaterThan(lost.status.tryTimeoutMs);
    const slower = await poll();
    expect(slower.event.tryTimeoutMs).toBe(slow.status.tryTimeoutMs);
    expect(slower.status.tryTimeoutMs).toBeGreaterThanOrEqual(slow.status.tryTimeoutMs);
    expect(slower.status.tryTimeoutMs).toBeLessThanOrEqual(CONFIGURED_MS);
    server.setFault(null);
  }, 30_000);
});
