import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULTS } from '../src/watch/options.js';
import { FunctionSource, type PollingAnswer } from '../src/watch/function-source.js';
import { Poller } from '../src/watch/poller.js';
import { DEADLINE_MARGIN_MS, pollDeadline } from '../src/watch/schedule.js';
import type { Delivery } from '../src/watch/subscribers.js';

/**
 * A polling resolver's function as the poller's source, on fake timers: the
 * poll of a resolve that never returns (and ignores its signal) ends exactly
 * at the poll's deadline, the next polls fail at once without calling it
 * again, and its late answer is dropped; the next call then answers.
 */

const options = { refreshInterval: 1_000, respectTtl: false, minInterval: 100, jitter: 0, backoff: { ...DEFAULTS.backoff, initial: 500 } };

describe('FunctionSource under the poller', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a hung resolve: aborted at the deadline, never called twice at once, its late answer dropped', async () => {
    const signals: AbortSignal[] = [];
    let release: ((answer: PollingAnswer) => void) | undefined;
    const source = new FunctionSource('test:svc', { scheme: 'test', authority: undefined, path: 'svc', host: 'svc' }, ({ signal }) => {
      signals.push(signal);
      if (signals.length === 1) return new Promise<PollingAnswer>((resolve) => (release = resolve));
      return [{ host: '10.0.0.2', port: 80 }];
    });
    const poller = new Poller(source, options);
    const deliveries: Delivery[] = [];
    poller.subscribe((delivery) => deliveries.push(delivery), true);
    const deadline = pollDeadline(options, 0);
    expect(deadline).toBe(Math.max(options.refreshInterval, DEADLINE_MARGIN_MS));

    // Fake timers run a 0 ms timer 1 ms on: the first poll starts at 1 ms, and the deadline is decided in the next turn.
    await vi.advanceTimersByTimeAsync(deadline);
    expect(signals[0]!.aborted).toBe(false);
    expect(deliveries).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(signals[0]!.aborted).toBe(true);
    expect(deliveries).toEqual([expect.objectContaining({ kind: 'error', authoritative: false })]);
    expect(deliveries[0]!.kind === 'error' && deliveries[0]!.error.message).toMatch(/^No answer for test:svc within the poll's deadline/);

    // A poll given up is followed by one at once, then by backoff (the second failure in a row: 500 ms × 2):
    // each fails at once, the call has not returned.
    await vi.advanceTimersByTimeAsync(1_600);
    expect(poller.stats()).toMatchObject({ queries: 3, consecutiveFailures: 3 });
    expect(poller.stats().lastError?.message).toMatch(/^resolve\(\) for test:svc has not returned since a poll gave it up/);
    expect(signals).toHaveLength(1);

    release!([{ host: '10.0.0.9', port: 80 }]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(signals).toHaveLength(2);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]).toMatchObject({ kind: 'update', added: ['10.0.0.2:80'] });
    poller.stop();
  });

  it('a resolve that listens to its signal ends the poll with its own rejection at the deadline; stop() aborts a call in flight', async () => {
    const signals: AbortSignal[] = [];
    const source = new FunctionSource('test:svc', { scheme: 'test', authority: undefined, path: 'svc' }, ({ signal }) => {
      signals.push(signal);
      return new Promise<PollingAnswer>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    });
    const poller = new Poller(source, options);
    poller.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(pollDeadline(options, 0) + 2);
    expect(signals[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(options.backoff.initial + 2);
    expect(signals).toHaveLength(2);
    poller.stop();
    expect(signals[1]!.aborted).toBe(true);
  });
});
