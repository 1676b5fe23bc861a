/**
 * Nameserver health through DnsClient, used as the watcher uses it (a poll
 * asks A and AAAA in parallel, poll after poll), against harness DNS servers
 * on loopback, with glibc's defaults (timeout 5 s, attempts 2): a dead first
 * server stops costing every poll its timeout, a failed server is probed now
 * and then, `options rotate` spreads the first tries, and A and AAAA leave
 * from sockets of their own.
 */
import { describe, expect, it } from 'vitest';
import { DnsClient, type DnsClientOptions } from '../src/dns/client.js';
import { MAX_UDP_SOCKETS_PER_NAMESERVER, UDP_PORT_MAX_AGE_MS } from '../src/dns/udp-lane.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import { PROBE_CHANCE, PROBE_DELAY_MS } from '../src/dns/server-health.js';
import { type Nameserver, type AttemptEvent } from '../src/dns/types.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';
import { serverFixture } from '../harness/server-fixture.js';
import { shiftedTimers } from '../harness/shifted-timers.js';
import { waitUntil } from '../harness/wait.js';
import { resolvConfText } from '../harness/temp-folder.js';

const NAME = 'health.test';
const CONFIGURED_MS = 5_000;

const { start: startServer, cleanups } = serverFixture(NAME);

/** A server that receives and never answers: a nameserver that is down. */
async function deadServer(): Promise<DnsTestServer> {
  const server = await startServer();
  server.setFault('drop');
  return server;
}

/**
 * A client with glibc's defaults on a shifted clock; `factor` runs that clock faster than the machine's,
 * until a try fails if `machineClockAfterFailure` is set: a dead server's timeouts pass fast, and the
 * round trips measured after them are read on the machine's clock.
 */
function newClient(options: Partial<DnsClientOptions> & { chance?: { value: number }; factor?: number; machineClockAfterFailure?: boolean } = {}) {
  const timers = shiftedTimers(options.factor);
  const attempts: AttemptEvent[] = [];
  const chance = options.chance ?? { value: 0.5 };
  const client = new DnsClient({
    timeoutMs: CONFIGURED_MS,
    attempts: 2,
    timers,
    // 0.5: no probe is drawn (one in PROBE_CHANCE is below 1 / PROBE_CHANCE), unless a test lowers it.
    random: () => chance.value,
    onAttempt: (event) => {
      attempts.push(event());
      if (options.machineClockAfterFailure) timers.setFactor(1);
    },
    ...options,
  });
  cleanups.push(() => client.close());
  return { client, timers, attempts, chance };
}

/** One poll as the watcher makes it with family 0: A and AAAA in parallel. */
async function poll(client: DnsClient, servers: Nameserver[]): Promise<void> {
  await Promise.all([client.query(servers, NAME, 'A'), client.query(servers, NAME, 'AAAA')]);
}

function tryDelays(timers: { delays: number[] }): number[] {
  return timers.delays.filter((ms) => ms !== UDP_PORT_MAX_AGE_MS);
}

