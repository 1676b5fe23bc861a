/**
 * The heap of grpc-dns-watch alone, without grpc-js, pods or RPCs:
 *
 *   npx tsx test/soak/library-only.ts --seconds 80
 *
 * 10 names polled every 100 ms through watch(), their records changing every
 * 500 ms (addresses and TTLs), a DNS fault switched every 2 s (drop, SERVFAIL,
 * REFUSED, garbage, none), one handle closed and reopened every 750 ms. The
 * heap is sampled after a forced GC every second; the grpc soak (main.ts)
 * cannot tell the library's share of its heap from grpc-js's, this can.
 * Prints the samples and the thirds' medians; exits by itself.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { observe, stats, watch, type DnsWatch, type WatchOptions } from '../../src/index.js';
import type { Fault } from '../../harness/dns-server.js';
import { startDnsServer } from '../../harness/server-fixture.js';
import { exposeGc, openFds } from './engine.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 6 || seconds > 3_600) throw new TypeError(`--seconds must be from 6 to 3600, got ${values.seconds}`);

const gc = exposeGc();
gc();
const baseline = { heap: process.memoryUsage().heapUsed, fds: openFds() };
const { server: dns, resolvConfPath, close } = await startDnsServer({ label: 'library-only' });
const options: WatchOptions = {
  refreshInterval: 100,
  jitter: 0.2,
  timeout: 100,
  attempts: 1,
  family: 4,
  resolvConfPath,
  hostsPath: false,
  backoff: { initial: 50, max: 200, multiplier: 2 },
};
const names = Array.from({ length: 10 }, (_, i) => `n${i}.library-only.test`);
let version = 0;
const change = () => {
  version++;
  for (const name of names) dns.setRecords(name, { A: [`10.0.${version % 200}.1`, `10.0.${(version + 1) % 200}.2`], ttl: 1 + (version % 30) });
};
change();
let polls = 0;
let failed = 0;
let updates = 0;
const stopObserving = observe((event) => {
  if (event.type === 'query') {
    polls++;
    if (event.result !== 'NOERROR') failed++;
  }
});
const open = (name: string): DnsWatch => {
  const handle = watch(name, options);
  handle.on('error', () => {});
  handle.on('update', () => updates++);
  return handle;
};
const handles = names.map(open);
const faults: Array<Fault | null> = ['drop', 'servfail', 'refused', 'garbage', null];
const samples: number[] = [];
const fds: number[] = [];
const start = performance.now();
for (let tick = 1; performance.now() - start < seconds * 1_000; tick++) {
  await delay(250);
  if (tick % 2 === 0) change();
  if (tick % 8 === 0) dns.setFault(faults[(tick / 8) % faults.length] ?? null);
  if (tick % 3 === 0) {
    const index = tick % names.length;
    handles[index]!.close();
    handles[index] = open(names[index]!);
  }
  if (tick % 4 === 0) {
    dns.resetLog();
    gc();
    samples.push(process.memoryUsage().heapUsed);
    fds.push(openFds());
  }
}
for (const handle of handles) handle.close();
stopObserving();
await close();
gc();

const MB = (bytes: number) => (bytes / 1_048_576).toFixed(2);
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
const third = Math.floor(samples.length / 3);
const second = median(samples.slice(third, 2 * third));
const last = median(samples.slice(2 * third));
console.log(`library only, ${seconds} s: ${polls} polls (${failed} failed), ${updates} updates, ${version} record changes`);
console.log(`heap after GC (MB): baseline ${MB(baseline.heap)}, 2nd third ${MB(second)}, last third ${MB(last)} (${(((last - second) / second) * 100).toFixed(1)} %), after close ${MB(process.memoryUsage().heapUsed)}`);
console.log(`fds: baseline ${baseline.fds}, max while running ${Math.max(...fds)}, after close ${openFds()}; watchers left ${stats().length}`);
console.log(`samples (MB): ${samples.map(MB).join(' ')}`);
