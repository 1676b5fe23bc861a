import { systemTimers, type TimerHandle, type Timers } from '../dns/timers.js';

/**
 * Start-up pacing for the first polls of many names sharing one set of DNS
 * settings (one nameserver list). 10,000 watchers created in one tick would
 * otherwise send 20,000 queries at once — several times the steady rate, and
 * more than a real server's socket buffer holds (dnsmasq drops most of them
 * and they are asked again a timeout later).
 *
 * A token bucket: up to {@link STARTUP_BURST} first polls start at once, so
 * a lone new watcher (or an app opening a few dozen channels) never waits;
 * beyond that, first polls start in arrival order at 1.5× the steady poll
 * rate of the names joined (Σ 1/refreshInterval; at least 100 a second), so
 * the start-up query rate of thousands of names stays below 2× the steady
 * rate and every name has its first answer within about 2/3 of a refresh
 * interval. Their later polls keep that spread.
 */

/**
 * First polls that may start at once. 100 names are 200 queries (family 0):
 * a burst any DNS server and socket buffer absorbs (Linux's default UDP
 * receive buffer holds ~400 such queries), while start-up pacing only
 * matters from thousands of names.
 */
export const STARTUP_BURST = 100;
/** First polls start at this multiple of the steady poll rate once the burst is spent. */
const STARTUP_RATE_FACTOR = 1.5;
/**
 * …and never slower than this many per second: an app that opens and closes
 * channels to a few names (each close of the last channel stops a watcher,
 * the next open starts a new one) must not wait behind a rate set by the few
 * names it watches. 100/s is at most 200 queries/s, nothing to a DNS server;
 * pacing matters from thousands of names, where the steady rate is higher.
 */
const STARTUP_MIN_PER_SECOND = 100;
/** Shortest timer between two releases: several first polls start per tick, not one timer each. */
const MIN_TICK_MS = 10;

/** A first poll waiting for its turn. */
export interface PacedStart {
  /** Give up the turn (the watcher stopped first). */
  cancel(): void;
  /** When it is expected to start, on the pacer's clock: an estimate, earlier arrivals may still leave. */
  expectedAt(): number;
}

/** One watcher's membership: its share of the steady rate, and its first poll. */
export interface PacerMember {
  /** Run `start` now if the start-up budget allows, otherwise at its turn. */
  firstPoll(start: () => void): PacedStart | undefined;
  /** The watcher stopped: its share of the steady rate goes. */
  leave(): void;
}

interface Waiting {
  start: () => void;
  seq: number;
}

export class StartupPacer {
  private tokens: number;
  private refilledAt: number;
  /** Σ 1/refreshInterval over members: polls per ms in the steady state. */
  private steadyPerMs = 0;
  /** Waiting first polls in arrival order (a Set keeps insertion order and deletes in O(1)). */
  private readonly waiting = new Set<Waiting>();
  private enqueued = 0;
  private released = 0;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly burst = STARTUP_BURST,
    private readonly clock: Timers = systemTimers,
  ) {
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /** First polls waiting for their turn. */
  get queued(): number {
    return this.waiting.size;
  }

  join(refreshIntervalMs: number): PacerMember {
    const share = 1 / refreshIntervalMs;
    this.refill();
    this.steadyPerMs += share;
    return new Membership(this, share);
  }

  /** @internal A member's share of the steady rate goes (through {@link PacerMember.leave}). */
  withdraw(share: number): void {
    this.refill();
    this.steadyPerMs = Math.max(0, this.steadyPerMs - share);
  }

  private get ratePerMs(): number {
    return Math.max(this.steadyPerMs * STARTUP_RATE_FACTOR, STARTUP_MIN_PER_SECOND / 1_000);
  }

  /** @internal Through {@link PacerMember.firstPoll}. */
  firstPoll(start: () => void): PacedStart | undefined {
    this.refill();
    if (this.waiting.size === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      start();
      return undefined;
    }
    const entry: Waiting = { start, seq: this.enqueued++ };
    this.waiting.add(entry);
    this.arm();
    return {
      cancel: () => {
        if (this.waiting.delete(entry)) this.released++;
        if (this.waiting.size === 0) this.disarm();
      },
      expectedAt: () => {
        this.refill();
        const ahead = Math.max(0, entry.seq - this.released);
        const rate = this.ratePerMs;
        return Math.round(this.clock.now() + Math.max(0, ahead + 1 - this.tokens) / rate);
      },
    };
  }

  private refill(): void {
    const now = this.clock.now();
    // The bucket holds the burst allowance, and at least what one timer tick
    // earns at the current rate (or releases batched per tick would lose tokens).
    const capacity = Math.max(1, this.burst, 2 * MIN_TICK_MS * this.ratePerMs);
    this.tokens = Math.min(capacity, this.tokens + (now - this.refilledAt) * this.ratePerMs);
    this.refilledAt = now;
  }

  private release(): void {
    this.timer = undefined;
    this.refill();
    for (const entry of this.waiting) {
      if (this.tokens < 1) break;
      this.tokens -= 1;
      this.waiting.delete(entry);
      this.released++;
      entry.start();
    }
    if (this.waiting.size > 0) this.arm();
  }

  private arm(): void {
    if (this.timer) return;
    const wait = Math.max(MIN_TICK_MS, Math.ceil((1 - this.tokens) / this.ratePerMs));
    this.timer = this.clock.setTimeout(() => this.release(), wait);
    // Pacing never keeps a process alive: the watchers' own timers do not either.
    this.timer.unref?.();
  }

  private disarm(): void {
    if (!this.timer) return;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** A watcher's membership: a class rather than an object of closures, one per watched name. */
class Membership implements PacerMember {
  private left = false;

  constructor(
    private readonly pacer: StartupPacer,
    private readonly share: number,
  ) {}

  firstPoll(start: () => void): PacedStart | undefined {
    return this.pacer.firstPoll(start);
  }

  leave(): void {
    if (this.left) return;
    this.left = true;
    this.pacer.withdraw(this.share);
  }
}
