/**
 * Nameserver health: which server a try goes to.
 *
 * glibc asks the nameservers in resolv.conf order on every query, so a dead
 * first server costs every query its whole timeout, forever. c-ares (the
 * resolver inside Node) remembers failures instead, and this module does as
 * it does (`ares_process.c`: `server_increment_failures`, `server_set_good`;
 * `ares_init.c`: `server_sort_cb`): a timeout, a SERVFAIL / REFUSED / NOTIMP
 * reply or a socket error adds one to a server's consecutive failures, any
 * other reply sets them back to zero, and each try goes to the server with
 * the fewest failures among those its query has not asked in this round —
 * among equals, the one that failed longest ago (it had the most time to
 * recover), then the configured order. Every server is still asked once per
 * round, as glibc asks them: health changes the order, never the set.
 *
 * A server that failed is probed now and then, so it is used again once it
 * recovers: on one fresh query in {@link PROBE_CHANCE}, a copy of the query
 * goes to the first failed server whose last failure is at least
 * {@link PROBE_DELAY_MS} old and that has no probe out, besides the query's
 * own try. The probe's reply (or its silence) only updates the server's
 * health and latency; the query does not wait for it. A dead server thus
 * sees about one datagram per {@link PROBE_DELAY_MS} + its timeout while
 * queries flow, and none when they do not.
 *
 * `options rotate` (glibc's meaning, res_send.c `nameserver_offset`): the
 * server a query starts with advances by one per query, from a random start,
 * to spread load. Here it orders servers of equal health, so rotation goes
 * over the healthy servers and a failed one still comes last.
 */

/**
 * Consecutive failures counted at most (c-ares' SERVER_CONSEC_FAILURES_CAP):
 * only the order matters, and a count that grew without bound through a long
 * outage would keep a recovered server behind others for as many failures.
 */
export const SERVER_FAILURES_CAP = 16;

/** A failed server is probed no sooner than this after its last failure (c-ares' DEFAULT_SERVER_RETRY_DELAY). */
export const PROBE_DELAY_MS = 5_000;

/** One fresh query in this many may send a probe (c-ares' DEFAULT_SERVER_RETRY_CHANCE, 1/10). */
export const PROBE_CHANCE = 10;

export class ServerHealth {
  /** Consecutive failures, at most {@link SERVER_FAILURES_CAP}; 0 is healthy. */
  failures = 0;
  /** Last failure + {@link PROBE_DELAY_MS}; -Infinity while healthy. */
  nextProbeAt = -Infinity;
  /** A probe is out: no second one. */
  probing = false;

  get healthy(): boolean {
    return this.failures === 0;
  }

  failed(now: number): void {
    if (this.failures < SERVER_FAILURES_CAP) this.failures++;
    this.nextProbeAt = now + PROBE_DELAY_MS;
  }

  good(): void {
    this.failures = 0;
    this.nextProbeAt = -Infinity;
  }
}

/**
 * The index in `servers` of the next server to ask: not yet `asked` this
 * round, fewest failures, failed longest ago, then list order shifted by
 * `offset` (rotation). -1 when every server was asked.
 */
export function nextServer(servers: ReadonlyArray<{ readonly health: ServerHealth }>, asked: readonly boolean[], offset: number): number {
  const count = servers.length;
  let best = -1;
  for (let step = 0; step < count; step++) {
    const index = (step + offset) % count;
    if (asked[index]) continue;
    if (best === -1 || ranksBefore(servers[index]!.health, servers[best]!.health)) best = index;
  }
  return best;
}

/** Strictly healthier (list order breaks ties, by the caller's scan). */
function ranksBefore(a: ServerHealth, b: ServerHealth): boolean {
  return a.failures !== b.failures ? a.failures < b.failures : a.nextProbeAt < b.nextProbeAt;
}

/**
 * The server a fresh query should probe, if any: with chance 1 in
 * {@link PROBE_CHANCE} (`random` in [0, 1)), the healthiest failed server
 * other than `asking` whose probe time has come and that has no probe out.
 */
export function probeTarget<T extends { readonly health: ServerHealth }>(servers: readonly T[], asking: T, now: number, random: () => number): T | undefined {
  let candidate: T | undefined;
  for (const server of servers) {
    const { health } = server;
    if (server === asking || health.healthy || health.probing || health.nextProbeAt > now) continue;
    if (!candidate || ranksBefore(health, candidate.health)) candidate = server;
  }
  if (!candidate || random() * PROBE_CHANCE >= 1) return undefined;
  return candidate;
}
