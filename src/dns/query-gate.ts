import type { Timers } from './timers.js';

/** Why a waiting try did not get a slot. */
export type GateRefusal = 'full' | 'expired' | 'closed';

interface Waiter {
  since: number;
  resolve: () => void;
  reject: (reason: GateRefusal) => void;
}

/**
 * How much longer a try may wait in line while its nameserver answers. A
 * line behind a dead server drains by expiry within about a timeout; behind
 * a server that answers, a long line means this process is slow (short of
 * CPU, or a burst of start-ups), and refusing its waiters would turn late
 * polls into failed ones and their retries into more work.
 */
export const ANSWERING_WAIT_FACTOR = 8;

/**
 * At most `limit` tries in flight, and a FIFO queue of at most `maxQueued`
 * behind them. A slot that frees is handed to the oldest waiter that has not
 * waited too long (older ones are refused as 'expired' on the way): longer
 * than `maxWaitMs`, or while `answering()` says the nameserver answers,
 * {@link ANSWERING_WAIT_FACTOR} times that. A waiter thus waits at most that
 * plus the time to the next free slot, which the per-try timeout bounds. A
 * full queue refuses at once.
 */
export class QueryGate {
  private inFlight = 0;
  private queue: Waiter[] = [];
  /** Index of the oldest waiter in `queue` (a FIFO without shifting). */
  private head = 0;

  constructor(
    readonly limit: number,
    readonly maxQueued: number,
    private readonly maxWaitMs: number,
    private readonly timers: Timers,
    /** Whether the nameserver behind this gate answered lately. */
    private readonly answering: () => boolean = () => false,
  ) {}

  /** Take a slot now if one is free (the common case, no promise). */
  tryEnter(): boolean {
    if (this.inFlight >= this.limit) return false;
    this.inFlight++;
    return true;
  }

  /** Wait in line for a slot; rejects with a {@link GateRefusal}. */
  wait(): Promise<void> {
    // A refusal is a tag the client turns into a DnsError naming the server, not an error of its own.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (this.queued >= this.maxQueued) return Promise.reject<void>('full');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ since: this.timers.now(), resolve, reject });
    });
  }

  /** Free a slot: it goes to the oldest waiter still in time, or back to the pool. */
  leave(): void {
    const now = this.timers.now();
    let maxWait: number | undefined;
    while (this.head < this.queue.length) {
      const waiter = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Waiter;
      this.compact();
      if (now - waiter.since > this.maxWaitMs && now - waiter.since > (maxWait ??= this.longestWait())) {
        waiter.reject('expired');
        continue;
      }
      waiter.resolve(); // the slot passes on: inFlight stays
      return;
    }
    this.inFlight--;
  }

  /** How long a waiter may have waited and still get a slot, now. */
  longestWait(): number {
    return this.answering() ? this.maxWaitMs * ANSWERING_WAIT_FACTOR : this.maxWaitMs;
  }

  /** Refuse every waiter (the client is closing). */
  close(): void {
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const waiter of waiting) waiter.reject('closed');
  }

  get queued(): number {
    return this.queue.length - this.head;
  }

  get active(): number {
    return this.inFlight;
  }

  private compact(): void {
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 1_024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }
}
