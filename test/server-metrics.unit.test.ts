/**
 * Adaptive try timeouts (src/dns/server-metrics.ts) against an injected
 * clock: what c-ares' ares_metrics.c computes, window by window, and how a
 * query's later rounds wait longer.
 */
import { describe, expect, it } from 'vitest';
import {
  LATENCY_TIMEOUT_MULTIPLIER,
  LatencyMetrics,
  MIN_SAMPLES_FOR_AVERAGE,
  MIN_TRY_TIMEOUT_MS,
  baseTryTimeoutMs,
  tryTimeoutMs,
} from '../src/dns/server-metrics.js';

const MINUTE = 60_000;
const CONFIGURED = 5_000;

function timeoutAt(metrics: LatencyMetrics, now: number): number {
  return baseTryTimeoutMs(metrics.averageMs(now), CONFIGURED);
}

describe('the first round\'s timeout: 5 × the average latency within [250 ms, the configured timeout]', () => {
  it('is the configured timeout until MIN_SAMPLES_FOR_AVERAGE replies were measured', () => {
    const metrics = new LatencyMetrics();
    expect(timeoutAt(metrics, 0)).toBe(CONFIGURED);
    for (let i = 1; i < MIN_SAMPLES_FOR_AVERAGE; i++) {
      metrics.record(1, i);
      expect(metrics.averageMs(i)).toBeNull();
      expect(timeoutAt(metrics, i)).toBe(CONFIGURED);
    }
    metrics.record(1, 10);
    expect(metrics.averageMs(10)).toBe(1);
    // A 1 ms cluster DNS: 5 ms would be below the floor.
    expect(timeoutAt(metrics, 10)).toBe(MIN_TRY_TIMEOUT_MS);
  });

  it('follows the average between the floor and the ceiling', () => {
    expect(baseTryTimeoutMs(1, CONFIGURED)).toBe(250);
    expect(baseTryTimeoutMs(49.9, CONFIGURED)).toBe(250);
    expect(baseTryTimeoutMs(200, CONFIGURED)).toBe(200 * LATENCY_TIMEOUT_MULTIPLIER);
    expect(baseTryTimeoutMs(999, CONFIGURED)).toBe(4_995);
    // A server slower than the configured timeout allows: the configured value stands.
    expect(baseTryTimeoutMs(1_800, CONFIGURED)).toBe(CONFIGURED);
    // A configured timeout under the floor is still the ceiling.
    expect(baseTryTimeoutMs(1, 100)).toBe(100);
    expect(baseTryTimeoutMs(null, 100)).toBe(100);
  });

  it('takes the shortest window with enough replies: this minute, else the last, else 15 minutes, 1 hour, 1 day, ever', () => {
    const metrics = new LatencyMetrics();
    // Minute 0: a slow server (1 s).
    for (let i = 0; i < 3; i++) metrics.record(1_000, i * 1_000);
    expect(metrics.averageMs(10_000)).toBe(1_000);
    // Minute 20: it got fast (10 ms). This minute's replies win.
    for (let i = 0; i < 3; i++) metrics.record(10, 20 * MINUTE + i);
    expect(metrics.averageMs(20 * MINUTE + 30_000)).toBe(10);
    // Minute 21: the minute that just ended still answers.
    expect(metrics.averageMs(21 * MINUTE + 59_000)).toBe(10);
    // Minute 23: no minute has data; the 15-minute period 15–29 does (only the fast replies).
    expect(metrics.averageMs(23 * MINUTE)).toBe(10);
    // Minute 31: the period 15–29 has just ended and still answers.
    expect(metrics.averageMs(31 * MINUTE)).toBe(10);
    // Minute 50: nothing in the last two 15-minute periods; the hour 0–59 holds all six replies.
    expect(metrics.averageMs(50 * MINUTE)).toBe((3 * 1_000 + 3 * 10) / 6);
    expect(timeoutAt(metrics, 50 * MINUTE)).toBe(2_525);
    // Hour 5: the day.
    expect(metrics.averageMs(5 * 60 * MINUTE)).toBe(505);
    // Day 3: only the window since the client was created.
    expect(metrics.averageMs(3 * 24 * 60 * MINUTE)).toBe(505);
  });

  it('a minute with fewer than three replies defers to a longer window', () => {
    const metrics = new LatencyMetrics();
    for (let i = 0; i < 3; i++) metrics.record(100, i);
    // Two replies this minute, at 2 s each: not enough on their own.
    metrics.record(2_000, 5 * MINUTE);
    metrics.record(2_000, 5 * MINUTE + 1);
    expect(metrics.averageMs(5 * MINUTE + 2)).toBe((300 + 4_000) / 5);
  });
});

describe('later rounds of one query wait longer (c-ares ares_calc_query_timeout)', () => {
  it('the first round uses the base timeout as it is', () => {
    expect(tryTimeoutMs(250, 0, CONFIGURED, () => 0.5)).toBe(250);
  });

  it('doubles per round, jittered down by up to half, never below the base nor above the configured timeout', () => {
    expect(tryTimeoutMs(250, 1, CONFIGURED, () => 0)).toBe(500);
    expect(tryTimeoutMs(250, 1, CONFIGURED, () => 0.5)).toBe(375);
    expect(tryTimeoutMs(250, 1, CONFIGURED, () => 0.999_999)).toBe(250);
    expect(tryTimeoutMs(250, 2, CONFIGURED, () => 0)).toBe(1_000);
    expect(tryTimeoutMs(250, 5, CONFIGURED, () => 0)).toBe(CONFIGURED);
    expect(tryTimeoutMs(250, 40, CONFIGURED, () => 0)).toBe(CONFIGURED);
    // Nothing measured: the base is the configured timeout, and the jitter cannot go below it.
    expect(tryTimeoutMs(CONFIGURED, 1, CONFIGURED, () => 0.999)).toBe(CONFIGURED);
    for (let i = 0; i < 1_000; i++) {
      const ms = tryTimeoutMs(300, 1 + (i % 4), 2_000, Math.random);
      expect(ms).toBeGreaterThanOrEqual(300);
      expect(ms).toBeLessThanOrEqual(2_000);
    }
  });
});
