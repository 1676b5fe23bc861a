import { randomInt } from 'node:crypto';

/** DNS message ids are 16 bits (RFC 1035 §4.1.1). */
export const ID_SPACE = 65_536;

/**
 * Query ids in use and free, so that drawing a fresh one never loops: the
 * free ids sit at the front of one array, a draw picks a random index among
 * them (uniform over the free ids, as RFC 5452 wants) and swaps it behind
 * them; a release swaps it back. Both are O(1). With every id in use (which
 * the in-flight cap keeps far away) `take()` says so instead of spinning, as
 * drawing random ids until one is free would (c-ares' `generate_unique_qid`
 * does exactly that).
 */
export class IdPool {
  /** Free ids in `[0, available)`, ids in use after them. */
  private readonly ids = new Uint16Array(ID_SPACE);
  /** Where each id sits in `ids`. */
  private readonly slot = new Uint16Array(ID_SPACE);
  private available = ID_SPACE;

  constructor(private readonly random: (below: number) => number = randomInt) {
    for (let id = 0; id < ID_SPACE; id++) {
      this.ids[id] = id;
      this.slot[id] = id;
    }
  }

  /** A random free id, now in use; undefined when all 65,536 are in use. */
  take(): number | undefined {
    if (this.available === 0) return undefined;
    const id = this.ids[this.random(this.available)]!;
    this.available--;
    this.swap(id, this.ids[this.available]!);
    return id;
  }

  /** Give `id` back; releasing a free id does nothing. */
  release(id: number): void {
    if (this.slot[id]! < this.available) return;
    this.swap(id, this.ids[this.available]!);
    this.available++;
  }

  get inUse(): number {
    return ID_SPACE - this.available;
  }

  private swap(a: number, b: number): void {
    const slotA = this.slot[a]!;
    const slotB = this.slot[b]!;
    this.ids[slotA] = b;
    this.ids[slotB] = a;
    this.slot[a] = slotB;
    this.slot[b] = slotA;
  }
}
