import diagnosticsChannel from 'node:diagnostics_channel';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { observe, stats, watch, type WatchEvent, type WatchOptions } from '../src/index.js';
import { CHANNELS, report } from '../src/watch/observe.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { dnsServerForFile } from '../harness/server-fixture.js';

/** The hook surface for logs and metrics: observe() events and stats() snapshots. */

const fixture = dnsServerForFile({ resolvConf: 'options attempts:1', label: 'observe' });
let dns: DnsTestServer;
let options: WatchOptions;

beforeAll(() => {
  dns = fixture.server;
  options = { refreshInterval: 80, minInterval: 10, jitter: 0, family: 4, resolvConfPath: fixture.resolvConfPath, hostsPath: false, timeout: 150, backoff: { initial: 20, max: 40, multiplier: 2 } };
});

describe('observe() and stats()', () => {
  it('reports queries with duration and result, updates with the diff, errors with kept/backoff', async () => {
    const events: WatchEvent[] = [];
    const stop = observe((event) => {
      if (event.name === 'metrics.test') events.push(event);
    });
    const broken = observe(() => {
      throw new Error('observer bug'); // must not break polling
    });
    dns.setRecords('metrics.test', { A: ['10.0.0.1'] });
    const svc = watch('metrics.test', options);
    await vi.waitFor(() => expect(events.some((event) => event.type === 'update')).toBe(true), { timeout: 3_000 });
    dns.setRecords('metrics.test', { A: ['10.0.0.2'] });
    await vi.waitFor(() => expect(events.filter((event) => event.type === 'update')).toHaveLength(2), { timeout: 3_000 });
    dns.setFault('servfail', { name: 'metrics.test' });
    await vi.waitFor(() => expect(events.filter((event) => event.type === 'error').length).toBeGreaterThanOrEqual(2), { timeout: 3_000 });
    stop();
    broken();
    dns.setFault(null);

    const queries = events.filter((event) => event.type === 'query');
    expect(queries[0]).toMatchObject({ type: 'query', name: 'metrics.test', family: 4, result: 'NOERROR', addresses: 1 });
    expect(queries[0]!.type === 'query' && queries[0]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(queries.some((event) => event.type === 'query' && event.result === 'SERVFAIL')).toBe(true);
    const updates = events.filter((event) => event.type === 'update');
    expect(updates[0]).toEqual({ type: 'update', name: 'metrics.test', addresses: ['10.0.0.1'], added: ['10.0.0.1'], removed: [] });
    expect(updates[1]).toEqual({ type: 'update', name: 'metrics.test', addresses: ['10.0.0.2'], added: ['10.0.0.2'], removed: ['10.0.0.1'] });
    const errors = events.filter((event) => event.type === 'error');
    expect(errors[0]).toMatchObject({ type: 'error', kept: true, retryInMs: 20 });
    expect(errors[1]).toMatchObject({ type: 'error', kept: true, retryInMs: 40 });
    expect(errors[0]!.type === 'error' && errors[0]!.error.code).toBe('SERVFAIL');

    // Between polls, not during one (a query in flight has no next poll yet: see "querying" below).
    const snapshot = await vi.waitFor(() => {
      const current = svc.stats();
      expect(current?.querying).toBe(false);
      return current;
    }, { timeout: 3_000 });
    expect(snapshot).toMatchObject({ name: 'metrics.test', family: 4, subscribers: 1, state: 'addresses', addresses: ['10.0.0.2'] });
    expect(snapshot!.queries).toBeGreaterThanOrEqual(4);
    expect(snapshot!.failures).toBeGreaterThanOrEqual(2);
    expect(snapshot!.lastChangeAt).toBeInstanceOf(Date);
    // Scheduled after the last change was seen (not compared with the clock: a busy machine may run the timer late).
    expect(snapshot!.nextPollAt!.getTime()).toBeGreaterThanOrEqual(snapshot!.lastChangeAt!.getTime());
    expect(stats().some((entry) => entry.name === 'metrics.test')).toBe(true);
    svc.close();
    expect(svc.stats()).toBeUndefined();
    expect(stats().some((entry) => entry.name === 'metrics.test')).toBe(false);
  });

  it('stats() says "querying" while a query is in flight, and when the next poll is due between polls', async () => {
    dns.setRecords('querying.test', { A: ['10.0.0.3'] });
    // The timeout far above the delayed answer: this tests what stats() says, not timeouts.
    const svc = watch('querying.test', { ...options, refreshInterval: 5_000, minInterval: 1_000, timeout: 20_000 });
    await vi.waitFor(() => expect(svc.current).toBeDefined(), { timeout: 3_000 });
    const idle = svc.stats()!;
    expect(idle.querying).toBe(false);
    expect(idle.nextPollAt!.getTime()).toBeGreaterThan(Date.now());
    // A slow answer: the query stays in flight long enough to be seen, even when a busy
    // machine leaves long gaps between the checks below.
    dns.setFault({ delayMs: 1_500 }, { name: 'querying.test' });
    svc.refresh(); // runs once minInterval has passed since the first query
    await vi.waitFor(() => expect(svc.stats()!.querying).toBe(true), { timeout: 10_000 });
    expect(svc.stats()!.nextPollAt).toBeUndefined();
    await vi.waitFor(() => expect(svc.stats()!.querying).toBe(false), { timeout: 10_000 });
    expect(svc.stats()!.nextPollAt).toBeInstanceOf(Date);
    expect(svc.stats()!.polledName).toBe('querying.test.');
    dns.setFault(null);
    svc.close();
  });

  it('NXDOMAIN is reported as an error that keeps nothing, polled at the interval', async () => {
    const events: WatchEvent[] = [];
    const stop = observe((event) => {
      if (event.name === 'nothing.test') events.push(event);
    });
    const svc = watch('nothing.test', options);
    await vi.waitFor(() => expect(events.some((event) => event.type === 'error')).toBe(true), { timeout: 3_000 });
    stop();
    svc.close();
    expect(events.find((event) => event.type === 'error')).toMatchObject({ kept: false, retryInMs: 80 });
    expect(events.find((event) => event.type === 'query')).toMatchObject({ result: 'NXDOMAIN', addresses: 0 });
  });

  it('observe() refuses what is not a function', () => {
    expect(() => observe('log' as never)).toThrow(/observe\(\) takes a function/);
  });
});

/** Every observe() event is also published on node:diagnostics_channel, for APM / OpenTelemetry instrumentations. */

/** Subscribe to every channel; returns what arrived (per channel) and a function that unsubscribes. */
function subscribeAll(name: string): { received: Array<{ channel: string; event: WatchEvent }>; stop: () => void } {
  const received: Array<{ channel: string; event: WatchEvent }> = [];
  const handlers = Object.values(CHANNELS).map((channel) => {
    const handler = (message: unknown): void => {
      const event = message as WatchEvent;
      if (event.name === name) received.push({ channel, event });
    };
    diagnosticsChannel.subscribe(channel, handler);
    return { channel, handler };
  });
  return {
    received,
    stop: () => {
      for (const { channel, handler } of handlers) diagnosticsChannel.unsubscribe(channel, handler);
    },
  };
}

describe('diagnostics_channel', () => {
  it('names one channel per event type', () => {
    expect(CHANNELS).toEqual({
      query: 'grpc-dns-watch:query',
      update: 'grpc-dns-watch:update',
      error: 'grpc-dns-watch:error',
      attempt: 'grpc-dns-watch:attempt',
      family: 'grpc-dns-watch:family',
    });
  });

  it('a subscriber receives query, update and error events of a real watch, each on its own channel', async () => {
    const { received, stop } = subscribeAll('channels.test');
    dns.setRecords('channels.test', { A: ['10.0.0.1'] });
    const svc = watch('channels.test', options);
    try {
      await vi.waitFor(() => expect(received.some(({ event }) => event.type === 'update')).toBe(true), { timeout: 3_000 });
      dns.setFault('servfail', { name: 'channels.test' });
      await vi.waitFor(() => expect(received.some(({ event }) => event.type === 'error')).toBe(true), { timeout: 3_000 });
    } finally {
      svc.close();
      stop();
      dns.setFault(null);
    }
    for (const { channel, event } of received) expect(channel).toBe(`grpc-dns-watch:${event.type}`);
    expect(received.find(({ event }) => event.type === 'query')?.event).toMatchObject({ name: 'channels.test', family: 4, result: 'NOERROR', addresses: 1 });
    expect(received.find(({ event }) => event.type === 'update')?.event).toEqual({
      type: 'update',
      name: 'channels.test',
      addresses: ['10.0.0.1'],
      added: ['10.0.0.1'],
      removed: [],
    });
    const error = received.find(({ event }) => event.type === 'error')?.event;
    expect(error).toMatchObject({ type: 'error', name: 'channels.test', kept: true });
    expect(error?.type === 'error' && error.error.code).toBe('SERVFAIL');
  });

  it('a failed try of a real watch is published on grpc-dns-watch:attempt (reported by the DNS client)', async () => {
    const { received, stop } = subscribeAll('attempts.test');
    dns.setFault('drop', { name: 'attempts.test' });
    const svc = watch('attempts.test', options);
    try {
      await vi.waitFor(() => expect(received.some(({ event }) => event.type === 'attempt')).toBe(true), { timeout: 3_000 });
    } finally {
      svc.close();
      stop();
      dns.setFault(null);
    }
    const attempt = received.find(({ event }) => event.type === 'attempt');
    expect(attempt?.channel).toBe('grpc-dns-watch:attempt');
    expect(attempt?.event).toMatchObject({ name: 'attempts.test', recordType: 'A', server: dns.address, transport: 'udp' });
  });

  it('the object built once is the message subscribers get', () => {
    const seen: unknown[] = [];
    const good = (message: unknown): void => void seen.push(message);
    diagnosticsChannel.subscribe(CHANNELS.update, good);
    const event: WatchEvent = { type: 'update', name: 'same.test', addresses: [], added: [], removed: [] };
    try {
      report(() => event);
    } finally {
      diagnosticsChannel.unsubscribe(CHANNELS.update, good);
    }
    expect(seen).toEqual([event]);
    expect(seen[0]).toBe(event);
  });

  it('with no subscriber and no observer, the event is never built', async () => {
    const build = vi.fn((): WatchEvent => ({ type: 'update', name: 'nobody.test', addresses: [], added: [], removed: [] }));
    for (const channel of Object.values(CHANNELS)) expect(diagnosticsChannel.hasSubscribers(channel)).toBe(false);
    report(build);
    expect(build).not.toHaveBeenCalled();

    // A subscriber on any channel makes events be built; on the right one, delivered.
    const handler = vi.fn();
    diagnosticsChannel.subscribe(CHANNELS.update, handler);
    report(build);
    diagnosticsChannel.unsubscribe(CHANNELS.update, handler);
    expect(build).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledTimes(1);
    report(build);
    expect(build).toHaveBeenCalledTimes(1);
  });
});
