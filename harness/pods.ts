/**
 * A fleet of real gRPC "pods" for tests and demos.
 *
 * Every pod is a real `@grpc/grpc-js` server bound to its own loopback address
 * (127.0.0.2, 127.0.0.3, …) and all pods share ONE port — like the pods of a
 * Kubernetes Deployment behind a headless Service with a single targetPort.
 * Their addresses are what a test DNS server hands out as A records.
 *
 * The service is defined by hand (no .proto, no proto-loader): one unary
 * method `/demo.Pod/WhoAmI` that takes an empty request and answers with the
 * pod's address as utf8 bytes, so a client can count which pod served it.
 *
 * No vitest imports here: a demo script imports this file as well.
 */
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import * as defaultGrpc from '@grpc/grpc-js';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

// ---------------------------------------------------------------------------
// grpc library shape
// ---------------------------------------------------------------------------

/**
 * The part of a `@grpc/grpc-js` module used here. Structural, so that older
 * copies (`grpc-js-1.8`, `grpc-js-1.10`, …) are accepted too: their classes have
 * private members, which makes `typeof import('grpc-js-1.8')` not assignable to
 * `typeof import('@grpc/grpc-js')`.
 */
export interface GrpcLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Server: new (options?: any) => any;
  ServerCredentials: { createInsecure(): unknown };
  credentials: { createInsecure(): unknown };
  makeGenericClientConstructor(
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    methods: any,
    serviceName: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    classOptions?: any,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): new (address: string, credentials: any, options?: any) => any;
  status: object;
}

/** What this file needs from a grpc-js Server (stable from 1.8 to 1.14). */
interface ServerLike {
  addService(service: ServiceDefinition, implementation: Record<string, unknown>): void;
  bindAsync(port: string, creds: unknown, callback: (error: Error | null, port: number) => void): void;
  start?(): void;
  unbind?(port: string): void;
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

interface ServiceErrorLike extends Error {
  code?: number;
  details?: string;
}

type UnaryCallback = (error: ServiceErrorLike | null, value?: Buffer) => void;

interface PodServiceClientLike {
  WhoAmI(request: Buffer, options: { deadline: Date }, callback: UnaryCallback): unknown;
  close(): void;
}

// ---------------------------------------------------------------------------
// service definition
// ---------------------------------------------------------------------------

const identity = (value: Buffer): Buffer => value;

export const WHO_AM_I_PATH = '/demo.Pod/WhoAmI';

/** The hand-written service: `demo.Pod/WhoAmI`, raw Buffers both ways. */
export const POD_SERVICE: ServiceDefinition<{ WhoAmI: MethodDefinition<Buffer, Buffer> }> = {
  WhoAmI: {
    path: WHO_AM_I_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'whoAmI',
  },
};

// ---------------------------------------------------------------------------
// small helpers
// ---------------------------------------------------------------------------

/** Last octets 1..254 of 127.0.0.x, then 127.0.1.1, … (never .0 or .255). */
export function podHost(index: number): string {
  const third = Math.floor((index - 1) / 254);
  const fourth = ((index - 1) % 254) + 1;
  if (!Number.isInteger(index) || index < 1 || third > 255) {
    throw new RangeError(`pod host index ${index} is outside 127.0.0.1 … 127.0.255.254`);
  }
  return `127.0.${third}.${fourth}`;
}

/** Try to listen on host:port with a plain TCP server; the bound port, or the error code. */
function probeListen(host: string, port: number): Promise<{ port: number } | { code: string }> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      resolve({ code: error.code ?? error.message });
    });
    server.listen({ host, port, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      server.close(() => resolve({ port: bound }));
    });
  });
}

function statusName(grpc: GrpcLike, code: number | undefined): string {
  if (code === undefined) return 'ERROR';
  const name = (grpc.status as Record<number, unknown>)[code];
  return typeof name === 'string' ? name : `code ${code}`;
}

function describeError(grpc: GrpcLike, error: ServiceErrorLike): string {
  return `${statusName(grpc, error.code)}: ${error.details ?? error.message}`;
}

