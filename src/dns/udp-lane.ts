import dgram from 'node:dgram';
import net from 'node:net';
import type { TimerHandle, Timers } from './timers.js';
import type { Nameserver } from './types.js';

/** One UDP socket connected to one nameserver: one source port, shared by the queries sent from it. */
export interface UdpPort {
  readonly socket: dgram.Socket;
  /** Queries sent from this port so far. */
  sent: number;
  /** Queries sent from this port and not yet settled: with none, it must not keep the process alive. */
  inFlight: number;
  /** Served its time ({@link UdpLaneSettings.maxAgeMs}): replaced at the next query if the socket bound allows. */
  expired: boolean;
  /** No new query leaves from it; it closes when `inFlight` reaches 0. */
  retired: boolean;
  closed: boolean;
  /** Datagrams waiting for `connect()` to finish; null once connected. */
  backlog: Array<{ message: Buffer; onError: (error: Error) => void }> | null;
  ageTimer: TimerHandle;
}

interface UdpLaneSettings {
  maxQueriesPerPort: number;
  maxAgeMs: number;
  maxSockets: number;
  timers: Timers;
}

interface UdpLaneEvents {
  message(port: UdpPort, message: Buffer, remote: dgram.RemoteInfo): void;
  /**
   * A socket error; the lane has already closed the port unless the error was
   * ECONNREFUSED (an ICMP port unreachable, read from the socket or returned by a send).
   */
  error(port: UdpPort, error: NodeJS.ErrnoException): void;
}

/**
 * Which current socket a query leaves from: one for A, one for AAAA. The two
 * queries of one poll then never share a source port, so they are two flows
 * to the kernel's connection tracking, not two packets racing to create the
 * same entry (Kubernetes' conntrack race, where one of A/AAAA sent together
 * from one socket through a DNAT'ed Service address is dropped, and glibc's
 * `single-request-reopen` workaround: the second query from a fresh socket).
 */
export type PortSlot = 0 | 1;

/**
 * Source-port rotation. RFC 5452 asks for an unpredictable source port
 * per query, so an off-path forger must guess it as well as the 16-bit id; a
 * socket per query costs a bind per query and one descriptor per concurrent
 * query. We take the middle way (c-ares' `udp_max_queries`, port pools in
 * recursive resolvers): a UDP socket, bound by the kernel to a random
 * ephemeral port, serves at most this many queries and lives at most
 * {@link UDP_PORT_MAX_AGE_MS}; then the next query opens a fresh one. A and
 * AAAA leave from sockets of their own ({@link PortSlot}), so at a 5 s poll of one
 * name the age bound rotates each every other poll; a busy process (many
 * names) rotates every 16 queries of each type. A port that leaves service
 * closes as soon as its in-flight queries settle; while
 * {@link MAX_UDP_SOCKETS_PER_NAMESERVER} are open the current ports serve on
 * instead of rotating.
 */
export const UDP_PORT_MAX_QUERIES = 16;
/** See {@link UDP_PORT_MAX_QUERIES}: bounds how long a discovered port (port scan, SAD DNS side channel) stays useful. */
export const UDP_PORT_MAX_AGE_MS = 10_000;

/**
 * UDP sockets open at once per nameserver: the current ones (one for A, one
 * for AAAA) and up to two retired ones still waiting for replies. With a
 * server that answers, a retired socket closes within a round trip and two
 * sockets are open; with a dead one, retired sockets wait for their queries'
 * timeouts, and without this bound a busy process would hold one socket per
 * 16 queries in flight (3,752 with 30,000 names). resolv.conf names at most
 * 3 nameservers, so a client holds at most 12 UDP sockets.
 */
export const MAX_UDP_SOCKETS_PER_NAMESERVER = 4;

/**
 * The UDP sockets that talk to one nameserver. Each is *connected* to it
 * (`connect()`): the kernel then delivers only that server's datagrams to it,
 * the per-send address lookup is gone, and an ICMP port unreachable comes
 * back as ECONNREFUSED (Linux reports ICMP errors only on connected UDP
 * sockets), so a closed port fails the try at once instead of at the timeout.
 *
 * Source-port rotation (RFC 5452): a current socket (one per {@link PortSlot})
 * serves at most `maxQueriesPerPort` queries and lives at most `maxAgeMs`;
 * then the next query opens a fresh one, bound by the kernel to a random
 * ephemeral port, and the old one closes once its in-flight queries settle.
 * A try that timed out retires its socket at once ({@link retire}, as c-ares
 * does): a lost datagram may mean a broken path for that source port (a
 * stale conntrack entry to a pod that is gone), and the retry should not
 * take the same path. At most `maxSockets` are open (current and retired
 * together): while that many are open, rotation waits and the current
 * sockets keep serving, so a dead server with thousands of queries in flight
 * costs `maxSockets` descriptors, not one per `maxQueriesPerPort` queries. A
 * retired socket still receives the replies to its queries in flight, then
 * closes; at the bound a timed-out socket keeps serving (a retry from a known
 * port beats none), and a slot without a socket borrows an open one.
 */
