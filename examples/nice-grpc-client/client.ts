/**
 * The same client with nice-grpc (promise-based calls over @grpc/grpc-js).
 * nice-grpc's createChannel() builds a grpc-js Channel, so grpc-dns-watch
 * applies unchanged: register() into the grpc-js copy nice-grpc uses, then
 * createChannel() with a `dns:` target and round_robin.
 *
 *   node --import tsx examples/nice-grpc-client/client.ts [target]
 *
 * target   default $TARGET, else dns:///whoami.default.svc.cluster.local:50051
 * env      REFRESH_INTERVAL_MS  grpc-dns-watch poll period (default 5000)
 *          RPC_INTERVAL_MS      pause between RPCs (default 200)
 *          RPC_DEADLINE_MS      each RPC's deadline (default 1000)
 *          REPORT_INTERVAL_MS   how often to print the per-pod counts (default 5000)
 *          DURATION_MS          stop after this long (default 0: until SIGINT/SIGTERM)
 *
 * Service: `demo.Pod/WhoAmI`, as in ../grpc-js-client; ts-proto
 * (`outputServices=nice-grpc`) generates definitions of the same shape.
 */
import { createRequire } from 'node:module';
import { ChannelCredentials, ClientError, createChannel, createClient, type ServiceDefinition } from 'nice-grpc';
import { observe, register, type GrpcJsModule } from 'grpc-dns-watch';

const target = process.argv[2] ?? process.env.TARGET ?? 'dns:///whoami.default.svc.cluster.local:50051';
const refreshInterval = envMs('REFRESH_INTERVAL_MS', 5_000);
const rpcInterval = envMs('RPC_INTERVAL_MS', 200);
const rpcDeadline = envMs('RPC_DEADLINE_MS', 1_000);
const reportInterval = envMs('REPORT_INTERVAL_MS', 5_000);
const duration = envMs('DURATION_MS', 0);

// 1. register() into the @grpc/grpc-js that nice-grpc itself loads. With one
//    deduplicated copy in node_modules (the usual case, `npm ls @grpc/grpc-js`)
//    plain register({ refreshInterval }) does the same; naming the copy keeps
//    working when a second copy sneaks in.
const require = createRequire(import.meta.url);
const grpcOfNiceGrpc = createRequire(require.resolve('nice-grpc'))('@grpc/grpc-js') as GrpcJsModule;
register({ refreshInterval, grpc: grpcOfNiceGrpc });

// 2. Optional: log every change of the address set.
const stopObserving = observe((event) => {
  if (event.type === 'update') {
    log(`dns ${event.name}: ${event.addresses.join(' ')} (added: ${event.added.join(' ') || '-'}, removed: ${event.removed.join(' ') || '-'})`);
  } else if (event.type === 'error') {
    log(`dns ${event.name}: ${event.error.code}${event.kept ? ', keeping the last good addresses' : ''}, retry in ${event.retryInMs} ms`);
  }
});

// 3. createChannel() passes `dns:`, `dns-watch:` and `dns://server/` targets to
//    grpc-js as they are (only http:// and https:// addresses are rewritten).
const raw = (value: Uint8Array): Uint8Array => value;
const WhoAmIDefinition = {
  whoAmI: {
    path: '/demo.Pod/WhoAmI',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
    options: {},
  },
} as const satisfies ServiceDefinition;

const channel = createChannel(target, ChannelCredentials.createInsecure(), {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
});
const client = createClient(WhoAmIDefinition, channel);

async function whoAmI(): Promise<string> {
  const reply = await client.whoAmI(new Uint8Array(0), { signal: AbortSignal.timeout(rpcDeadline) });
  return Buffer.from(reply).toString('utf8');
}

// ---------------------------------------------------------------------------
// the load loop and its report (as in ../grpc-js-client)
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
  log(`target ${target} (nice-grpc), round_robin, grpc-dns-watch refreshInterval ${refreshInterval} ms`);
  let lastReport = Date.now();
  while (!stopping && (duration === 0 || Date.now() - started < duration)) {
    try {
      const pod = await whoAmI();
      window.set(pod, (window.get(pod) ?? 0) + 1);
      everyPod.add(pod);
    } catch (error) {
      windowFailed++;
      totalFailed++;
      if (windowFailed === 1) log(`RPC failed: ${error instanceof ClientError ? error.details : (error as Error).message}`);
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
  // Closing the channel lets grpc-dns-watch stop polling; the process then ends by itself.
  channel.close();
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
