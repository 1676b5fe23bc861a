/**
 * One `DnsClient.query()` call while it runs: its outcome, settled once, and
 * what it holds meanwhile — the try in progress or its place in line, and the
 * earlier tries that timed out but still listen for a late reply. When the
 * query settles (an answer from any of its tries, its last failure, an abort)
 * everything it holds is dropped at once.
 */
export class QueryRun<Reply> {
  /** Settled: no further try starts, and whatever ends later finds nothing to settle. */
  done = false;
  private readonly holds = new Set<() => void>();

  constructor(
    readonly name: string,
    readonly type: 'A' | 'AAAA',
    private readonly settled: (reply: Reply | undefined, error: Error | undefined) => void,
  ) {}

  /** Keep `drop` until the query settles (then it is called), or until the returned release. */
  hold(drop: () => void): () => void {
    this.holds.add(drop);
    return () => {
      this.holds.delete(drop);
    };
  }

  succeed(reply: Reply): void {
    if (this.finish()) this.settled(reply, undefined);
  }

  fail(error: Error): void {
    if (this.finish()) this.settled(undefined, error);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    const holds = [...this.holds];
    this.holds.clear();
    for (const drop of holds) drop();
    return true;
  }
}