function formatCounts(byPod: Map<string, number>): string {
  if (byPod.size === 0) return '{}';
  const entries = [...byPod.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return `{ ${entries.map(([host, n]) => `${host}: ${n}`).join(', ')} }`;
}

const MAX_DISTINCT_ERRORS = 20;

/** Counts per pod plus failures with the first distinct error strings. */
class Tally {
  total = 0;
  failed = 0;
  readonly byPod = new Map<string, number>();
  readonly errors: string[] = [];

  ok(host: string): void {
    this.total++;
    this.byPod.set(host, (this.byPod.get(host) ?? 0) + 1);
  }

  fail(message: string): void {
    this.total++;
    this.failed++;
    if (this.errors.length < MAX_DISTINCT_ERRORS && !this.errors.includes(message)) {
      this.errors.push(message);
    }
  }
}

// ---------------------------------------------------------------------------
// Pod
// ---------------------------------------------------------------------------

export type PodState = 'running' | 'stopping' | 'stopped' | 'killed';

export class Pod {
  readonly host: string;
  private _port: number;
  /** RPCs answered by this pod. */
  served = 0;
  /** Delay before answering each RPC (ms); > 0 keeps RPCs in flight, e.g. across a graceful stop. */
  delayMs = 0;
  private _state: PodState = 'running';
  private _inFlight = 0;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private stopping: Promise<void> | undefined;
  private readonly grpcServer: ServerLike;

  private constructor(host: string, port: number, server: ServerLike) {
    this.host = host;
    this._port = port;
    this.grpcServer = server;
  }

  get port(): number {
    return this._port;
  }

  /** `host:port` of this pod. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** False as soon as a stop or kill began (a terminating pod leaves the endpoints at once). */
  get running(): boolean {
    return this._state === 'running';
  }

  /** RPCs received and not answered yet (only > 0 with delayMs). */
  get inFlight(): number {
    return this._inFlight;
  }

  get state(): PodState {
    return this._state;
  }

  /** The underlying grpc-js Server (of whichever grpc-js copy the fleet uses). */
  get server(): unknown {
    return this.grpcServer;
  }

  /**
   * Start one pod on host:port. Rejects with a clear message when the address is
   * taken (the code of the underlying error is on `error.code`, e.g. EADDRINUSE).
   */
  static async start(
    host: string,
    port: number,
    grpc: GrpcLike = defaultGrpc,
    serverOptions: Record<string, unknown> = {},
  ): Promise<Pod> {
    const server = new grpc.Server(serverOptions) as ServerLike;
    const pod = new Pod(host, port, server);
    server.addService(POD_SERVICE, {
      WhoAmI: (_call: unknown, callback: (error: Error | null, value?: Buffer) => void) => {
        pod._inFlight++;
        const answer = () => {
          pod._inFlight--;
          pod.served++;
          callback(null, Buffer.from(pod.host, 'utf8'));
        };
        if (pod.delayMs > 0) {
          const timer = setTimeout(() => {
            pod.delayed.delete(timer);
            answer();
          }, pod.delayMs);
          pod.delayed.add(timer);
        } else {
          answer();
        }
      },
    });
    let boundPort: number;
    try {
      boundPort = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) => {
          if (error) reject(error);
          else resolve(actual);
        });
      });
    } catch (error) {
      server.forceShutdown();
      // grpc-js 1.8 does not say why a bind failed; ask the kernel directly.
      const probe = await probeListen(host, port);
      const code = 'code' in probe ? probe.code : undefined;
      const why =
        code === 'EADDRINUSE'
          ? `${host}:${port} is already in use (EADDRINUSE): another process listens on this port on that address or on 0.0.0.0`
          : code === 'EADDRNOTAVAIL'
            ? `${host} is not a local address (EADDRNOTAVAIL)`
            : `${host}:${port}: ${(error as Error).message}`;
      const wrapped = new Error(`cannot start pod: ${why}`, { cause: error });
      (wrapped as NodeJS.ErrnoException).code = code ?? 'EBIND';
      throw wrapped;
    }
    // grpc-js >= 1.10 starts serving in bindAsync and deprecates start();
    // older versions (no Server#unbind) drop every session until start() is called.
    if (typeof server.unbind !== 'function' && typeof server.start === 'function') {
      server.start();
    }
    pod._port = boundPort;
    return pod;
  }

  /**
   * server.tryShutdown: stop accepting connections, send GOAWAY on existing
   * ones, let in-flight RPCs finish. Bounded: after `graceMs` (default 10 s,
   * like a termination grace period) the pod is killed.
   */
  stopGracefully(graceMs = 10_000): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this._state !== 'running') return Promise.resolve();
    this._state = 'stopping';
    this.stopping = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.kill();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        if (this._state === 'stopping') this._state = 'stopped';
        resolve();
      });
    });
    return this.stopping;
  }

  /** server.forceShutdown: hard kill, listener closed and connections reset. */
  kill(): void {
    if (this._state === 'stopped' || this._state === 'killed') return;
    this._state = 'killed';
    this.grpcServer.forceShutdown();
    // delayed answers die with the pod
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    this._inFlight = 0;
  }
}

