import type dgram from 'node:dgram';
import { INITIAL_IN_FLIGHT_PER_NAMESERVER, QueryGate } from './query-gate.js';
import { formatNameserver } from './resolv-conf.js';
import { ServerHealth } from './server-health.js';
import { LatencyMetrics, baseTryTimeoutMs } from './server-metrics.js';
import type { Timers } from './timers.js';
import type { Nameserver } from './types.js';
import { UdpLane, type UdpPort } from './udp-lane.js';
import { RCODE, usableRcode } from './wire.js';

/** SERVFAIL, REFUSED and NOTIMP move a query on to the next server and count against this one's health (c-ares). */
const FAILING_RCODES: ReadonlySet<number> = new Set([RCODE.SERVFAIL, RCODE.REFUSED, RCODE.NOTIMP]);

/** One nameserver as a client sees it now (see `DnsClient.servers()`). */
export interface NameserverStatus {
  /** `host:port`, `[v6]:port` for IPv6. */
  server: string;
  /** The timeout a first try to it uses now, ms: from its measured latency, within [250 ms, the configured timeout]. */
  timeoutMs: number;
  /** Its average reply latency over the window the timeout is taken from, ms; null before 3 replies. */
  latencyMs: number | null;
  /** Consecutive failures (timeouts, SERVFAIL, REFUSED, socket errors); 0 is healthy. */
  failures: number;
  healthy: boolean;
  /** When a failed server may next be probed, on the client's clock (`Timers.now()`); null while healthy. */
  nextProbeAt: number | null;
  /** Tries in flight to it now (UDP, and the TCP fallback holding the same slot). */
  inFlight: number;
  /** Tries in flight it may have now (the gate's limit). */
  inFlightLimit: number;
  /** Tries waiting in line for a slot. */
  queued: number;
  /** Tries that timed out and still listen for a late reply (until the configured timeout). */
  lingering: number;
  /** UDP sockets open to it (current and retired). */
  udpSockets: number;
}

/** The status of a nameserver no query has asked yet: the configured timeout, nothing measured, healthy. */
export function unaskedStatus(server: Nameserver, timeoutMs: number): NameserverStatus {
  const status = { server: formatNameserver(server), timeoutMs, latencyMs: null, failures: 0, healthy: true, nextProbeAt: null };
  return { ...status, inFlight: 0, inFlightLimit: INITIAL_IN_FLIGHT_PER_NAMESERVER, queued: 0, lingering: 0, udpSockets: 0 };
}

/** What every nameserver of one client shares: the configured timeout, the clock and the limits of its lanes and gates. */
export interface NameserverSettings {
  timeoutMs: number;
  timers: Timers;
  lane: ConstructorParameters<typeof UdpLane>[1];
  maxInFlight: number;
  maxQueued: number;
}

/** Datagrams and socket errors on a nameserver's UDP sockets, with the nameserver they came from. */
interface NameserverEvents {
  message(state: NameserverState, port: UdpPort, message: Buffer, remote: dgram.RemoteInfo): void;
  error(state: NameserverState, port: UdpPort, error: NodeJS.ErrnoException): void;
}

/** Everything a client keeps about one nameserver: its sockets, its gate, its latency and its health. */
export class NameserverState {
  readonly latency = new LatencyMetrics();
  readonly health = new ServerHealth();
  /** Its last usable reply, on the client's clock. */
  lastAnswerAt = -Infinity;
  /** Timed-out tries still listening. */
  lingering = 0;

  /** `host:port` for messages. */
  readonly label: string;
  readonly udp: UdpLane;
  readonly gate: QueryGate;

  constructor(
    readonly server: Nameserver,
    private readonly settings: NameserverSettings,
    events: NameserverEvents,
  ) {
    this.label = formatNameserver(server);
    this.udp = new UdpLane(server, settings.lane, {
      message: (port, message, remote) => events.message(this, port, message, remote),
      error: (port, error) => events.error(this, port, error),
    });
    const { timers, timeoutMs } = settings;
    // A server that answered within a timeout is alive: a long line then means this process is slow, not the server dead.
    const answering = (): boolean => timers.now() - this.lastAnswerAt <= timeoutMs;
    const { maxInFlight, maxQueued } = settings;
    this.gate = new QueryGate({ initialLimit: INITIAL_IN_FLIGHT_PER_NAMESERVER, maxLimit: maxInFlight, maxQueued, maxWaitMs: timeoutMs, timers, answering });
  }

  /**
   * Answering, as far as this client knows: its last try did not fail and
   * its reply time is measured (it has answered several times). Silence
   * from such a server is most likely a lost datagram (query-rounds.ts).
   */
  answering(now: number): boolean {
    return this.health.healthy && this.latency.averageMs(now) !== null;
  }

  /** The first round's try timeout now (see server-metrics.ts). */
  baseTimeoutMs(now: number): number {
    return baseTryTimeoutMs(this.latency.averageMs(now), this.settings.timeoutMs);
  }

  /**
   * A validated reply with `rcode` that took `latencyMs`: NOERROR and
   * NXDOMAIN measure the server and open its gate further; SERVFAIL, REFUSED
   * and NOTIMP count against its health (c-ares); any other rcode is a
   * server that answers.
   */
  replied(rcode: number, latencyMs: number, now: number): void {
    if (usableRcode(rcode)) {
      this.latency.record(latencyMs, now);
      this.health.good();
      this.lastAnswerAt = now;
      this.gate.answered();
    } else if (FAILING_RCODES.has(rcode)) this.health.failed(now);
    else this.health.good();
  }

  status(now: number): NameserverStatus {
    const { health, gate } = this;
    return {
      server: this.label,
      timeoutMs: this.baseTimeoutMs(now),
      latencyMs: this.latency.averageMs(now),
      failures: health.failures,
      healthy: health.healthy,
      nextProbeAt: health.healthy ? null : health.nextProbeAt,
      inFlight: gate.active,
      inFlightLimit: gate.limit,
      queued: gate.queued,
      lingering: this.lingering,
      udpSockets: this.udp.socketCount,
    };
  }
}
