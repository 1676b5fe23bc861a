import type { DnsError } from './errors.js';
import type { AbortSignalLike, QueryType } from './types.js';

/**
 * One `DnsClient.query()` call while it runs: its outcome, settled once, and
 * what it holds meanwhile — the try in progress or its place in line, and the
 * earlier tries that timed out but still listen for a late reply. When the
 * query settles (an answer from any of its tries, its last failure, an abort)
 * everything it holds is dropped at once.
 */
export class QueryRun<Reply> {
  /** Settled: nothing more starts. */
  done = false;
  /** Each failed try's error, in order. */
  readonly failures: DnsError[] = [];
  /** What `DnsClient.query()` returns. */
  readonly outcome: Promise<Reply>;
  /** Usually one thing: an array, not a Set. */
  private holds: Array<() => void> = [];
  private resolve!: (reply: Reply) => void;
  private reject!: (error: Error) => void;
  private readonly abort: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly type: QueryType,
    /** Gives the query up when it aborts, rejecting with what `givenUp` makes of its reason. */
    private readonly signal?: AbortSignalLike,
    givenUp?: (signal: AbortSignalLike) => Error,
    /** Told the timeout of the first try, once (see {@link tried}; client.ts `QueryOptions.firstTry`). */
    private firstTryTo?: { firstTry?(timeoutMs: number): void },
  ) {
    this.outcome = new Promise<Reply>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (signal && givenUp) {
      this.abort = () => this.fail(givenUp(signal));
      signal.addEventListener('abort', this.abort, { once: true });
    }
  }

  /** A try leaves with `timeoutMs`: the first one is told to the listener. */
  tried(timeoutMs: number): void {
    const to = this.firstTryTo;
    if (!to) return;
    this.firstTryTo = undefined;
    to.firstTry?.(timeoutMs);
  }

  /** Keep `drop` until settled (then called) or released. */
  hold(drop: () => void): () => void {
    this.holds.push(drop);
    return () => {
      const index = this.holds.indexOf(drop);
      if (index !== -1) this.holds.splice(index, 1);
    };
  }

  succeed(reply: Reply): void {
    if (this.finish()) this.resolve(reply);
  }

  fail(error: Error): void {
    if (this.finish()) this.reject(error);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    if (this.abort) this.signal!.removeEventListener('abort', this.abort);
    const { holds } = this;
    this.holds = [];
    for (const drop of holds) drop();
    return true;
  }
}
