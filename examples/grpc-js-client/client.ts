/**
 * A plain @grpc/grpc-js client that follows a Kubernetes headless Service:
 * one register() call, then an ordinary client with round_robin. It sends a
 * small RPC every RPC_INTERVAL_MS and prints which pods answered, so a
 * scale-up or a rolling update is visible as it happens.
 *
 *   node --import tsx examples/grpc-js-client/client.ts [target]
 *
 * target   default $TARGET, else dns:///whoami.default.svc.cluster.local:50051
 * env      REFRESH_INTERVAL_MS  grpc-dns-watch poll period (default 5000)
 *          RPC_INTERVAL_MS      pause between RPCs (default 200)
 *          RPC_DEADLINE_MS      each RPC's deadline (default 1000)
 *          REPORT_INTERVAL_MS   how often to print the per-pod counts (default 5000)
 *          DURATION_MS          stop after this long (default 0: until SIGINT/SIGTERM)
 *
 * The service is `demo.Pod/WhoAmI` (empty request, the pod's name or address
 * as UTF-8 bytes), defined by hand so the example needs no .proto and no
 * code generation; examples/kubernetes/server.ts serves it. With your own
 * generated client, only steps 1 and 3 matter.
 */
import * as grpc from '@grpc/grpc-js';
import { observe, register } from 'grpc-dns-watch';

const target = process.argv[2] ?? process.env.TARGET ?? 'dns:///whoami.default.svc.cluster.local:50051';
const refreshInterval = envMs('REFRESH_INTERVAL_MS', 5_000);
const rpcInterval = envMs('RPC_INTERVAL_MS', 200);
const rpcDeadline = envMs('RPC_DEADLINE_MS', 1_000);
const reportInterval = envMs('REPORT_INTERVAL_MS', 5_000);
const duration = envMs('DURATION_MS', 0);

// 1. Before creating clients: grpc-dns-watch takes over grpc-js's `dns:`
//    scheme (and bare host:port targets), polling every refreshInterval.
register({ refreshInterval });

// 2. Optional: see what DNS says. Only changes are reported, and only
//    changes reach grpc-js.
const stopObserving = observe((event) => {
  if (event.type === 'update') {
    log(`dns ${event.name}: ${event.addresses.join(' ')} (added: ${event.added.join(' ') || '-'}, removed: ${event.removed.join(' ') || '-'})`);
  } else if (event.type === 'error') {
    log(`dns ${event.name}: ${event.error.code}${event.kept ? ', keeping the last good addresses' : ''}, retry in ${event.retryInMs} ms`);
  }
});

// 3. An ordinary client: with generated code, `new GreeterClient(target,
//    credentials, options)` takes the same options. round_robin connects to
//    every address and spreads RPCs over them; the default, pick_first,
//    would send everything to one pod.
const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
});

const WHO_AM_I = '/demo.Pod/WhoAmI';
const raw = (value: Buffer): Buffer => value;

function whoAmI(): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + rpcDeadline);
    client.makeUnaryRequest(WHO_AM_I, raw, raw, Buffer.alloc(0), { deadline }, (error, reply) => {
      if (error) reject(error);
      else resolve((reply ?? Buffer.alloc(0)).toString('utf8'));
    });
  });
}

// ---------------------------------------------------------------------------
// the load loop and its report
// ---------------------------------------------------------------------------

const started = Date.now();
let window = new Map<string, number>();
let windowFailed = 0;
let total = 0;
let totalFailed = 0;
const everyPod = new Set<string>();
let stopping = false;
let wake: (() => void) | undefined;

function stop(): void {
  stopping = true;
  wake?.();
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

function log(text: string): void {
  process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
}

function report(): void {
  const pods = [...window.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  const rpcs = pods.reduce((sum, [, n]) => sum + n, 0) + windowFailed;
  log(`${rpcs} RPCs, ${windowFailed} failed, by pod: ${pods.map(([pod, n]) => `${pod}=${n}`).join(' ') || '-'}`);
  window = new Map();
  windowFailed = 0;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
}

async function main(): Promise<void> {
  log(`target ${target}, round_robin, grpc-dns-watch refreshInterval ${refreshInterval} ms`);
  let lastReport = Date.now();
  while (!stopping && (duration === 0 || Date.now() - started < duration)) {
    try {
      const pod = await whoAmI();
      window.set(pod, (window.get(pod) ?? 0) + 1);
      everyPod.add(pod);
    } catch (error) {
      windowFailed++;
      totalFailed++;
      if (windowFailed === 1) log(`RPC failed: ${(error as grpc.ServiceError).details || (error as Error).message}`);
    }
    total++;
    if (Date.now() - lastReport >= reportInterval) {
      report();
      lastReport = Date.now();
    }
    if (!stopping) await pause(rpcInterval);
  }
  report();
  log(`done: ${total} RPCs, ${totalFailed} failed, ${everyPod.size} pods answered: ${[...everyPod].sort().join(' ')}`);
  // Closing the client lets grpc-dns-watch stop polling; the process then ends by itself.
  client.close();
  stopObserving();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
}

function envMs(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds >= 0, got "${text}"`);
  return value;
}

main().catch((error: unknown) => {
  process.stderr.write(`client failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
