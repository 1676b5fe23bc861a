/**
 * Command line of `grpc-dns-watch`: flags, durations, the name argument.
 * Everything wrong with the command line is a {@link UsageError} whose
 * message names the argument and says what is accepted (exit code 2).
 */
import { parseArgs } from 'node:util';
import { MAX_ATTEMPTS, formatNameserver, parseNameserver } from '../dns/resolv-conf.js';
import { MAX_TIMER_MS as MAX_DURATION_MS } from '../dns/timers.js';
import type { Family, Nameserver } from '../dns/types.js';
import { TargetError, parseWrittenTarget } from '../target.js';

export const COMMAND = 'grpc-dns-watch';


export const USAGE = `Usage: ${COMMAND} [options] <name>

Print the A/AAAA addresses of a DNS name with their TTLs, then every change
as it happens: what a grpc-js client using grpc-dns-watch in this pod sees.

<name> is a DNS name (my-svc, my-svc.ns.svc.cluster.local) or a grpc target
(dns:///my-svc:50051, my-svc:50051): the host is watched, the port ignored;
dns://10.0.0.10:53/my-svc asks that server.

Options:
  -s, --server <ip[:port]>   DNS server to ask instead of resolv.conf's; repeat
                             for failover (10.0.0.10, 10.0.0.10:53, [fd00::a]:53)
  -i, --interval <duration>  poll period in watch mode (default 5s)
  -f, --family <4|6|0>       A only, AAAA only, or both (default 0)
  -t, --timeout <duration>   per-try timeout (default: resolv.conf, 5s)
      --attempts <n>         rounds over the servers, 1-${MAX_ATTEMPTS} (default: resolv.conf, 2)
      --resolv-conf <path>   resolv.conf to read (default /etc/resolv.conf)
      --once                 resolve once, print, exit (see exit codes)
      --json                 one JSON object per line (NDJSON) on stdout
  -v, --verbose              also print resolver settings and every query,
                             failure and retry on stderr
  -h, --help                 show this help
  -V, --version              show the version

Durations: 500ms, 5s, 1m, or a number of milliseconds.
Exit codes: 0 ok (or stopped by Ctrl-C / SIGTERM), 1 internal error,
  2 bad arguments, 3 DNS says the name has no addresses (NXDOMAIN, NODATA),
  4 could not ask DNS (TIMEOUT, SERVFAIL, REFUSED, NETWORK, ...),
  130 / 143 --once interrupted by SIGINT / SIGTERM (any mode when stopping
  takes over 2s, or on a second signal).
Progress lines and failed tries go to stderr, also with --json.
`;

export const HELP_HINT = `Try '${COMMAND} --help' for more information.`;

/** A bad command line: message names the argument and what is accepted. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliConfig {
  /** What the user typed as the name. */
  input: string;
  /** The DNS name (or IP literal) to resolve. */
  host: string;
  /** Set when `input` was a grpc target and only its host is used. */
  note: string | undefined;
  /** From --server, else from a `dns://server/name` target; undefined: resolv.conf's. */
  nameservers: Nameserver[] | undefined;
  family: Family;
  /** ms; undefined: the library default. */
  interval: number | undefined;
  /** ms per try; undefined: resolv.conf's. */
  timeout: number | undefined;
  attempts: number | undefined;
  resolvConfPath: string | undefined;
  once: boolean;
  json: boolean;
  verbose: boolean;
}

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: CliConfig };

