/**
 * IMPLEMENTATION NOTES
 * ====================
 *
 * Why adaptive try timeouts. resolv.conf's `timeout` (glibc's default 5 s) is
 * how long a stub resolver waits for one reply before it asks again. Against
 * a cluster DNS that answers in a millisecond, a lost datagram then costs 5 s
 * — 5,000 round trips — and a watcher polling every second is blind for five
 * polls. The reply latency a server has shown is a far better guess of when
 * a reply is lost than a constant written for every network at once. c-ares
 * (≥ 1.32, `src/lib/ares_metrics.c`, Node's own resolver) derives each
 * server's timeout from its measured latency; this module does the same, with
 * the same constants, so a lost datagram to a 1 ms server costs 250 ms.
 *
 * What is measured. For every NOERROR or NXDOMAIN reply (over UDP or over the
 * TCP that follows a truncated one), the time from sending that try's query
 * to its reply, per nameserver. Not SERVFAIL or REFUSED: those come at once
 * from a server whose upstream is broken, and would pull the timeout down
 * exactly when the upstream is slow. Timeouts are not measured either (they
 * say nothing about when a reply would have come). A reply that arrives after
 * its try timed out and was asked again still counts, from the send of the
 * try it answers: when a server slows down past its timeout, these late
 * replies are the only measurements that can raise the timeout again
 * (c-ares measures from the last send, which reads such a reply as fast).
 *
 * The buckets. Latency changes (a cache warms, an upstream fails over), so the
 * average is taken over recent time, in windows of 1 minute, 15 minutes,
 * 1 hour and 1 day, plus one since the client was created. Each window keeps
 * the sum and count of its current period (e.g. this minute) and of the
 * period before it, so a window that has just rolled over still answers from
 * the period that ended. The timeout uses the shortest window whose current
 * or previous period holds at least {@link MIN_SAMPLES_FOR_AVERAGE} replies:
 * recent behaviour when there is enough of it, longer history otherwise. The
 * period boundaries are multiples of the window on the client's monotonic
 * clock, as c-ares uses multiples of wall-clock seconds. (c-ares reads the
 * previous period only once a reply has rolled the window over; a window
 * whose period ended with no reply since is read here too, as the period
 * before this one is what its notes mean.)
 *
 * The timeout. {@link LATENCY_TIMEOUT_MULTIPLIER} × that average, no shorter
 * than {@link MIN_TRY_TIMEOUT_MS} and never longer than the configured
 * timeout, which is also the timeout before anything was measured. A query's
 * later rounds over the nameserver list wait longer (c-ares'
 * `ares_calc_query_timeout`): the timeout doubles per round, jittered down by
 * up to half so a fleet of clients does not retry in step, never below the
 * first round's and never past the configured timeout. The configured value
 * thus keeps its meaning as the longest any try waits (c-ares caps at 5 s
 * whatever is configured; here the user's value is the ceiling).
 */

/**
 * Shortest try timeout, ms. c-ares' MIN_TIMEOUT_MS: about a round trip half
 * way around the world. It also covers a cache miss: 5 × the mean of a
 * server that answers mostly from its cache in 1 ms would be 5 ms, shorter
 * than one recursion to its upstream (tens to hundreds of ms), and every
 * miss would be asked twice.
 */
export const MIN_TRY_TIMEOUT_MS = 250;

/**
 * Timeout = this × the average latency (c-ares' AVG_TIMEOUT_MULTIPLIER): the
 * average mixes cached answers with slower recursions, and a reply several
 * times slower than the average is still common enough not to be asked for
 * twice.
 */
export const LATENCY_TIMEOUT_MULTIPLIER = 5;

/** Replies a period needs before its average is used (c-ares' MIN_COUNT_FOR_AVERAGE): one or two are noise. */
export const MIN_SAMPLES_FOR_AVERAGE = 3;

/** The windows, shortest first (c-ares' 1 minute, 15 minutes, 1 hour, 1 day, since inception). */
const LATENCY_WINDOWS_MS: readonly number[] = [60_000, 15 * 60_000, 60 * 60_000, 24 * 60 * 60_000, Infinity];

/** One window: the current period's sum and count, and the period before it. */
interface Bucket {
  readonly spanMs: number;
  period: number;
  totalMs: number;
  count: number;
  previousPeriod: number;
  previousTotalMs: number;
  previousCount: number;
}

/** The reply latencies of one nameserver, bucketed as the notes above say. */
export class LatencyMetrics {
  private readonly buckets: Bucket[] = LATENCY_WINDOWS_MS.map((spanMs) => ({
    spanMs,
    period: NaN,
    totalMs: 0,
    count: 0,
    previousPeriod: NaN,
    previousTotalMs: 0,
    previousCount: 0,
  }));

  /** Count one reply that took `latencyMs`, at `now` on the client's clock. */
  record(latencyMs: number, now: number): void {
    for (const bucket of this.buckets) {
      const period = periodOf(bucket.spanMs, now);
      if (period !== bucket.period) {
        bucket.previousPeriod = bucket.period;
        bucket.previousTotalMs = bucket.totalMs;
        bucket.previousCount = bucket.count;
        bucket.period = period;
        bucket.totalMs = 0;
        bucket.count = 0;
      }
      bucket.totalMs += Math.max(latencyMs, 0);
      bucket.count++;
    }
  }

  /** The shortest window's average with enough replies, else null. */
  averageMs(now: number): number | null {
    for (const bucket of this.buckets) {
      const period = periodOf(bucket.spanMs, now);
      if (bucket.period === period && bucket.count >= MIN_SAMPLES_FOR_AVERAGE) return bucket.totalMs / bucket.count;
      // The period before this one: rolled into `previous` by a reply since, or still in `current` when none came.
      if (bucket.previousPeriod === period - 1 && bucket.previousCount >= MIN_SAMPLES_FOR_AVERAGE) {
        return bucket.previousTotalMs / bucket.previousCount;
      }
      if (bucket.period === period - 1 && bucket.count >= MIN_SAMPLES_FOR_AVERAGE) return bucket.totalMs / bucket.count;
    }
    return null;
  }
}

function periodOf(spanMs: number, now: number): number {
  return spanMs === Infinity ? 0 : Math.floor(now / spanMs);
}

/**
 * The first round's try timeout for a server whose average latency is
 * `averageMs` (null: nothing measured yet): {@link LATENCY_TIMEOUT_MULTIPLIER}
 * × the average within [{@link MIN_TRY_TIMEOUT_MS}, `configuredMs`], or
 * `configuredMs` before any measurement. A configured timeout below the
 * floor wins over the floor: it is the ceiling.
 */
export function baseTryTimeoutMs(averageMs: number | null, configuredMs: number): number {
  if (averageMs === null) return configuredMs;
  return Math.min(configuredMs, Math.max(MIN_TRY_TIMEOUT_MS, Math.round(averageMs * LATENCY_TIMEOUT_MULTIPLIER)));
}

/**
 * The timeout of a try in round `round` (0 for the first pass over the
 * nameservers) of one query: `baseMs` doubled per round, capped at
 * `configuredMs`, then (from the second round) lowered by a random fraction
 * of up to half, but never below `baseMs`. `random` is in [0, 1).
 */
export function tryTimeoutMs(baseMs: number, round: number, configuredMs: number, random: () => number): number {
  if (round <= 0) return baseMs;
  const grown = Math.min(configuredMs, baseMs * 2 ** Math.min(round, 30));
  const jittered = Math.round(grown - grown * 0.5 * random());
  return Math.max(baseMs, jittered);
}