export class UdpLane {
  /** Each slot's current socket. */
  private readonly current: [UdpPort | null, UdpPort | null] = [null, null];
  /** The nameserver's family, found once (net.isIPv6 is a long regular expression; a lane opens a socket every 16 queries). */
  private readonly family: 4 | 6;
  /** Sockets not closed yet: the bound counts these. */
  private readonly open = new Set<UdpPort>();

  constructor(
    readonly server: Nameserver,
    private readonly settings: UdpLaneSettings,
    private readonly events: UdpLaneEvents,
  ) {
    this.family = net.isIPv6(server.host) ? 6 : 4;
  }

  /** The port the next query of `slot` leaves from, counted as in flight until {@link release}. */
  take(slot: PortSlot): UdpPort {
    let port = this.current[slot];
    const room = this.open.size < this.settings.maxSockets;
    if (port && room && (port.sent >= this.settings.maxQueriesPerPort || port.expired)) {
      this.retire(port);
      port = null;
    }
    // At the bound a slot without a socket borrows one that is open (the other slot's, or a retired one still receiving).
    port ??= (room ? undefined : this.openPortToBorrow(slot)) ?? this.openPort(slot);
    port.sent++;
    // A query in flight keeps the process alive until it settles (bounded by the timeout).
    if (port.inFlight++ === 0) port.socket.ref();
    return port;
  }

  release(port: UdpPort): void {
    if (--port.inFlight > 0) return;
    // A port that served its queries or its time closes as soon as it is idle.
    if (port.retired || port.expired || port.sent >= this.settings.maxQueriesPerPort) this.closePort(port);
    else port.socket.unref();
  }

  send(port: UdpPort, message: Buffer, onError: (error: Error) => void): void {
    if (port.backlog) {
      port.backlog.push({ message, onError });
      return;
    }
    port.socket.send(message, (error: NodeJS.ErrnoException | null) => {
      if (!error) return;
      // The kernel hands an ICMP port unreachable to whichever call comes
      // next on the socket: a read (the 'error' event) or this send. Either
      // way nothing listens there, so it is reported one way.
      if (error.code === 'ECONNREFUSED') this.events.error(port, error);
      else onError(error);
    });
  }

  /** Open sockets, retired ones included. */
  get socketCount(): number {
    return this.open.size;
  }

  close(): void {
    for (const port of [...this.open]) this.closePort(port);
  }

  /** No new query from `port` (unless at the socket bound: see the notes above). */
  retire(port: UdpPort): void {
    const slot = this.current.indexOf(port);
    if (slot !== -1 && this.open.size >= this.settings.maxSockets) return;
    if (slot !== -1) this.current[slot] = null;
    port.retired = true;
    if (port.inFlight === 0) this.closePort(port);
  }

  private openPortToBorrow(slot: PortSlot): UdpPort | undefined {
    // The other slot's socket, else any open one (a closed socket has already left `open`).
    return this.current[slot === 0 ? 1 : 0] ?? this.open.values().next().value;
  }

  private openPort(slot: PortSlot): UdpPort {
    const { server, settings } = this;
    const socket = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', lookup: literalLookup });
    const port: UdpPort = {
      socket,
      sent: 0,
      inFlight: 0,
      expired: false,
      retired: false,
      closed: false,
      backlog: [],
      ageTimer: settings.timers.setTimeout(() => this.expire(port), settings.maxAgeMs),
    };
    port.ageTimer.unref?.();
    socket.on('message', (message, remote) => this.events.message(port, message, remote));
    // A socket-level error must never escape as an uncaught exception.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNREFUSED') this.closePort(port);
      this.events.error(port, error);
    });
    // Bound implicitly by connect(), to a kernel-chosen random ephemeral port.
    // dgram hands a failed connect to this callback (not to 'error').
    const onConnect = (error?: NodeJS.ErrnoException | null): void => {
      const backlog = port.backlog ?? [];
      port.backlog = null;
      if (port.closed) return;
      if (error) {
        this.closePort(port);
        this.events.error(port, error);
        return;
      }
      for (const { message, onError } of backlog) this.send(port, message, onError);
    };
    socket.connect(server.port, server.host, onConnect);
    socket.unref();
    this.current[slot] = port;
    this.open.add(port);
    return port;
  }

  /** At its age an idle port closes; a busy one is replaced at the next query (see {@link take}). */
  private expire(port: UdpPort): void {
    port.expired = true;
    if (port.inFlight === 0) this.closePort(port);
  }

  private closePort(port: UdpPort): void {
    if (port.closed) return;
    port.closed = true;
    port.retired = true;
    this.settings.timers.clearTimeout(port.ageTimer);
    const slot = this.current.indexOf(port);
    if (slot !== -1) this.current[slot] = null;
    // close() releases the descriptor at once (libuv closes it in uv_close; only the handle waits for its
    // callback), so a closing socket no longer counts: had it counted, a lane whose sockets were all closing
    // in one turn would have opened one past the bound anyway, having none to borrow.
    this.open.delete(port);
    try {
      port.socket.close();
    } catch {
      // Already closed by the runtime (an error during bind): nothing left to release.
    }
  }
}

/**
 * dgram resolves the address of bind() and connect() through dns.lookup even
 * for an IP literal (a regular expression and a deferred callback each); a
 * nameserver is always a literal (resolv-conf.ts parses it so), and so is the
 * wildcard address dgram binds to, so the address is its own answer.
 */
function literalLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}
