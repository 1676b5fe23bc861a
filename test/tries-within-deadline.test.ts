/**
 * Past glibc's `attempts` rounds, while the poll that asked has time left:
 * more tries with the first round's timeout, up to 4 per server (c-ares'
 * `tries`), only after silence and only to servers that were answering when
 * the query began (src/dns/query-rounds.ts). Through DnsClient against the
 * harness DNS server on loopback, with glibc's defaults (timeout 5 s,
 * attempts 2); assertions are on the timers the client scheduled, its
 * attempt events and what the server saw.
 */
import { describe, expect, it } from 'vitest';
import { DnsClient } from '../src/dns/client.js';
import { MAX_TRIES_PER_SERVER } from '../src/dns/query-rounds.js';
import type { AttemptEvent } from '../src/dns/types.js';
import { UDP_PORT_MAX_AGE_MS } from '../src/dns/udp-lane.js';
import { expectDnsError } from '../harness/resolver-helpers.js';
import { serverFixture } from '../harness/server-fixture.js';
import { shiftedTimers } from '../harness/shifted-timers.js';

const NAME = 'extra-tries.test';
const CONFIGURED_MS = 5_000;
const { start: startServer, cleanups } = serverFixture(NAME);

/** A client whose server has answered three times, so its adaptive timeout is known (the 250 ms floor on loopback). */
async function warmClient() {
  const server = await startServer();
  const timers = shiftedTimers();
  const attempts: AttemptEvent[] = [];
  // random 0: round two's try waits exactly twice the base.
  const client = new DnsClient({ timeoutMs: CONFIGURED_MS, attempts: 2, timers, random: () => 0, onAttempt: (event) => attempts.push(event()) });
  cleanups.push(() => client.close());
  for (let i = 0; i < 3; i++) await client.query([server.nameserver], NAME, 'A');
  server.resetLog();
  const base = client.servers()[0]!.timeoutMs;
  return { server, client, timers, attempts, base };
}

/** The try timeouts the client set (a try that timed out also sets the rest of the configured 5 s to listen on: left out). */
function tryTimeouts(delays: readonly number[], base: number): number[] {
  return delays.filter((ms) => ms !== UDP_PORT_MAX_AGE_MS && ms <= 2 * base);
}

describe('tries past attempts, within the poll\'s deadline', () => {
  it('three datagrams lost in a row: tries 3 and 4 go out with the first round\'s timeout and the fourth is answered', async () => {
    const { server, client, timers, attempts, base } = await warmClient();
    expect(base).toBeLessThan(CONFIGURED_MS);
    server.setFault('drop', { count: 3 });
    const before = timers.delays.length;
    const reply = await client.query([server.nameserver], NAME, 'A', { remainingMs: () => 60_000 });
    expect(reply.answers).toHaveLength(1);
    expect(tryTimeouts(timers.delays.slice(before), base)).toEqual([base, 2 * base, base, base]);
    expect(attempts.map((event) => [event.error.code, event.timeoutMs])).toEqual([
      ['TIMEOUT', base],
      ['TIMEOUT', 2 * base],
      ['TIMEOUT', base],
    ]);
    expect(server.queries.map((query) => query.fault ?? 'answered')).toEqual(['drop', 'drop', 'drop', 'answered']);
  });

  it(`every datagram lost: ${MAX_TRIES_PER_SERVER} tries to the server at most, and the error says how many`, async () => {
    const { server, client } = await warmClient();
    server.setFault('drop');
    const error = await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs: () => 60_000 }), 'TIMEOUT');
    expect(server.queries).toHaveLength(MAX_TRIES_PER_SERVER);
    expect(error.message).toMatch(/\(2 attempts and 2 more tries within the poll's deadline\)$/);
    expect(client.idsInUse).toBe(0);
  });

  it('no time left for a try (or no poll asking): attempts rounds and no more, as glibc asks', async () => {
    const { server, client, base } = await warmClient();
    server.setFault('drop');
    const shortOfATry = await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs: () => base - 1 }), 'TIMEOUT');
    expect(shortOfATry.message).toMatch(/\(2 attempts\)$/);
    expect(server.queries).toHaveLength(2);
  });

  it('the time left is read before each extra try: one fits, the next does not', async () => {
    const { server, client, base } = await warmClient();
    server.setFault('drop');
    // What the poll has left when each extra try is due: just a try's timeout, then a millisecond less.
    const left = [base, base - 1];
    const readings: number[] = [];
    const remainingMs = () => {
      readings.push(left[readings.length] ?? 0);
      return readings.at(-1)!;
    };
    await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs }), 'TIMEOUT');
    expect(readings).toEqual([base, base - 1]);
    expect(server.queries).toHaveLength(3);
  });

  it('an answer that is not silence ends the query at attempts: SERVFAIL is asked twice, not four times', async () => {
    const { server, client } = await warmClient();
    server.setFault('servfail');
    await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs: () => 60_000 }), 'SERVFAIL');
    expect(server.queries).toHaveLength(2);
  });

  it('a server that was failing when the query began gets no extra tries (an outage sends nothing more)', async () => {
    const { server, client } = await warmClient();
    server.setFault('drop');
    await expectDnsError(client.query([server.nameserver], NAME, 'A'), 'TIMEOUT');
    expect(client.servers()[0]!.failures).toBeGreaterThan(0);
    server.resetLog();
    await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs: () => 60_000 }), 'TIMEOUT');
    expect(server.queries).toHaveLength(2);
  });

  it('a server never heard from gets no extra tries: its silence says nothing about loss', async () => {
    const server = await startServer();
    const client = new DnsClient({ timeoutMs: 300, attempts: 2 });
    cleanups.push(() => client.close());
    server.setFault('drop');
    const error = await expectDnsError(client.query([server.nameserver], NAME, 'A', { remainingMs: () => 60_000 }), 'TIMEOUT');
    expect(error.message).toMatch(/\(2 attempts\)$/);
    expect(server.queries).toHaveLength(2);
  });
});