// ---------------------------------------------------------------------------
// PodFleet
// ---------------------------------------------------------------------------

export interface PodFleetOptions {
  /** Port shared by all pods; 0 (default) picks one that is free on the first pod addresses. */
  port?: number;
  /** Server library; default `@grpc/grpc-js`. */
  grpc?: GrpcLike;
  /** Last octet of the first pod address (127.0.0.N); default 2. */
  firstHost?: number;
  /** Pods to start right away; default 0. */
  pods?: number;
  /** Options for every pod's grpc Server (e.g. 'grpc.max_connection_age_ms'). */
  serverOptions?: Record<string, unknown>;
}

/** How many following addresses a picked port is checked on. */
const PORT_CHECK_SPAN = 16;
const PORT_PICK_ATTEMPTS = 20;

export class PodFleet {
  private _port: number;
  private readonly autoPort: boolean;
  private readonly grpc: GrpcLike;
  private readonly firstHost: number;
  private readonly serverOptions: Record<string, unknown>;
  private nextIndex: number;
  private readonly all: Pod[] = [];
  private closed = false;

  private constructor(options: Required<Omit<PodFleetOptions, 'pods'>>, autoPort: boolean) {
    this._port = options.port;
    this.autoPort = autoPort;
    this.grpc = options.grpc;
    this.firstHost = options.firstHost;
    this.nextIndex = options.firstHost;
    this.serverOptions = options.serverOptions;
  }

  static async create(options: PodFleetOptions = {}): Promise<PodFleet> {
    const firstHost = options.firstHost ?? 2;
    if (!Number.isInteger(firstHost) || firstHost < 1 || firstHost > 254) {
      throw new RangeError(`PodFleet: firstHost must be an integer in 1..254, got ${String(options.firstHost)}`);
    }
    const requested = options.port ?? 0;
    if (!Number.isInteger(requested) || requested < 0 || requested > 65535) {
      throw new RangeError(`PodFleet: port must be an integer in 0..65535, got ${String(options.port)}`);
    }
    const port = requested === 0 ? await PodFleet.pickPort(firstHost) : requested;
    const fleet = new PodFleet(
      { port, grpc: options.grpc ?? defaultGrpc, firstHost, serverOptions: options.serverOptions ?? {} },
      requested === 0,
    );
    if (options.pods && options.pods > 0) {
      try {
        await fleet.add(options.pods);
      } catch (error) {
        await fleet.close();
        throw error;
      }
    }
    return fleet;
  }

  /** A port the kernel hands out on the first address and that is free on the next ones too. */
  private static async pickPort(firstHost: number): Promise<number> {
    let lastProblem = '';
    for (let attempt = 0; attempt < PORT_PICK_ATTEMPTS; attempt++) {
      const first = await probeListen(podHost(firstHost), 0);
      if ('code' in first) {
        throw new Error(`PodFleet: cannot listen on ${podHost(firstHost)}: ${first.code}`);
      }
      let free = true;
      for (let i = firstHost + 1; i < firstHost + PORT_CHECK_SPAN; i++) {
        const probe = await probeListen(podHost(i), first.port);
        if ('code' in probe) {
          free = false;
          lastProblem = `${podHost(i)}:${first.port} ${probe.code}`;
          break;
        }
      }
      if (free) return first.port;
    }
    throw new Error(`PodFleet: no port free on ${PORT_CHECK_SPAN} pod addresses after ${PORT_PICK_ATTEMPTS} tries (last: ${lastProblem})`);
  }