const OPTIONS = {
  server: { type: 'string', short: 's', multiple: true },
  interval: { type: 'string', short: 'i' },
  family: { type: 'string', short: 'f' },
  timeout: { type: 'string', short: 't' },
  attempts: { type: 'string' },
  'resolv-conf': { type: 'string' },
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

/** Parse argv (without `node` and the script). Throws {@link UsageError}. */
export function parseCommandLine(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(describeParseError(error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  if (positionals.length === 0) {
    throw new UsageError('missing the DNS name to watch, e.g. my-svc.ns.svc.cluster.local');
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one DNS name, got ${positionals.length}: ${positionals.map((p) => JSON.stringify(p)).join(' ')}`,
    );
  }
  const input = positionals[0] ?? '';
  const name = parseName(input);

  let nameservers: Nameserver[] | undefined;
  if (values.server && values.server.length > 0) {
    nameservers = values.server.map((spec) => {
      try {
        return parseNameserver(spec);
      } catch (error) {
        throw new UsageError(`--server ${JSON.stringify(spec)}: ${lowerFirst((error as Error).message)}`);
      }
    });
  } else if (name.nameserver) {
    nameservers = [name.nameserver];
  }

  const resolvConfPath = values['resolv-conf'];
  if (resolvConfPath !== undefined && resolvConfPath.length === 0) {
    throw new UsageError('--resolv-conf "": expected the path of a resolv.conf file');
  }

  return {
    kind: 'run',
    config: {
      input,
      host: name.host,
      note: name.note,
      nameservers,
      family: values.family === undefined ? 0 : parseFamily(values.family),
      interval: values.interval === undefined ? undefined : parseDuration('--interval', values.interval),
      timeout: values.timeout === undefined ? undefined : parseDuration('--timeout', values.timeout),
      attempts: values.attempts === undefined ? undefined : parseAttempts(values.attempts),
      resolvConfPath,
      once: values.once ?? false,
      json: values.json ?? false,
      verbose: values.verbose ?? false,
    },
  };
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/**
 * `500ms`, `5s`, `1.5s`, `1m`, or a bare number of milliseconds; rounded to
 * whole ms; at least 1 ms, at most 2^31-1 ms (about 24.8 days).
 */
export function parseDuration(flag: string, text: string): number {
  const match = DURATION.exec(text.trim());
  const accepted = 'expected a duration like 500ms, 5s, 1m or a number of milliseconds';
  if (!match) throw new UsageError(`${flag} ${JSON.stringify(text)}: ${accepted}`);
  const ms = Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
  if (ms < 1) throw new UsageError(`${flag} ${JSON.stringify(text)}: must be at least 1ms; ${accepted}`);
  if (ms > MAX_DURATION_MS) {
    throw new UsageError(`${flag} ${JSON.stringify(text)}: must be at most ${MAX_DURATION_MS}ms (about 24.8 days)`);
  }
  return ms;
}

function parseFamily(text: string): Family {
  if (text === '4' || text === '6' || text === '0') return Number(text) as Family;
  throw new UsageError(`--family ${JSON.stringify(text)}: expected 4 (A records), 6 (AAAA records) or 0 (both)`);
}

function parseAttempts(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= MAX_ATTEMPTS) return n;
  }
  throw new UsageError(`--attempts ${JSON.stringify(text)}: expected a whole number from 1 to ${MAX_ATTEMPTS}`);
}

/**
 * The name argument: a DNS name, an IP literal, or a grpc target whose host
 * is used (`dns:///my-svc:50051`, `my-svc:50051`, `dns://10.0.0.10:53/my-svc`).
 */
export function parseName(input: string): { host: string; nameserver: Nameserver | undefined; note: string | undefined } {
  if (input.trim() === '') throw new UsageError('the DNS name is empty; expected e.g. my-svc.ns.svc.cluster.local');
  let written;
  try {
    written = parseWrittenTarget(input);
  } catch (error) {
    if (error instanceof TargetError) {
      throw new UsageError(`name ${JSON.stringify(input)}: ${error.reason}; expected a DNS name, an IP address or a dns: target such as dns:///my-svc:50051`);
    }
    throw error;
  }
  const note =
    written.form !== 'name'
      ? `${JSON.stringify(input)} is a grpc target: watching its host ${JSON.stringify(written.host)}` +
        (written.nameserver ? ` via ${formatNameserver(written.nameserver)}` : '') +
        ' (the port does not matter to DNS)'
      : undefined;
  return { host: written.host, nameserver: written.nameserver, note };
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | null)?.code;
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
    return `unknown option '${unknown[1]}'`;
  }
  const missing = /^Option '([^']+)' argument missing/.exec(message);
  if (missing) return `option '${missing[1]}' needs a value`;
  return lowerFirst(message);
}

function lowerFirst(text: string): string {
  return text.length > 0 ? text[0]!.toLowerCase() + text.slice(1) : text;
}
