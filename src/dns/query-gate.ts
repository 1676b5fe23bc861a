import type { Timers } from './timers.js';

/** Why a waiting try did not get a slot; 'cancelled' is the waiter's own doing ({@link GateWait.cancel}). */
export type GateRefusal = 'full' | 'expired' | 'closed' | 'cancelled';

/** A place in line: `admitted` resolves when a slot is handed over; `cancel()` gives the place up. */
export interface GateWait {
  readonly admitted: Promise<void>;
  /**
   * Leave the line (an aborted query): `admitted` rejects with 'cancelled'.
   * Does nothing once admitted or refused: an admitted try gives its slot
   * back with `leave()`.
   */
  cancel(): void;
}

/** A waiter is a node of a doubly linked list, so giving up a place in line is O(1) and leaves nothing behind. */
interface Waiter {
  since: number;
  resolve: () => void;
  reject: (reason: GateRefusal) => void;
  prev: Waiter | null;
  next: Waiter | null;
  /** Still in the line (not yet admitted, refused or cancelled). */
  waiting: boolean;
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
  private head: Waiter | null = null;
  private tail: Waiter | null = null;
  private waiting = 0;

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

  /** Wait in line for a slot; `admitted` rejects with a {@link GateRefusal}. */
  wait(): GateWait {
    if (this.waiting >= this.maxQueued) {
      // A refusal is a tag the client turns into a DnsError naming the server, not an error of its own.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return { admitted: Promise.reject<void>('full'), cancel: () => undefined };
    }
    let waiter!: Waiter;
    const admitted = new Promise<void>((resolve, reject) => {
      waiter = { since: this.timers.now(), resolve, reject, prev: this.tail, next: null, waiting: true };
    });
    if (this.tail) this.tail.next = waiter;
    else this.head = waiter;
    this.tail = waiter;
    this.waiting++;
    return {
      admitted,
      cancel: () => {
        if (!waiter.waiting) return;
        this.unlink(waiter);
        waiter.reject('cancelled');
      },
    };
  }

  /** Free a slot: it goes to the oldest waiter still in time, or back to the pool. */
  leave(): void {
    const now = this.timers.now();
    let maxWait: number | undefined;
    for (let waiter = this.head; waiter; waiter = this.head) {
      this.unlink(waiter);
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
    for (let waiter = this.head; waiter; waiter = this.head) {
      this.unlink(waiter);
      waiter.reject('closed');
    }
  }

  get queued(): number {
    return this.waiting;
  }

  get active(): number {
    return this.inFlight;
  }

  private unlink(waiter: Waiter): void {
    waiter.waiting = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else this.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else this.tail = waiter.prev;
    waiter.prev = waiter.next = null;
    this.waiting--;
  }
}
