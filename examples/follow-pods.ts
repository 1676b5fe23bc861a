/**
 * What both polling-resolver examples run after registering their resolver:
 * a @grpc/grpc-js client with round_robin sending `demo.Pod/WhoAmI` every
 * RPC_INTERVAL_MS, printing which pods answered every REPORT_INTERVAL_MS and
 * every change of address set the resolver found, until SIGINT/SIGTERM.
 */
import * as grpc from '@grpc/grpc-js';
import { observe } from 'grpc-dns-watch';

export function envMs(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds >= 0, got "${text}"`);
  return value;
}

export async function followPods(target: string): Promise<void> {
  const rpcInterval = envMs('RPC_INTERVAL_MS', 200);
  const reportInterval = envMs('REPORT_INTERVAL_MS', 5_000);
  const log = (text: string) => process.stdout.write(`${text}\n`);
  const stopObserving = observe((event) => {
    if (event.type === 'update') log(`addresses of ${event.name}: ${event.addresses.join(' ')} (added: ${event.added.join(' ') || '-'})`);
    if (event.type === 'error') log(`${event.name}: ${event.error.message}${event.kept ? ' (keeping the last good addresses)' : ''}`);
  });
  // round_robin spreads RPCs over every address; pick_first, the default, would use one.
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  });
  let stopping = false;
  const stop = () => (stopping = true);
  process.on('SIGTERM', stop).on('SIGINT', stop);
  const everyPod = new Set<string>();
  let byPod = new Map<string, number>();
  let failed = 0;
  let lastReport = Date.now();
  log(`target ${target}`);
  while (!stopping) {
    try {
      const pod = await whoAmI(client);
      byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
      everyPod.add(pod);
    } catch (error) {
      if (++failed === 1) log(`RPC failed: ${(error as grpc.ServiceError).details || (error as Error).message}`);
    }
    if (Date.now() - lastReport >= reportInterval) {
      log(`${failed} failed, by pod: ${[...byPod].map(([pod, n]) => `${pod}=${n}`).join(' ') || '-'}`);
      byPod = new Map();
      failed = 0;
      lastReport = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, rpcInterval));
  }
  log(`done: ${everyPod.size} pods answered: ${[...everyPod].sort().join(' ')}`);
  client.close();
  stopObserving();
  process.off('SIGTERM', stop).off('SIGINT', stop);
}

function whoAmI(client: grpc.Client): Promise<string> {
  const raw = (value: Buffer): Buffer => value;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest('/demo.Pod/WhoAmI', raw, raw, Buffer.alloc(0), { deadline: new Date(Date.now() + 5_000) }, (error, reply) => {
      if (error) reject(error);
      else resolve((reply ?? Buffer.alloc(0)).toString('utf8'));
    });
  });
}
