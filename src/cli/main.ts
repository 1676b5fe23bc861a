/**
 * `grpc-dns-watch` without the process: {@link main} takes argv and streams
 * and returns the exit code, so tests drive it in-process. src/cli/bin.ts is the
 * bin wrapper around it.
 *
 * Watch mode runs the library's own watcher (`watch()`), so what it prints is
 * what a grpc-js channel using grpc-dns-watch is told: the set, each change,
 * and the errors a channel would get. `--once` asks the stub resolver once.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DnsError } from '../dns/errors.js';
import { StubResolver } from '../dns/stub-resolver.js';
import { DEFAULT_RESOLV_CONF_PATH, formatNameserver, readResolvConf, withOverrides } from '../dns/resolv-conf.js';
import { FileReadError, statRegular } from '../dns/text-file.js';
import type { ResolvConf } from '../dns/types.js';
import { observe, report } from '../watch/observe.js';
import { DEFAULTS } from '../watch/options.js';
import { setTraceSink, trace } from '../watch/trace.js';
import { watch, type DnsWatch, type WatchUpdate } from '../watch-handle.js';
import { COMMAND, HELP_HINT, USAGE, UsageError, parseCommandLine, type CliConfig } from './args.js';
import { errorMessage, formatMs } from './output.js';
import { Reporter, type Asking, type TextSink } from './report.js';

/** Exit codes; docs/cli.md documents them. */
export const EXIT = Object.freeze({
  /** --once: addresses found. Watch mode: stopped by SIGINT / SIGTERM. */
  OK: 0,
  /** A bug: an exception that is not a DNS outcome. */
  INTERNAL: 1,
  /** Bad command line. */
  USAGE: 2,
  /** --once: DNS says the name has no addresses (NXDOMAIN, NODATA). */
  NO_ADDRESSES: 3,
  /** --once: could not ask (TIMEOUT, SERVFAIL, REFUSED, NETWORK, BADRCODE, BADRESPONSE). */
  CANNOT_ASK: 4,
  /** --once interrupted by SIGINT (128 + 2). */
  INTERRUPTED: 130,
  /** --once interrupted by SIGTERM (128 + 15). */
  TERMINATED: 143,
});


interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  /** RES_OPTIONS / LOCALDOMAIN for --once and the settings shown; see docs/cli.md for watch mode. */
  env: NodeJS.ProcessEnv;
  /**
   * Aborting stops the command: watch mode closes the watcher and returns 0;
   * --once returns 130, or 143 when the abort reason is 'SIGTERM'.
   * Without a signal, watch mode runs until the process is killed.
   */
  signal?: AbortSignal;
  /** Clock for the timestamps the command prints itself; default the system's. Tests inject one. */
  now?: () => Date;
}

/** Run the command; resolves with the exit code. Never rejects. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const command = parseCommandLine(argv);
    switch (command.kind) {
      case 'help':
        io.stdout.write(USAGE);
        return EXIT.OK;
      case 'version':
        io.stdout.write(`${COMMAND} ${packageVersion()}\n`);
        return EXIT.OK;
      case 'run':
        return await run(command.config, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`${COMMAND}: ${error.message}\n${HELP_HINT}\n`);
      return EXIT.USAGE;
    }
    io.stderr.write(`${COMMAND}: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.INTERNAL;
  }
}

async function run(config: CliConfig, io: CliIo): Promise<number> {
  if (config.resolvConfPath !== undefined) {
    // The library falls back to defaults (127.0.0.1) for an unusable file; a path given by hand is a mistake to report.
    try {
      await statRegular(config.resolvConfPath);
    } catch (error) {
      if (!(error instanceof FileReadError)) throw error;
      throw new UsageError(`--resolv-conf ${JSON.stringify(config.resolvConfPath)}: ${error.reason}; expected a resolv.conf file`);
    }
  }
  if (config.note) io.stderr.write(`note: ${config.note}\n`);
  if (!config.once && config.interval !== undefined && config.interval < DEFAULTS.minInterval) {
    // Honoured, as register({ refreshInterval }) honours it (minInterval follows it down), but said: 5 meant as seconds would land here.
    io.stderr.write(
      `warning: --interval ${formatMs(config.interval)} is under the ${formatMs(DEFAULTS.minInterval)} floor a client keeps by default (minInterval); ` +
        `polling every ${formatMs(config.interval)}, as a client does only with refreshInterval set that low\n`,
    );
  }
  const conf = await readResolvConf({ path: config.resolvConfPath, env: io.env });
  if (io.signal?.aborted) return config.once ? interruptedCode(io.signal) : EXIT.OK;
  const settings = withOverrides(conf, { nameservers: config.nameservers, timeoutMs: config.timeout, attempts: config.attempts });
  if (config.verbose) io.stderr.write(describeSettings(config, settings));
  const reporter = new Reporter(config, io.stdout, io.stderr, io.now);
  const asking: Asking = { servers: settings.nameservers, timeoutMs: settings.timeoutMs, attempts: settings.attempts };
  return config.once ? runOnce(config, io, reporter, asking) : runWatch(config, io, reporter, asking);
}

/**
 * Print each failed try of this run's name until the first outcome is
 * shown; returns the function that stops it. Later failures in watch mode
 * are what `--verbose` is for.
 */
