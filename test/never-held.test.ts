/**
 * Never held by one try (issue 25): with glibc's timeout and attempts (5 s,
 * 2) and `refreshInterval: 1000` (jitter 0.2), one dropped query — the A of
 * a family-4 poll, or only the AAAA of a family-0 poll (the pattern of
 * Kubernetes' conntrack race) — delays the new set by at most
 * refreshInterval × (1 + jitter) + 1 s. End to end through the registry,
 * StubResolver and DnsClient against the in-process DNS server, on one
 * recording clock the registry threads to all three, so the test reads
 * what was scheduled: the dropped try's timeout and every poll's deadline.
 */
import { describe, expect, it } from 'vitest';
import { observe, type WatchEvent } from '../src/index.js';
import { resolveOptions } from '../src/watch/options.js';
import { PollTimers } from '../src/watch/poll-timers.js';
import { Registry } from '../src/watch/registry.js';
import { pollDeadline } from '../src/watch/schedule.js';
import type { Delivery } from '../src/watch/subscribers.js';
import { recordingTimers } from '../harness/recording-timers.js';
import { startDnsServer } from '../harness/server-fixture.js';
import { waitUntil } from '../harness/wait.js';

const INTERVAL = 1_000;
const JITTER = 0.2;
/** The Done-when's bound: one poll's wait at most, plus a second. */
const BOUND_MS = INTERVAL * (1 + JITTER) + 1_000;
/** A loaded machine's slack on top of what was scheduled (the scheduled figures are asserted exactly). */
const SLACK_MS = 1_000;

// Each case on a DNS server of its own (its resolv.conf without options: glibc's 5 s and 2 attempts), side by side.
describe.concurrent.each([
  { label: 'family 4, the A query of one poll dropped, the A records changed', family: 4 as const, dropped: 'A', changed: 'A' },
  { label: 'family 0, only the AAAA query of one poll dropped, the A records changed', family: 0 as const, dropped: 'AAAA', changed: 'A' },
  { label: 'family 0, only the AAAA query of one poll dropped, the AAAA records changed', family: 0 as const, dropped: 'AAAA', changed: 'AAAA' },
])('$label', ({ family, dropped, changed }) => {
  it(`the new set arrives within refreshInterval × (1 + jitter) + 1 s (${BOUND_MS} ms)`, async () => {
    const { server: dns, resolvConfPath, close } = await startDnsServer({ label: 'never-held' });
    const name = `held-${family}-${dropped}-${changed}.test`.toLowerCase();
    dns.setRecords(name, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    const timers = recordingTimers();
    const pollTimers = new PollTimers(timers);
    // What the watcher scheduled: each next poll, and while a poll runs, its deadline.
    const scheduled: number[] = [];
    const schedule = pollTimers.schedule.bind(pollTimers);
    pollTimers.schedule = (entry, delayMs) => {
      scheduled.push(delayMs);
      schedule(entry, delayMs);
    };
    const registry = new Registry(pollTimers);
    const deliveries: Array<Delivery & { at: number }> = [];
    const events: Array<WatchEvent & { at: number }> = [];
    const stopObserving = observe((event) => {
      if (event.name === name) events.push({ ...event, at: performance.now() });
    });
    const subscription = registry.subscribe(name, resolveOptions({ refreshInterval: INTERVAL, jitter: JITTER, family, resolvConfPath, hostsPath: false }), (delivery) =>
      deliveries.push({ ...delivery, at: performance.now() }),
    );
    try {
      // A few polls first: the client measures the server's latency from three replies.
      await waitUntil(() => subscription.stats().queries >= 4, '4 polls', 10_000);
      const changedTo = changed === 'A' ? '10.0.0.2' : 'fd00::2';
      dns.setRecords(name, changed === 'A' ? { A: [changedTo], AAAA: ['fd00::1'] } : { A: ['10.0.0.1'], AAAA: [changedTo] });
      dns.setFault('drop', { name, type: dropped, count: 1 });
      const changedAt = performance.now();
      timers.delays.length = 0;
      scheduled.length = 0;
      await waitUntil(() => deliveries.some((delivery) => delivery.kind === 'update' && delivery.added.includes(changedTo)), 'the new set', 10_000);
      const arrived = deliveries.find((delivery) => delivery.kind === 'update' && delivery.added.includes(changedTo))!;

      // The query really was dropped, and the try that waited for it had the adaptive timeout, not the configured 5 s.
      expect(dns.queries.filter((query) => query.name === name && query.fault === 'drop')).toHaveLength(1);
      const lost = events.find((event): event is Extract<WatchEvent, { type: 'attempt' }> & { at: number } => event.type === 'attempt' && event.at >= changedAt);
      if (lost) {
        expect(lost.recordType).toBe(dropped);
        expect(lost.timeoutMs).toBeLessThan(INTERVAL);
      }
      // What was scheduled: each poll's deadline is refreshInterval × (1 + jitter), its first try's timeout
      // (adaptive, 250 ms at this server's latency) being shorter, and no next poll was further away.
      const deadline = pollDeadline({ refreshInterval: INTERVAL, jitter: JITTER }, lost?.timeoutMs ?? 250);
      expect(deadline).toBe(INTERVAL * (1 + JITTER));
      expect(scheduled).toContain(deadline);
      expect(Math.max(...scheduled)).toBeLessThanOrEqual(deadline);
      // The client's try timers since the change: the adaptive timeout (250 ms, or 5 × the server's average
      // round trip when a loaded machine makes that longer), never the configured 5 s for a try that holds the
      // query (a try that timed out listens on, by another timer, for a late reply).
      expect(timers.delays).toContain(lost?.timeoutMs ?? 250);
      // And so the new set came within one poll's wait, the lost try's timeout and a round trip.
      expect(arrived.at - changedAt).toBeLessThanOrEqual(BOUND_MS + SLACK_MS);
      expect(subscription.stats().addresses).toContain(changedTo);
    } finally {
      subscription.close();
      stopObserving();
      await close();
    }
  }, 20_000);
});

describe.concurrent('a server slower than the interval', () => {
  it('is still heard: replies 1.5 s late at refreshInterval 1000 answer every poll, none given up', async () => {
    const { server: dns, resolvConfPath, close } = await startDnsServer({ label: 'never-held' });
    const name = 'slow-server.test';
    dns.setRecords(name, { A: ['10.0.1.1'] });
    dns.setFault({ delayMs: 1_500 }, { name });
    const registry = new Registry(new PollTimers(recordingTimers()));
    const subscription = registry.subscribe(name, resolveOptions({ refreshInterval: INTERVAL, jitter: JITTER, family: 4, resolvConfPath, hostsPath: false }), () => {});
    try {
      await waitUntil(() => subscription.stats().queries >= 4, '4 polls', 30_000);
      expect(subscription.stats()).toMatchObject({ failures: 0, addresses: ['10.0.1.1'] });
    } finally {
      subscription.close();
      await close();
    }
  }, 40_000);
});
