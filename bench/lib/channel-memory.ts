/**
 * Memory of N grpc-js channels to one target, measured in a fresh process
 * (used by bench/coalescing.ts). In one long-lived process the heap after
 * creating and closing thousands of channels of another kind does not come
 * back to where it was (grpc-js's built-in resolver path keeps ~10 KB per
 * closed channel), which skews whichever side is measured next.
 *
 *   node --import tsx --expose-gc bench/lib/channel-memory.ts '<json MemoryJob>'
 *
 * Prints one JSON line (MemoryResult) on stdout; exits by itself.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from './dns-child.js';

export interface MemoryJob {
  target: string;
  channels: number;
  /** register() options when the target uses the dns-watch scheme. */
  nameserver: string;
  refreshInterval: number;
}

export interface MemoryResult {
  heapPerChannel: number;
  rssPerChannel: number;
  notReady: number;
}

const SCRIPT = path.join(PROJECT_ROOT, 'bench', 'lib', 'channel-memory.ts');

/** Run one job in a fresh process (bounded to 60 s). */
export function measureInFreshProcess(job: MemoryJob): Promise<MemoryResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--expose-gc', SCRIPT, JSON.stringify(job)],
      { cwd: PROJECT_ROOT, timeout: 60_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`channel-memory ${job.target} × ${job.channels}: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as MemoryResult);
        } catch {
          reject(new Error(`channel-memory ${job.target} × ${job.channels}: no result in ${JSON.stringify(stdout)}\n${stderr}`));
        }
      },
    );
  });
}

async function main(job: MemoryJob): Promise<void> {
  const grpc = await import('@grpc/grpc-js');
  const { register, unregister } = await import('../../src/index.js');
  const { settledMemory, sleep } = await import('./harness.js');
  const { pollUntil } = await import('../../harness/wait.js');
  if (job.target.startsWith('dns:') && process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER !== 'true') {
    throw new Error('the built-in dns side needs GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true');
  }
  register({ replaceBuiltin: false, nameservers: [job.nameserver], refreshInterval: job.refreshInterval, jitter: 0, hostsPath: false });
  const options = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
  const open = async (): Promise<InstanceType<typeof grpc.Channel>[]> => {
    const list = Array.from({ length: job.channels }, () => new grpc.Channel(job.target, grpc.credentials.createInsecure(), options));
    for (const channel of list) channel.getConnectivityState(true);
    await pollUntil(() => list.every((channel) => channel.getConnectivityState(false) === grpc.connectivityState.READY), 15_000, 5);
    return list;
  };
  // Warm-up: the first channels of a process grow one-time tables (module code, inline caches, channelz maps).
  for (const channel of await open()) channel.close();
  await sleep(300);
  const before = await settledMemory();
  const list = await open();
  const after = await settledMemory();
  const notReady = list.filter((channel) => channel.getConnectivityState(false) !== grpc.connectivityState.READY).length;
  for (const channel of list) channel.close();
  unregister();
  const result: MemoryResult = {
    heapPerChannel: (after.heapUsed - before.heapUsed) / job.channels,
    rssPerChannel: (after.rss - before.rss) / job.channels,
    notReady,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === SCRIPT) {
  main(JSON.parse(process.argv[2] ?? '{}') as MemoryJob).catch((error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  });
}
