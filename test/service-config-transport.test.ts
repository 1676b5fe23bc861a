import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsError } from '../src/dns/errors.js';
import type { ServiceConfigAnswer, SourceAnswer } from '../src/watch/contract.js';
import { DEFAULTS } from '../src/watch/options.js';
import { Poller } from '../src/watch/poller.js';
import type { AddressSource } from '../src/watch/source.js';
import type { Delivery } from '../src/watch/subscribers.js';

/**
 * How a source's service config travels from its answer to each channel: the
 * poller holds the latest beside the belief, a change of it alone (same
 * addresses) reaches subscribers that take service configs (channels) as an
 * update with the same list, never watch() handles; "no news" keeps what is
 * held; the same config with its keys in another order is no news.
 */

type Step = { addresses: string[]; serviceConfig?: ServiceConfigAnswer } | DnsError;

function scriptedSource(script: Step[]): AddressSource & { calls: number } {
  let index = 0;
  const source = {
    name: 'scripted',
    family: 0 as const,
    calls: 0,
    ask(): Promise<SourceAnswer> {
      source.calls++;
      const step = script[Math.min(index++, script.length - 1)]!;
      if (step instanceof DnsError) return Promise.reject(step);
      return Promise.resolve({
        addresses: step.addresses.map((address) => ({ address, family: 4 as const, ttl: Infinity })),
        failedFamilies: [],
        ...(step.serviceConfig ? { serviceConfig: step.serviceConfig } : {}),
      });
    },
  };
  return source;
}

const INTERVAL = 1_000;
const options = { refreshInterval: INTERVAL, respectTtl: false, minInterval: 100, jitter: 0, backoff: { ...DEFAULTS.backoff } };
const roundRobin: ServiceConfigAnswer = { kind: 'json', config: { loadBalancingConfig: [{ round_robin: {} }] } };

function collect() {
  const deliveries: Delivery[] = [];
  return { deliveries, deliver: (delivery: Delivery) => deliveries.push(delivery) };
}

describe('service config from a source to each channel', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a change of service config alone reaches channels with the same list, never watch() handles', async () => {
    const source = scriptedSource([
      { addresses: ['10.0.0.1'] },
      { addresses: ['10.0.0.1'], serviceConfig: roundRobin },
      { addresses: ['10.0.0.1'], serviceConfig: { kind: 'json', config: { loadBalancingConfig: [{ round_robin: {} }] } } },
      { addresses: ['10.0.0.1'] },
      { addresses: ['10.0.0.1'], serviceConfig: { kind: 'json', config: null } },
    ]);
    const poller = new Poller(source, options);
    const channel = collect();
    const handle = collect();
    poller.subscribe(channel.deliver, true);
    poller.subscribe(handle.deliver);
    await vi.advanceTimersByTimeAsync(0);
    expect(channel.deliveries).toEqual([expect.objectContaining({ kind: 'update', added: ['10.0.0.1'], serviceConfig: undefined })]);
    expect(handle.deliveries).toHaveLength(1);
    expect(handle.deliveries[0]).not.toHaveProperty('serviceConfig');

    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(channel.deliveries).toHaveLength(2);
    expect(channel.deliveries[1]).toMatchObject({ kind: 'update', added: [], removed: [], serviceConfig: roundRobin });
    expect(channel.deliveries[1]!.kind === 'update' && channel.deliveries[1]!.addresses.map((entry) => entry.address)).toEqual(['10.0.0.1']);
    expect(handle.deliveries).toHaveLength(1);

    // The same config again (a new object), then a poll with no news about it: nothing.
    await vi.advanceTimersByTimeAsync(2 * INTERVAL);
    expect(source.calls).toBe(4);
    expect(channel.deliveries).toHaveLength(2);

    // The source says there is none now: news, delivered as such.
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(channel.deliveries).toHaveLength(3);
    expect(channel.deliveries[2]).toMatchObject({ kind: 'update', serviceConfig: { kind: 'json', config: null } });
    expect(handle.deliveries).toHaveLength(1);
    poller.stop();
  });

  it('keys in another order are the same config; a failure keeps the config held', async () => {
    const source = scriptedSource([
      { addresses: ['10.0.0.1'], serviceConfig: { kind: 'json', config: { a: 1, b: { c: 2, d: [1, 2] } } } },
      { addresses: ['10.0.0.1'], serviceConfig: { kind: 'json', config: { b: { d: [1, 2], c: 2 }, a: 1 } } },
      new DnsError('TIMEOUT', 'scripted', 'could not ask'),
      { addresses: ['10.0.0.2'] },
    ]);
    const poller = new Poller(source, options);
    const channel = collect();
    poller.subscribe(channel.deliver, true);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(source.calls).toBe(2);
    expect(channel.deliveries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(source.calls).toBe(3);
    expect(channel.deliveries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(DEFAULTS.backoff.initial);
    expect(channel.deliveries).toHaveLength(2);
    expect(channel.deliveries[1]).toMatchObject({ kind: 'update', added: ['10.0.0.2'], serviceConfig: { kind: 'json', config: { a: 1, b: { c: 2, d: [1, 2] } } } });
    poller.stop();
  });

  it('a config that changes while the source says none waits for the next set', async () => {
    const source = scriptedSource([
      { addresses: ['10.0.0.1'] },
      new DnsError('NODATA', 'scripted', 'none'),
      { addresses: ['10.0.0.1'], serviceConfig: roundRobin },
    ]);
    const poller = new Poller(source, options);
    const channel = collect();
    const late = collect();
    poller.subscribe(channel.deliver, true);
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(channel.deliveries.map((delivery) => delivery.kind)).toEqual(['update', 'error']);
    await vi.advanceTimersByTimeAsync(INTERVAL);
    expect(channel.deliveries).toHaveLength(3);
    expect(channel.deliveries[2]).toMatchObject({ kind: 'update', serviceConfig: roundRobin });
    // A channel joining later gets the set and the config held, in one update.
    poller.subscribe(late.deliver, true);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.deliveries).toEqual([expect.objectContaining({ kind: 'update', serviceConfig: roundRobin })]);
    poller.stop();
  });
});
