import { describe, expect, it } from 'vitest';
import { channelOptions } from '../src/grpc/channel-options.js';
import { resolveOptions } from '../src/watch/options.js';

/** Per-channel overrides of register()'s options, read when a channel is created. */
describe('channel options', () => {
  const base = resolveOptions({ refreshInterval: 5_000, minInterval: 1_000 });

  it('no grpc-dns-watch keys: the registered options, same object (so the watcher is shared)', () => {
    expect(channelOptions(base, { 'grpc.keepalive_time_ms': 10_000 })).toBe(base);
  });

  it('grpc-dns-watch.* keys override their options', () => {
    const options = channelOptions(base, {
      'grpc-dns-watch.refresh_interval_ms': 2_000,
      'grpc-dns-watch.min_interval_ms': 500,
      'grpc-dns-watch.respect_ttl': 0,
      'grpc-dns-watch.jitter': 0.1,
      'grpc-dns-watch.family': 6,
      'grpc-dns-watch.ask_both_families': 1,
    });
    expect(options).toMatchObject({ refreshInterval: 2_000, minInterval: 500, respectTtl: false, jitter: 0.1, family: 6, askBothFamilies: true });
    expect(channelOptions(base, { 'grpc-dns-watch.ask_both_families': true }).askBothFamilies).toBe(true);
    expect(base.askBothFamilies).toBe(false);
    expect(base.refreshInterval).toBe(5_000);
  });

  it("grpc-js's grpc.dns_min_time_between_resolutions_ms is the channel's minInterval", () => {
    expect(channelOptions(base, { 'grpc.dns_min_time_between_resolutions_ms': 250 }).minInterval).toBe(250);
  });

  it('…capped at the refresh interval, so its 30 s habit cannot stop polling', () => {
    expect(channelOptions(base, { 'grpc.dns_min_time_between_resolutions_ms': 30_000 }).minInterval).toBe(5_000);
  });

  it('an explicit grpc-dns-watch.min_interval_ms wins over grpc.dns_min_time_between_resolutions_ms', () => {
    const options = channelOptions(base, { 'grpc.dns_min_time_between_resolutions_ms': 250, 'grpc-dns-watch.min_interval_ms': 700 });
    expect(options.minInterval).toBe(700);
  });

  it.each([
    [{ 'grpc-dns-watch.jitter': 2 }, 'Channel option "grpc-dns-watch.jitter" must be a number >= 0 and < 1 (a fraction of each delay), got 2'],
    [{ 'grpc-dns-watch.family': 5 }, 'Channel option "grpc-dns-watch.family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got 5'],
    [{ 'grpc-dns-watch.nameservers': '1.1.1.1' }, /Unknown channel option "grpc-dns-watch\.nameservers"; accepted: grpc-dns-watch\.refresh_interval_ms/],
    [{ 'grpc.dns_min_time_between_resolutions_ms': -1 }, 'Channel option "grpc.dns_min_time_between_resolutions_ms" must be a number of milliseconds >= 0, got -1'],
  ])('%j → TypeError', (options, message) => {
    expect(() => channelOptions(base, options)).toThrow(TypeError);
    expect(() => channelOptions(base, options)).toThrow(message);
  });
});
