import type { QueryGate } from './query-gate.js';
import { ServerHealth } from './server-health.js';
import { LatencyMetrics, baseTryTimeoutMs } from './server-metrics.js';
import type { Nameserver } from './types.js';
import type { UdpLane } from './udp-lane.js';

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

/** Everything a client keeps about one nameserver: its sockets, its gate, its latency and its health. */
export class NameserverState {
  readonly latency = new LatencyMetrics();
  readonly health = new ServerHealth();
  /** Its last usable reply, on the client's clock. */
  lastAnswerAt = -Infinity;
  /** Timed-out tries still listening. */
  lingering = 0;

  constructor(
    readonly server: Nameserver,
    /** `host:port` for messages. */
    readonly label: string,
    readonly udp: UdpLane,
    readonly gate: QueryGate,
    private readonly configuredTimeoutMs: number,
  ) {}

  /** The first round's try timeout now (see server-metrics.ts). */
  baseTimeoutMs(now: number): number {
    return baseTryTimeoutMs(this.latency.averageMs(now), this.configuredTimeoutMs);
  }

  /** A NOERROR or NXDOMAIN reply that took `latencyMs`. */
  answered(latencyMs: number, now: number): void {
    this.latency.record(latencyMs, now);
    this.health.good();
    this.lastAnswerAt = now;
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