describe('nameservers [dead, live] with glibc\'s defaults: polls after the first take the live server\'s round trip', () => {
  it('the first poll pays the dead server\'s 5 s once; after it every try goes to the live server first and no timer fires', async () => {
    const dead = await deadServer();
    const live = await startServer();
    // The clock ten times faster than the machine's: the dead server's 5 s pass in half a second. From
    // its failures on, the machine's clock: the live server's timeout is 5 × its average round trip
    // (250 ms at least), and a round trip read ten times longer would move it.
    const { client, timers, attempts } = newClient({ factor: 10, machineClockAfterFailure: true });
    const servers = [dead.nameserver, live.nameserver];

    const started = timers.now();
    await poll(client, servers);
    expect(timers.now() - started).toBeGreaterThanOrEqual(CONFIGURED_MS - 50);
    // Both queries of the first poll asked the dead server first (it was not known to be dead), then the live one.
    expect(dead.queries.map((query) => query.type).sort()).toEqual(['A', 'AAAA']);
    expect(attempts.map((event) => [event.server, event.error.code, event.timeoutMs])).toEqual([
      [dead.address, 'TIMEOUT', CONFIGURED_MS],
      [dead.address, 'TIMEOUT', CONFIGURED_MS],
    ]);
    expect(client.servers().map(({ server, healthy, failures }) => ({ server, healthy, failures }))).toEqual([
      { server: dead.address, healthy: false, failures: 2 },
      { server: live.address, healthy: true, failures: 0 },
    ]);

    const scheduled = tryDelays(timers).length;
    live.resetLog();
    for (let i = 0; i < 10; i++) await poll(client, servers);
    // Nothing more reached the dead server; every query was answered by the live one on its first try.
    expect(dead.queries).toHaveLength(2);
    expect(live.queries).toHaveLength(20);
    expect(attempts).toHaveLength(2);
    // The live server's try timeouts: the configured 5 s until it answered three times, then its own.
    const delays = tryDelays(timers).slice(scheduled);
    expect(delays).toHaveLength(20);
    const liveTimeout = client.servers()[1]!.timeoutMs;
    expect(liveTimeout).toBeLessThan(CONFIGURED_MS);
    expect(delays.slice(-10)).toEqual(Array.from({ length: 10 }, () => liveTimeout));
    expect(timers.armed(CONFIGURED_MS) + timers.armed(liveTimeout)).toBe(0);
  });
});

describe(`a failed nameserver is probed ${PROBE_DELAY_MS} ms after its failure, on one fresh query in ${PROBE_CHANCE}`, () => {
  it('no probe before its time or without the chance; then one probe beside a poll that does not wait for it; once it answers it is first again', async () => {
    const dead = await deadServer();
    const live = await startServer();
    const { client, timers, chance } = newClient({ factor: 10 });
    const servers = [dead.nameserver, live.nameserver];
    await poll(client, servers);
    expect(dead.queries).toHaveLength(2);

    // Not yet PROBE_DELAY_MS after its failures: no probe, even with every chance drawn.
    chance.value = 0;
    for (let i = 0; i < 3; i++) await poll(client, servers);
    expect(dead.queries).toHaveLength(2);

    // It recovers, unseen: the client goes on asking the live server.
    dead.setFault(null);
    timers.advance(PROBE_DELAY_MS);
    chance.value = 1 / PROBE_CHANCE; // just past the chance: no probe
    await poll(client, servers);
    expect(dead.queries).toHaveLength(2);

    // The chance comes up: one probe (the AAAA query finds it already out), and the poll answered by the live server.
    chance.value = 0;
    live.resetLog();
    await poll(client, servers);
    expect(live.queries.map((query) => query.type).sort()).toEqual(['A', 'AAAA']);
    await dead.waitForQueries(3);
    expect(dead.queries).toHaveLength(3);
    await waitUntil(() => client.servers()[0]!.healthy, 'the probe answered and the server is healthy again', 5_000);

    // Healthy again: resolv.conf order holds, the first tries go to it.
    dead.resetLog();
    live.resetLog();
    await poll(client, servers);
    expect(dead.queries).toHaveLength(2);
    expect(live.queries).toHaveLength(0);
  });
});

