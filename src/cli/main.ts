/**
 * `grpc-dns-watch` without the process: {@link main} takes argv and streams
 * and returns the exit code, so tests drive it in-process. src/cli.ts is the
 * bin wrapper around it.
 *
 * Watch mode runs the library's own watcher (`watch()`), so what it prints is
 * what a grpc-js channel using grpc-dns-watch is told: the set, each change,
 * and the errors a channel would get. `--once` asks the stub resolver once.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DnsError } from '../dns/errors.js';
import { StubResolver } from '../dns/lookup.js';
import { readResolvConf } from '../dns/resolv-conf.js';
import type { ResolvConf } from '../dns/types.js';
import { DEFAULTS } from '../options.js';
import { setTraceSink } from '../trace.js';
import { watch, type DnsWatch, type WatchUpdate } from '../watch.js';
import { COMMAND, HELP_HINT, USAGE, UsageError, formatNameserver, parseCommandLine, type CliConfig } from './args.js';
import {
  errorEvent,
  humanAddresses,
  humanChange,
  humanError,
  jsonLine,
  jsonTtl,
  minTtlOf,
  toJsonRecords,
  type AddressesEvent,
  type ChangeEvent,
} from './output.js';

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

/** Anything with `write(string)`: process.stdout, or a collector in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface CliIo {
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
    // The library falls back to defaults (127.0.0.1) for an unreadable file; a path given by hand is a mistake to report.
    try {
      await readFile(config.resolvConfPath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new UsageError(`--resolv-conf ${JSON.stringify(config.resolvConfPath)}: cannot read it (${code}); expected a resolv.conf file`);
    }
  }
  if (config.note) io.stderr.write(`note: ${config.note}\n`);
  const conf = await readResolvConf({ path: config.resolvConfPath, env: io.env });
  if (config.verbose) io.stderr.write(describeSettings(config, conf));
  return config.once ? runOnce(config, io) : runWatch(config, conf, io);
}

async function runOnce(config: CliConfig, io: CliIo): Promise<number> {
  const { signal } = io;
  if (signal?.aborted) return interruptedCode(signal);
  const resolver = new StubResolver({
    nameservers: config.nameservers,
    resolvConfPath: config.resolvConfPath,
    env: io.env,
    timeoutMs: config.timeout,
    attempts: config.attempts,
  });
  const onAbort = (): void => resolver.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const resolution = await resolver.resolve(config.host, config.family);
    const at = new Date();
    if (config.json) {
      const event: AddressesEvent = {
        type: 'addresses',
        at: at.toISOString(),
        name: config.host,
        resolvedName: resolution.name,
        source: resolution.source,
        count: toJsonRecords(resolution.addresses).length,
        ttl: jsonTtl(minTtlOf(resolution.addresses)),
        addresses: toJsonRecords(resolution.addresses),
      };
      if (resolution.failedFamilies.length > 0) {
        event.failedFamilies = resolution.failedFamilies.map(({ family, error }) => ({ family, code: error.code, message: error.message }));
      }
      io.stdout.write(jsonLine(event));
    } else {
      io.stdout.write(humanAddresses(config.host, resolution.addresses, { resolvedName: resolution.name, source: resolution.source }));
      for (const { family, error } of resolution.failedFamilies) {
        io.stderr.write(
          `${at.toISOString()}  warning: the ${family === 4 ? 'A' : 'AAAA'} query failed (${error.code}: ${error.message}); ` +
            `showing IPv${family === 4 ? 6 : 4} addresses only\n`,
        );
      }
    }
    return EXIT.OK;
  } catch (error) {
    if (signal?.aborted) return interruptedCode(signal);
    if (!(error instanceof DnsError)) throw error;
    const at = new Date();
    if (config.json) io.stdout.write(jsonLine(errorEvent(config.host, error, at)));
    else io.stderr.write(humanError(at, error));
    return exitCodeFor(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    resolver.close();
  }
}

async function runWatch(config: CliConfig, conf: ResolvConf, io: CliIo): Promise<number> {
  const { signal } = io;
  let watcher: DnsWatch;
  try {
    watcher = watch(config.host, {
      refreshInterval: config.interval,
      family: config.family,
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
  if (config.verbose) setTraceSink((text) => io.stderr.write(`${new Date().toISOString()}  trace ${text}\n`));
  if (!config.json) {
    const servers = (config.nameservers ?? conf.nameservers).map(formatNameserver).join(', ');
    io.stderr.write(`watching ${config.host} every ${formatMs(config.interval ?? DEFAULTS.refreshInterval)} via ${servers}; Ctrl-C to stop\n`);
  }

  let shownSet = false;
  watcher.on('update', (update: WatchUpdate) => {
    if (!shownSet) {
      shownSet = true;
      if (config.json) {
        const event: AddressesEvent = {
          type: 'addresses',
          at: update.at.toISOString(),
          name: config.host,
          resolvedName: watcher.stats()?.polledName,
          count: update.addresses.length,
          ttl: jsonTtl(update.ttl),
          addresses: toJsonRecords(update.records),
        };
        io.stdout.write(jsonLine(event));
      } else {
        // The name polled from now on (the search-list candidate that answered).
        io.stdout.write(humanAddresses(config.host, update.records, { resolvedName: watcher.stats()?.polledName }));
      }
      return;
    }
    if (config.json) {
      const event: ChangeEvent = {
        type: 'change',
        at: update.at.toISOString(),
        name: config.host,
        added: update.added,
        removed: update.removed,
        count: update.addresses.length,
        ttl: jsonTtl(update.ttl),
        addresses: toJsonRecords(update.records),
      };
      io.stdout.write(jsonLine(event));
    } else {
      io.stdout.write(humanChange(update.at, update.added, update.removed, update.addresses.length));
    }
  });
  watcher.on('error', (error: DnsError) => {
    const at = new Date();
    if (config.json) io.stdout.write(jsonLine(errorEvent(config.host, error, at)));
    else io.stderr.write(humanError(at, error));
  });

  // The watcher's timers and idle sockets are unref()ed by design; this keeps the command alive until stopped.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    await stopped(signal);
  } finally {
    clearInterval(keepAlive);
    watcher.close();
    if (config.verbose) setTraceSink(null);
  }
  return EXIT.OK;
}

/** Resolves when the signal aborts; never without a signal. */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export function exitCodeFor(error: DnsError): number {
  if (error.authoritative) return EXIT.NO_ADDRESSES;
  if (error.code === 'BADNAME') return EXIT.USAGE;
  return EXIT.CANNOT_ASK;
}

function interruptedCode(signal: AbortSignal): number {
  return signal.reason === 'SIGTERM' ? EXIT.TERMINATED : EXIT.INTERRUPTED;
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

function describeSettings(config: CliConfig, conf: ResolvConf): string {
  const servers = config.nameservers
    ? `${config.nameservers.map(formatNameserver).join(', ')} (given)`
    : `${conf.nameservers.map(formatNameserver).join(', ')} (from ${config.resolvConfPath ?? '/etc/resolv.conf'})`;
  const lines = [
    `settings: nameservers ${servers}`,
    `settings: search ${conf.search.length > 0 ? conf.search.join(' ') : '(none)'}, ndots:${conf.ndots}`,
    `settings: timeout ${formatMs(config.timeout ?? conf.timeoutMs)}, attempts ${config.attempts ?? conf.attempts}, family ${config.family}` +
      (config.once ? '' : `, interval ${formatMs(config.interval ?? DEFAULTS.refreshInterval)}`),
    ...conf.warnings.map((warning) => `warning: ${warning}`),
  ];
  return `${lines.join('\n')}\n`;
}

let cachedVersion: string | undefined;

/** This package's version, from the package.json above this file (src/ or dist/). */
export function packageVersion(): string {
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