function reportAttempts(reporter: Reporter): () => void {
  return observe((event) => {
    if (event.type === 'attempt' && reporter.concerns(event)) reporter.attempt(event);
  });
}

async function runOnce(config: CliConfig, io: CliIo, reporter: Reporter, asking: Asking): Promise<number> {
  const { signal } = io;
  const resolver = new StubResolver({
    nameservers: config.nameservers,
    resolvConfPath: config.resolvConfPath,
    env: io.env,
    timeoutMs: config.timeout,
    attempts: config.attempts,
    onAttempt: report,
    trace,
  });
  const onAbort = (): void => resolver.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  if (!isIP(config.host)) reporter.asking(asking);
  const stopAttempts = reportAttempts(reporter);
  try {
    const resolution = await resolver.resolve(config.host, config.family);
    stopAttempts();
    reporter.addresses(resolution.addresses, reporter.now(), {
      resolvedName: resolution.name,
      source: resolution.source,
      failedFamilies: resolution.failedFamilies.map(({ family, error }) => ({ family, code: error.code, message: errorMessage(error, family) })),
    });
    return EXIT.OK;
  } catch (error) {
    stopAttempts();
    if (signal?.aborted) return interruptedCode(signal);
    if (!(error instanceof DnsError)) throw error;
    reporter.error(error);
    return exitCodeFor(error);
  } finally {
    stopAttempts();
    signal?.removeEventListener('abort', onAbort);
    resolver.close();
  }
}

async function runWatch(config: CliConfig, io: CliIo, reporter: Reporter, asking: Asking): Promise<number> {
  let watcher: DnsWatch;
  try {
    // An open watch keeps the process alive until close(): nothing else is needed to wait for the signal.
    watcher = watch(config.host, {
      refreshInterval: config.interval,
      family: config.family,
      askBothFamilies: config.askBothFamilies,
      nameservers: config.nameservers,
      timeout: config.timeout,
      attempts: config.attempts,
      resolvConfPath: config.resolvConfPath,
    });
  } catch (error) {
    // The flags are validated already; this is the library's last word on them.
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  if (config.verbose) setTraceSink((text) => io.stderr.write(`${reporter.now().toISOString()}  trace ${text}\n`));
  reporter.banner(config.interval ?? DEFAULTS.refreshInterval, asking);
  if (!isIP(config.host)) reporter.asking(asking);
  let stopAttempts: (() => void) | undefined = reportAttempts(reporter);
  const firstOutcome = (): void => {
    stopAttempts?.();
    stopAttempts = undefined;
  };
  watcher.on('update', (update: WatchUpdate) => {
    firstOutcome();
    reporter.update(update, watcher.stats()?.polledName);
  });
  watcher.on('error', (error: DnsError) => {
    firstOutcome();
    reporter.error(error);
  });
  // A query event comes before the poll settles; its stats (the cache verdict) are current a microtask later.
  const stopCache = observe((event) => {
    if (event.type === 'query') queueMicrotask(() => reportCache(reporter, watcher));
    else if (event.type === 'family' && event.name === config.host) reporter.family(event);
  });
  try {
    await stopped(io.signal);
  } finally {
    stopCache();
    firstOutcome();
    watcher.close();
    if (config.verbose) setTraceSink(null);
  }
  return EXIT.OK;
}

function reportCache(reporter: Reporter, watcher: DnsWatch): void {
  const stats = watcher.stats();
  if (stats) reporter.cache(stats);
}

/** Resolves when the signal aborts; never without a signal. */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function exitCodeFor(error: DnsError): number {
  if (error.authoritative) return EXIT.NO_ADDRESSES;
  if (error.code === 'BADNAME') return EXIT.USAGE;
  return EXIT.CANNOT_ASK;
}

function interruptedCode(signal: AbortSignal): number {
  return signal.reason === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED;
}

/** `conf`: resolv.conf with the flags over it. */
function describeSettings(config: CliConfig, conf: ResolvConf): string {
  const from = config.nameservers ? 'given' : `from ${config.resolvConfPath ?? DEFAULT_RESOLV_CONF_PATH}`;
  const lines = [
    `settings: nameservers ${conf.nameservers.map(formatNameserver).join(', ')} (${from})`,
    `settings: search ${conf.search.length > 0 ? conf.search.join(' ') : '(none)'}, ndots:${conf.ndots}`,
    `settings: timeout ${formatMs(conf.timeoutMs)}, attempts ${conf.attempts}, family ${config.family}` +
      (config.once ? '' : `, interval ${formatMs(config.interval ?? DEFAULTS.refreshInterval)}`),
    ...conf.warnings.map((warning) => `warning: ${warning}`),
  ];
  return `${lines.join('\n')}\n`;
}

let cachedVersion: string | undefined;

/** This package's version, from the package.json above this file (src/ or dist/). */
function packageVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === COMMAND && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    } catch {
      // no package.json here, or not ours: look further up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