describe('options rotate: the first server asked advances by one per query', () => {
  it('three healthy servers take turns; without rotate the first takes every query', async () => {
    const all = [await startServer(), await startServer(), await startServer()];
    const servers = all.map((server) => server.nameserver);
    // random 0: the rotation starts at the first server.
    const { client } = newClient({ rotate: true, chance: { value: 0 } });
    const asked: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = all.map((server) => server.queries.length);
      await client.query(servers, NAME, 'A');
      asked.push(all.findIndex((server, index) => server.queries.length > before[index]!));
    }
    expect(asked).toEqual([0, 1, 2, 0, 1, 2]);

    const plain = newClient();
    for (const server of all) server.resetLog();
    for (let i = 0; i < 6; i++) await plain.client.query(servers, NAME, 'A');
    expect(all.map((server) => server.queries.length)).toEqual([6, 0, 0]);
  });

  it('reaches the client from resolv.conf: StubResolver\'s polls take turns over the nameservers', async () => {
    const all = [await startServer(), await startServer(), await startServer()];
    const resolver = new StubResolver({ resolvConf: parseResolvConf(resolvConfText(all, 'options rotate')), hostsPath: false });
    cleanups.push(() => resolver.close());
    for (let i = 0; i < 6; i++) await resolver.resolve(`${NAME}.`, 4);
    expect(all.map((server) => server.queries.length)).toEqual([2, 2, 2]);
  });

  it('a failed server is left out of the turns, last in every round', async () => {
    // Nothing listens on its port: each try there fails at once (CONNREFUSED) and counts against it.
    const closed = { host: '127.0.0.1', port: await unusedUdpPort() };
    const live = [await startServer(), await startServer()];
    const servers = [live[0]!.nameserver, closed, live[1]!.nameserver];
    const { client } = newClient({ rotate: true, chance: { value: 0.5 } });
    // Learn that it is down: a query whose turn starts at it.
    await Promise.all(Array.from({ length: 3 }, () => client.query(servers, NAME, 'A')));
    const { failures } = client.servers()[1]!;
    expect(failures).toBeGreaterThan(0);
    for (const server of live) server.resetLog();
    for (let i = 0; i < 6; i++) await client.query(servers, NAME, 'A');
    // Not asked again: no new failure.
    expect(client.servers()[1]!.failures).toBe(failures);
    // Its turns pass to the server after it.
    expect(live.map((server) => server.queries.length)).toEqual([2, 4]);
  });
});

describe(`A and AAAA leave from sockets of their own; at most MAX_UDP_SOCKETS_PER_NAMESERVER (${MAX_UDP_SOCKETS_PER_NAMESERVER}) open`, () => {
  it('every poll\'s A and AAAA come from two source ports, and sockets stay bounded while timeouts retire them', async () => {
    const server = await startServer();
    const names = 150;
    // Every third name is lost: its try times out and retires its socket.
    for (let i = 0; i < names; i += 3) server.setFault('drop', { name: `n${i}.${NAME}` });
    for (let i = 0; i < names; i++) server.setRecords(`n${i}.${NAME}`, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    const { client } = newClient();
    // Three answers: the timeout is the server's own (about 250 ms), so timeouts come while queries flow.
    for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
    server.resetLog();
    let most = 0;
    const sample = setInterval(() => (most = Math.max(most, client.udpSocketCount)), 5);
    cleanups.push(() => clearInterval(sample));
    await Promise.all(
      Array.from({ length: names }, (_, i) =>
        Promise.allSettled([client.query([server.nameserver], `n${i}.${NAME}`, 'A'), client.query([server.nameserver], `n${i}.${NAME}`, 'AAAA')]),
      ),
    );
    most = Math.max(most, client.udpSocketCount);
    expect(most).toBeLessThanOrEqual(MAX_UDP_SOCKETS_PER_NAMESERVER);
    // The lost names were asked twice per family (two attempts); an answered name once, or again when its
    // reply came after the 250 ms timeout on a busy machine.
    for (let i = 0; i < names; i++) {
      for (const type of ['A', 'AAAA']) {
        const tries = server.queries.filter((query) => query.name === `n${i}.${NAME}` && query.type === type);
        if (i % 3 === 0) expect(tries, `n${i} ${type}`).toHaveLength(2);
        else expect(tries.length, `n${i} ${type}`).toBeGreaterThanOrEqual(1);
      }
    }
    for (let i = 0; i < names; i++) {
      const [a, aaaa] = ['A', 'AAAA'].map((type) => server.queries.find((query) => query.name === `n${i}.${NAME}` && query.type === type)!);
      expect(a!.sourcePort, `n${i}`).not.toBe(aaaa!.sourcePort);
    }
  });
});