  /** The port every pod listens on. */
  get port(): number {
    return this._port;
  }

  /**
   * Start `count` new pods on the next unused addresses. An address is never
   * reused within one fleet: like new pods, new pods get new IPs.
   */
  async add(count = 1): Promise<Pod[]> {
    if (this.closed) throw new Error('PodFleet: add() after close()');
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`PodFleet: add(count) needs an integer >= 0, got ${count}`);
    const started: Pod[] = [];
    let repicks = 0;
    for (let n = 0; n < count; n++) {
      const host = podHost(this.nextIndex++);
      let pod: Pod;
      try {
        pod = await Pod.start(host, this._port, this.grpc, this.serverOptions);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' && this.autoPort && this.all.length === 0 && started.length === 0 && repicks++ < 5) {
          // Nobody relies on the auto-picked port yet: pick another and retry this address.
          this._port = await PodFleet.pickPort(this.nextIndex - 1);
          this.nextIndex--;
          n--;
          continue;
        }
        throw new Error(
          `PodFleet: ${(error as Error).message} (pod ${started.length + 1} of ${count} in this add(); ` +
            `all pods share port ${this._port}, so this address cannot join the fleet)`,
          { cause: error },
        );
      }
      if (this.closed) {
        // close() ran while this pod was binding.
        pod.kill();
        throw new Error('PodFleet: closed while add() was starting pods');
      }
      this.all.push(pod);
      started.push(pod);
    }
    return started;
  }

  /** Running pods (stopping or killed pods are gone, as from a Service's endpoints). */
  get pods(): Pod[] {
    return this.all.filter((pod) => pod.running);
  }

  /** Hosts of the running pods: the A records of the headless Service. */
  get addresses(): string[] {
    return this.pods.map((pod) => pod.host);
  }

  /** Every pod ever started by this fleet, including stopped ones. */
  get history(): readonly Pod[] {
    return this.all;
  }

  get(host: string): Pod | undefined {
    return this.all.find((pod) => pod.host === host);
  }

  /** An `ipv4:` target listing the running pods (grpc-js built-in, no DNS). */
  ipv4Target(): string {
    return `ipv4:${this.pods.map((pod) => pod.address).join(',')}`;
  }

  /** Force-shut every pod; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pod of this.all) pod.kill();
    // forceShutdown closes listeners and destroys sessions synchronously;
    // their handles go away within the next turns of the event loop.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

// ---------------------------------------------------------------------------
// client
// ---------------------------------------------------------------------------

export interface LoadReport {
  /** RPCs finished (answered + failed). */
  total: number;
  failed: number;
  byPod: Map<string, number>;
  /** First ~20 distinct "CODE_NAME: details". */
  errors: string[];
  /** ms since the load started at which each pod answered first / last. */
  firstSeenMs: Map<string, number>;
  lastSeenMs: Map<string, number>;
  /** ms since the load started at which RPCs first / last failed (undefined: none). */
  firstFailureMs: number | undefined;
  lastFailureMs: number | undefined;
  elapsedMs: number;
  /** The load stopped itself because maxMs passed. */
  hitMaxMs: boolean;
}

export interface BurstResult {
  byPod: Map<string, number>;
  failed: number;
  errors: string[];
}

export interface LoadHandle {
  /** Stop after the RPC in flight; the final report. */
  stop(): Promise<LoadReport>;
  /** Counts so far (copies). */
  snapshot(): LoadReport;
  /** Settles with the final report when the load ends (stop(), close() or maxMs). */
  readonly done: Promise<LoadReport>;
}

export interface PodClientOptions {
  grpc?: GrpcLike;
  channelOptions?: Record<string, unknown>;
  /** Default true: 'grpc.service_config' with loadBalancingConfig round_robin. */
  roundRobin?: boolean;
}

