/**
 * `npm run demo`: grpc-js's built-in dns resolver and grpc-dns-watch side by
 * side while pods scale up, roll and crash. See docs/demo.md.
 *
 * This entry file must not load @grpc/grpc-js (not even indirectly): grpc-js
 * reads GRPC_NODE_USE_ALTERNATIVE_RESOLVER once, when it is first loaded.
 * With it, the built-in resolver asks the DNS server named in a
 * `dns://server/name` target through c-ares; without it, it would call
 * dns.lookup (getaddrinfo: /etc/resolv.conf, this machine's nameserver),
 * which the demo must never ask and which could not see the demo's records.
 * When the built-in resolves is the same either way.
 */
import { ArgsError, USAGE, parseArgs } from './args.js';

process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER = 'true';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2), { isTTY: process.stdout.isTTY === true, env: process.env });
  } catch (error) {
    if (!(error instanceof ArgsError)) throw error;
    process.stderr.write(`demo: ${error.message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }

  const aborter = new AbortController();
  const onSignal = () => {
    if (aborter.signal.aborted) process.exit(130); // second Ctrl-C: leave now
    aborter.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    // Only now: the first load of @grpc/grpc-js happens inside this import.
    const { runDemo } = await import('./run.js');
    const out = {
      write: (text: string) => process.stdout.write(text),
      get columns() {
        return process.stdout.columns;
      },
      get rows() {
        return process.stdout.rows;
      },
    };
    await runDemo(parsed.options, out, aborter.signal);
    process.exitCode = aborter.signal.aborted ? 130 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().catch((error: unknown) => {
  process.stdout.write('\x1b[?25h'.repeat(process.stdout.isTTY ? 1 : 0));
  process.stderr.write(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
