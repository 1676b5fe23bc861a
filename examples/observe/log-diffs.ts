/**
 * Wiring grpc-dns-watch's hooks to logs (or metrics): every change of every
 * watched name as one JSON line, failures with what happens next, and a
 * periodic stats() snapshot. No dependency: replace console.log with your
 * logger or an OpenTelemetry counter.
 *
 *   node --import tsx examples/observe/log-diffs.ts my-svc.ns.svc.cluster.local [seconds] [resolv.conf]
 */
import { observe, stats, watch } from 'grpc-dns-watch';

const [name = 'localhost', seconds = '10', resolvConfPath] = process.argv.slice(2);

const stopObserving = observe((event) => {
  switch (event.type) {
    case 'update':
      console.log(JSON.stringify({ msg: 'dns change', name: event.name, added: event.added, removed: event.removed, total: event.addresses.length }));
      break;
    case 'error':
      console.log(JSON.stringify({ msg: 'dns failure', name: event.name, code: event.error.code, keptLastGoodSet: event.kept, retryInMs: event.retryInMs }));
      break;
    case 'query':
      // A histogram in a metrics system: resolution time and outcome per name.
      break;
  }
});

const svc = watch(name, { refreshInterval: 1_000, ...(resolvConfPath ? { resolvConfPath, hostsPath: false as const } : {}) });
const report = setInterval(() => {
  for (const entry of stats()) {
    console.log(JSON.stringify({ msg: 'dns stats', name: entry.name, state: entry.state, addresses: entry.addresses.length, queries: entry.queries, failures: entry.failures }));
  }
}, 2_000);

setTimeout(() => {
  clearInterval(report);
  stopObserving();
  svc.close();
}, Number(seconds) * 1_000);