export interface PodClient {
  readonly target: string;
  /** The underlying grpc-js client (of whichever grpc-js copy was given). */
  readonly grpcClient: unknown;
  /** One RPC; resolves with the pod's address, rejects with the grpc error (code, details). */
  whoAmI(deadlineMs?: number): Promise<string>;
  /** `count` RPCs with `concurrency` (default 1) workers; per-pod counts and failures. */
  burst(count: number, options?: { concurrency?: number; deadlineMs?: number }): Promise<BurstResult>;
  /**
   * Send windows of `windowRpcs` (default 20) RPCs until predicate(byPod of the
   * last window) holds; resolves with elapsed ms; rejects after `timeoutMs`
   * (default 10 s) with the last window's counts and errors.
   */
  waitUntil(
    predicate: (byPod: Map<string, number>, window: BurstResult) => boolean,
    options?: { timeoutMs?: number; windowRpcs?: number; pauseMs?: number },
  ): Promise<number>;
  /** Sequential RPCs in the background until stop() or maxMs (default 60 s). */
  startLoad(options?: { intervalMs?: number; deadlineMs?: number; maxMs?: number }): LoadHandle;
  close(): void;
}

export function createPodClient(target: string, options: PodClientOptions = {}): PodClient {
  return new PodClientImpl(target, options);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class PodClientImpl implements PodClient {
  readonly target: string;
  private readonly grpc: GrpcLike;
  private readonly client: PodServiceClientLike;
  readonly grpcClient: unknown;
  private readonly loads = new Set<() => void>();
  private closed = false;

  constructor(target: string, options: PodClientOptions) {
    this.target = target;
    this.grpc = options.grpc ?? defaultGrpc;
    const channelOptions: Record<string, unknown> = {};
    if (options.roundRobin ?? true) {
      channelOptions['grpc.service_config'] = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });
    }
    Object.assign(channelOptions, options.channelOptions);
    const Client = this.grpc.makeGenericClientConstructor(POD_SERVICE, 'demo.Pod');
    this.client = new Client(target, this.grpc.credentials.createInsecure(), channelOptions) as PodServiceClientLike;
    this.grpcClient = this.client;
  }

  whoAmI(deadlineMs = 1000): Promise<string> {
    return new Promise((resolve, reject) => {
      this.client.WhoAmI(Buffer.alloc(0), { deadline: new Date(Date.now() + deadlineMs) }, (error, value) => {
        if (error) reject(error);
        else resolve((value ?? Buffer.alloc(0)).toString('utf8'));
      });
    });
  }

  /** One RPC into a tally; never rejects. */
  private async once(tally: Tally, deadlineMs: number): Promise<{ host?: string; error?: string }> {
    try {
      const host = await this.whoAmI(deadlineMs);
      tally.ok(host);
      return { host };
    } catch (error) {
      const message = describeError(this.grpc, error as ServiceErrorLike);
      tally.fail(message);
      return { error: message };
    }
  }

  async burst(count: number, options: { concurrency?: number; deadlineMs?: number } = {}): Promise<BurstResult> {
    const concurrency = Math.max(1, Math.min(options.concurrency ?? 1, count));
    const deadlineMs = options.deadlineMs ?? 1000;
    const tally = new Tally();
    let issued = 0;
    const worker = async () => {
      while (issued < count) {
        issued++;
        await this.once(tally, deadlineMs);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return { byPod: tally.byPod, failed: tally.failed, errors: tally.errors };
  }

  async waitUntil(
    predicate: (byPod: Map<string, number>, window: BurstResult) => boolean,
    options: { timeoutMs?: number; windowRpcs?: number; pauseMs?: number } = {},
  ): Promise<number> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const windowRpcs = options.windowRpcs ?? 20;
    const pauseMs = options.pauseMs ?? 10;
    const start = performance.now();
    let windows = 0;
    let last: BurstResult | undefined;
    for (;;) {
      const remaining = timeoutMs - (performance.now() - start);
      if (remaining <= 0) break;
      last = await this.burst(windowRpcs, { deadlineMs: Math.max(1, Math.min(1000, Math.ceil(remaining))) });
      windows++;
      if (predicate(last.byPod, last)) return performance.now() - start;
      const left = timeoutMs - (performance.now() - start);
      if (left <= 0) break;
      await pause(Math.min(pauseMs, left));
    }
    const detail = last
      ? `last window of ${windowRpcs} RPCs: ${formatCounts(last.byPod)}, failed ${last.failed}` +
        (last.errors.length ? ` (${last.errors.join('; ')})` : '')
      : 'no window completed';
    throw new Error(`waitUntil(${this.target}): condition not met within ${timeoutMs} ms after ${windows} windows; ${detail}`);
  }

  startLoad(options: { intervalMs?: number; deadlineMs?: number; maxMs?: number } = {}): LoadHandle {
    const intervalMs = options.intervalMs ?? 10;
    const deadlineMs = options.deadlineMs ?? 1000;
    const maxMs = options.maxMs ?? 60_000;
    const start = performance.now();
    const tally = new Tally();
    const firstSeenMs = new Map<string, number>();
    const lastSeenMs = new Map<string, number>();
    let firstFailureMs: number | undefined;
    let lastFailureMs: number | undefined;
    let stopped = false;
    let hitMaxMs = false;
    let endedAt: number | undefined;
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;

    const halt = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      wake?.();
    };
    this.loads.add(halt);

    const loop = async () => {
      while (!stopped && !this.closed) {
        const elapsed = performance.now() - start;
        if (elapsed >= maxMs) {
          hitMaxMs = true;
          break;
        }
        // No RPC starts after maxMs; the last one may run up to deadlineMs past it.
        const result = await this.once(tally, deadlineMs);
        const at = performance.now() - start;
        if (result.host !== undefined) {
          if (!firstSeenMs.has(result.host)) firstSeenMs.set(result.host, at);
          lastSeenMs.set(result.host, at);
        } else {
          firstFailureMs ??= at;
          lastFailureMs = at;
        }
        if (stopped || intervalMs <= 0) continue;
        await new Promise<void>((resolve) => {
          wake = resolve;
          // Ref'd on purpose: a script may await `done`; the loop ends itself after maxMs.
          timer = setTimeout(resolve, intervalMs);
        });
        wake = undefined;
        timer = undefined;
      }
      endedAt = performance.now();
      this.loads.delete(halt);
    };
    const ended = loop();

    const snapshot = (): LoadReport => ({
      total: tally.total,
      failed: tally.failed,
      byPod: new Map(tally.byPod),
      errors: [...tally.errors],
      firstSeenMs: new Map(firstSeenMs),
      lastSeenMs: new Map(lastSeenMs),
      firstFailureMs,
      lastFailureMs,
      elapsedMs: (endedAt ?? performance.now()) - start,
      hitMaxMs,
    });

    return {
      snapshot,
      done: ended.then(snapshot),
      stop: async () => {
        halt();
        await ended;
        return snapshot();
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const halt of [...this.loads]) halt();
    stopResolvingBackoff(this.client);
    this.client.close();
  }
}

/**
 * grpc-js 1.8 bug (fixed by 1.10): ResolvingLoadBalancer.destroy() leaves its
 * re-resolution backoff timer running. A channel closed while its pods were
 * unreachable then resolves again after close(), builds a new round_robin and
 * reconnects forever with ref'd subchannel backoff timers — the process never
 * exits. Stopping that timer before close() (private fields, best effort,
 * a no-op where they do not exist) avoids it.
 */
function stopResolvingBackoff(client: unknown): void {
  try {
    const channel = (client as { getChannel?: () => unknown }).getChannel?.() as
      | { internalChannel?: { resolvingLoadBalancer?: { backoffTimeout?: { stop?: () => void; reset?: () => void } } } }
      | undefined;
    const backoff = channel?.internalChannel?.resolvingLoadBalancer?.backoffTimeout;
    backoff?.reset?.();
    backoff?.stop?.();
  } catch {
    // internals differ: nothing to do
  }
}

/** `ipv4:` target for the given hosts on one port (grpc-js built-in scheme, no DNS). */
export function ipv4Target(hosts: readonly string[], port: number): string {
  return `ipv4:${hosts.map((host) => `${host}:${port}`).join(',')}`;
}

export { formatCounts };
