/**
 * Command line of `grpc-dns-watch`: flags, durations, the name argument.
 * Everything wrong with the command line is a {@link UsageError} whose
 * message names the argument and says what is accepted (exit code 2).
 */
import { parseArgs } from 'node:util';
import { DEFAULT_ATTEMPTS, DEFAULT_RESOLV_CONF_PATH, DEFAULT_TIMEOUT_MS, MAX_ATTEMPTS, formatNameserver, parseNameserver } from '../dns/resolv-conf.js';
import type { Family, Nameserver } from '../dns/types.js';
import { DEFAULTS, resolveOptions } from '../watch/options.js';
import { TargetError, parseWrittenTarget } from '../target.js';
import { formatMs, lowerFirstWord } from './output.js';

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
  -i, --interval <duration>  poll period in watch mode (default ${formatMs(DEFAULTS.refreshInterval)})
  -f, --family <4|6|0>       A only, AAAA only, or both (default ${DEFAULTS.family})
      --ask-both-families    with family 0, ask A and AAAA at every poll (default:
                             a family answering NODATA 3 polls in a row is asked
                             about once a minute until it has records)
  -t, --timeout <duration>   per-try timeout (default: resolv.conf, ${formatMs(DEFAULT_TIMEOUT_MS)})
      --attempts <n>         rounds over the servers, 1-${MAX_ATTEMPTS} (default: resolv.conf, ${DEFAULT_ATTEMPTS})
      --resolv-conf <path>   resolv.conf to read (default ${DEFAULT_RESOLV_CONF_PATH})
      --once                 resolve once, print, exit (see exit codes)
      --json                 one JSON object per line (NDJSON) on stdout
  -v, --verbose              also print resolver settings and every query,
                             failure and retry on stderr
  -h, --help                 show this help
  -V, --version              show the version

Durations take a unit: 500ms, 5s, 1.5s, 1m (a bare 5 is refused: seconds
or milliseconds?). An --interval under ${formatMs(DEFAULTS.minInterval)} is used, with a warning.
Exit codes: 0 ok (or stopped by Ctrl-C / SIGTERM), 1 internal error,
  2 bad arguments, 3 DNS says the name has no addresses (NXDOMAIN, NODATA),
  4 could not ask DNS (TIMEOUT, CONNREFUSED, SERVFAIL, REFUSED, ...),
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
  /** --ask-both-families: never demote a family that answers NODATA. */
  askBothFamilies: boolean;
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

type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; config: CliConfig };

const OPTIONS = {
  server: { type: 'string', short: 's', multiple: true },
  interval: { type: 'string', short: 'i' },
  family: { type: 'string', short: 'f' },
  'ask-both-families': { type: 'boolean' },
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
  const nameservers = serversOf(values.server, name.nameserver);
  const resolvConfPath = values['resolv-conf'];
  if (resolvConfPath !== undefined && resolvConfPath.length === 0) {
    throw new UsageError('--resolv-conf "": expected the path of a resolv.conf file');
  }
  const interval = values.interval === undefined ? undefined : durationText('--interval', values.interval);
  const timeout = values.timeout === undefined ? undefined : durationText('--timeout', values.timeout);
  const checked = checkRanges(values, interval, timeout);
  return {
    kind: 'run',
    config: {
      input,
      host: name.host,
      note: name.note,
      nameservers,
      family: checked.family,
      askBothFamilies: values['ask-both-families'] ?? false,
      interval,
      timeout,
      attempts: checked.attempts,
      resolvConfPath,
      once: values.once ?? false,
      json: values.json ?? false,
      verbose: values.verbose ?? false,
    },
  };
}

/** From --server (each parsed, the flag named in the error), else the target's `dns://server/` part; undefined: resolv.conf's. */
function serversOf(specs: readonly string[] | undefined, fromTarget: Nameserver | undefined): Nameserver[] | undefined {
  if (!specs || specs.length === 0) return fromTarget ? [fromTarget] : undefined;
  return specs.map((spec) => {
    try {
      return parseNameserver(spec);
    } catch (error) {
      throw new UsageError(`--server ${JSON.stringify(spec)}: ${lowerFirstWord((error as Error).message)}`);
    }
  });
}

/** The ranges are the library's own, checked by its validators, in its words, under the flag's name. */
function checkRanges(
  values: { interval?: string; timeout?: string; family?: string; attempts?: string },
  interval: number | undefined,
  timeout: number | undefined,
): { family: Family; attempts: number | undefined } {
  const family = values.family === undefined ? undefined : numberText(values.family);
  const attempts = values.attempts === undefined ? undefined : numberText(values.attempts);
  const flags: Record<string, string> = {
    refreshInterval: `--interval ${JSON.stringify(values.interval)}`,
    timeout: `--timeout ${JSON.stringify(values.timeout)}`,
    family: `--family ${JSON.stringify(values.family)}`,
    attempts: `--attempts ${JSON.stringify(values.attempts)}`,
  };
  try {
    return resolveOptions(
      { refreshInterval: interval, timeout, family: family as Family | undefined, attempts: attempts as number | undefined },
      undefined,
      [],
      (option) => flags[option] ?? `Option "${option}"`,
    );
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };
const DURATIONS = 'a duration like 500ms, 5s, 1.5s or 1m';

/**
 * `500ms`, `5s`, `1.5s`, `1m`, rounded to whole ms. A bare number is
 * refused, not guessed: `watch -n 5` and `dig +timeout=5` mean seconds,
 * the library's options (`refreshInterval: 5000`) milliseconds, and either
 * guess polls 1000 times too often or too rarely for half the people who
 * type it. The range is the option's (see {@link parseCommandLine}).
 */
function durationText(flag: string, text: string): number {
  const trimmed = text.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) {
    throw new UsageError(
      `${flag} ${JSON.stringify(text)}: a duration needs its unit: ${trimmed}s for seconds (as watch -n reads it) or ${trimmed}ms for milliseconds`,
    );
  }
  const match = DURATION.exec(trimmed);
  if (!match) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected ${DURATIONS}`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 'ms'] ?? 1));
}

/** A decimal number as a number, anything else as the text, for the option validators to judge and quote. */
function numberText(text: string): number | string {
  return /^-?\d+(?:\.\d+)?$/.test(text.trim()) ? Number(text) : text;
}

/**
 * The name argument: a DNS name, an IP literal, or a grpc target whose host
 * is used (`dns:///my-svc:50051`, `my-svc:50051`, `dns://10.0.0.10:53/my-svc`).
 */
function parseName(input: string): { host: string; nameserver: Nameserver | undefined; note: string | undefined } {
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
  return lowerFirstWord(message);
}
