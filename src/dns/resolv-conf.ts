/**
 * /etc/resolv.conf and its environment overrides, read the way glibc's stub
 * resolver reads them (resolv.conf(5)): `nameserver`, `search`, `domain`,
 * `options ndots: timeout: attempts: rotate single-request
 * single-request-reopen`, then `RES_OPTIONS` and `LOCALDOMAIN`.
 *
 * Parsing never throws on file content: whatever is ignored is reported in
 * {@link ResolvConf.warnings}, quoting the line and saying why.
 */
import { isIP } from 'node:net';
import { canonicalName, trimDot } from './names.js';
import { MAX_PORT, parsePort } from './port.js';
import { FileReadError, formatBytes, quoteShort, readTextFile, type TextFile } from './text-file.js';
import type { Nameserver, ResolvConf } from './types.js';

/** glibc MAXNS: nameservers beyond the third are ignored. */
const MAX_NAMESERVERS = 3;
/** glibc MAXDNSRCH: at most six search domains. */
const MAX_SEARCH_DOMAINS = 6;
/** glibc RES_MAXNDOTS. */
const MAX_NDOTS = 15;
/** glibc RES_MAXRETRANS, in seconds. */
const MAX_TIMEOUT_SECONDS = 30;
/**
 * glibc RES_MAXRETRY: resolv.conf's `options attempts:` is capped here, as glibc
 * caps it: the file is shared by every program on the host and means the same to each.
 */
export const MAX_RESOLV_CONF_ATTEMPTS = 5;
/**
 * The `attempts` option and `--attempts` may go further: an explicit choice for
 * this resolver only, still bounded so that one poll waits at most
 * MAX_ATTEMPTS × timeout × nameservers.
 */
export const MAX_ATTEMPTS = 10;

export const DEFAULT_RESOLV_CONF_PATH = '/etc/resolv.conf';

/**
 * Bytes of resolv.conf read. A real one is well under 1 KiB (glibc uses 3
 * nameservers and, in Kubernetes, the kubelet writes at most 32 search
 * domains / 2048 characters); 64 KiB is 30 times that, and bounds what a
 * wrong path (a log file, a 100 MB line) can cost.
 */
export const MAX_RESOLV_CONF_BYTES = 64 * 1024;

/** glibc's defaults when resolv.conf says nothing. */
const DEFAULT_NDOTS = 1;
export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_ATTEMPTS = 2;
/** With no usable `nameserver` line, glibc asks the local host. */
const DEFAULT_NAMESERVER: Readonly<Nameserver> = Object.freeze({ host: '127.0.0.1', port: 53 });

/** glibc's defaults as resolv.conf would spell them, for the warning that falls back to them. */
const DEFAULTS_TEXT = `nameserver ${DEFAULT_NAMESERVER.host}:${DEFAULT_NAMESERVER.port}, ndots:${DEFAULT_NDOTS}, timeout:${DEFAULT_TIMEOUT_MS / 1000}, attempts:${DEFAULT_ATTEMPTS}`;

const ACCEPTED = 'expected an IPv4 or IPv6 address, optionally with a port (1.2.3.4, 1.2.3.4:53, [::1]:53)';

function badNameserver(spec: string, why?: string): TypeError {
  return new TypeError(`Invalid nameserver ${quoteShort(spec)}: ${why ? `${why}; ` : ''}${ACCEPTED}`);
}

/** Port 0 is refused here (unlike in a target): nothing can be asked on it. */
function nameserverPort(spec: string, text: string): number {
  const parsed = parsePort(text, 1);
  if ('port' in parsed) return parsed.port;
  if (parsed.problem === 'not a number') throw badNameserver(spec, `port ${quoteShort(text)} is not a number`);
  throw badNameserver(spec, `port ${text} is outside 1..${MAX_PORT}`);
}

/**
 * Parse one nameserver: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]`,
 * `[::1]:5353`, `fe80::1%eth0` (the zone id is kept in `host`).
 * A bare IPv6 address is never split at its last colon: `::1:53` is the
 * address `::1:53` on the default port; use brackets to give a port.
 *
 * @throws TypeError naming the value and what is accepted.
 */
export function parseNameserver(spec: string, defaultPort = 53): Nameserver {
  if (typeof spec !== 'string') throw badNameserver(String(spec), 'not a string');
  if (!Number.isInteger(defaultPort) || defaultPort < 1 || defaultPort > MAX_PORT) {
    throw new TypeError(`Invalid default port ${String(defaultPort)}: expected an integer in 1..${MAX_PORT}`);
  }
  const text = spec.trim();
  if (text === '') throw badNameserver(spec, 'empty');

  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const host = bracketed[1] ?? '';
    if (isIP(host) !== 6) throw badNameserver(spec, 'brackets must hold an IPv6 address');
    const port = bracketed[2] === undefined ? defaultPort : nameserverPort(spec, bracketed[2]);
    return { host, port };
  }

  const family = isIP(text);
  if (family === 4 || family === 6) return { host: text, port: defaultPort };

  const v4WithPort = /^([0-9.]+):(.*)$/.exec(text);
  if (v4WithPort && isIP(v4WithPort[1] ?? '') === 4) {
    return { host: v4WithPort[1] ?? '', port: nameserverPort(spec, v4WithPort[2] ?? '') };
  }
  throw badNameserver(spec);
}

/** `host:port`, IPv6 in brackets: how every message and the CLI show a nameserver. */
export function formatNameserver(server: Nameserver): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** Up to {@link MAX_SEARCH_DOMAINS} domains, normalized, empties (the root) dropped. */
function buildSearchList(domains: string[], where: string, warnings: string[]): string[] {
  const out: string[] = [];
  for (const raw of domains) {
    const domain = canonicalName(raw);
    if (domain === '') continue;
    if (out.length >= MAX_SEARCH_DOMAINS) {
      warnings.push(
        `${where}: search domain ${quoteShort(raw)} ignored: at most ${MAX_SEARCH_DOMAINS} search domains are used`,
      );
      continue;
    }
    if (!out.includes(domain)) out.push(domain);
  }
  return out;
}

interface Options {
  ndots: number;
  timeoutMs: number;
  attempts: number;
  rotate: boolean;
  singleRequest: boolean;
  singleRequestReopen: boolean;
}

type FlagOption = 'rotate' | 'singleRequest' | 'singleRequestReopen';

/**
 * The flag options this resolver acts on, in the order glibc's
 * res_setoptions matches them: by prefix (`rotatex` is `rotate`), so
 * `single-request-reopen` must come before `single-request`. A leading `-`
 * turns a flag off (glibc 2.41). Other flags (`edns0`, `use-vc`, `trust-ad`,
 * …) are accepted and ignored, as unknown ones are by glibc.
 */
const FLAG_OPTIONS: ReadonlyArray<readonly [string, FlagOption]> = [
  ['rotate', 'rotate'],
  ['single-request-reopen', 'singleRequestReopen'],
  ['single-request', 'singleRequest'],
];

/** A flag option (`rotate`, `-rotate`, …): whether it was one. */
function applyFlag(token: string, opts: Options): boolean {
  const off = token.startsWith('-');
  const word = off ? token.slice(1) : token;
  const flag = FLAG_OPTIONS.find(([spelling]) => word.startsWith(spelling));
  if (!flag) return false;
  opts[flag[1]] = !off;
  return true;
}

/** Apply one `options` token (`ndots:5`, `rotate`, …) the way glibc's res_setoptions does. */
function applyOption(token: string, opts: Options, where: string, warnings: string[]): void {
  if (applyFlag(token, opts)) return;
  const colon = token.indexOf(':');
  const name = colon < 0 ? token : token.slice(0, colon);
  if (name !== 'ndots' && name !== 'timeout' && name !== 'attempts') return; // edns0, use-vc, … : not ours
  const value = colon < 0 ? undefined : token.slice(colon + 1);
  if (value === undefined || !/^[0-9]+$/.test(value)) {
    warnings.push(
      `${where}: option ${quoteShort(token)} ignored: expected ${name}:N with N a non-negative integer`,
    );
    return;
  }
  const n = Number(value);
  switch (name) {
    case 'ndots':
      if (n > MAX_NDOTS) warnings.push(`${where}: option ${quoteShort(token)} capped at ndots:${MAX_NDOTS}`);
      opts.ndots = Math.min(n, MAX_NDOTS);
      return;
    case 'timeout': {
      // glibc treats a 0 s timeout as 1 s when it waits.
      let seconds = n;
      if (seconds > MAX_TIMEOUT_SECONDS) {
        warnings.push(`${where}: option ${quoteShort(token)} capped at timeout:${MAX_TIMEOUT_SECONDS}`);
        seconds = MAX_TIMEOUT_SECONDS;
      } else if (seconds < 1) {
        warnings.push(`${where}: option ${quoteShort(token)} raised to timeout:1`);
        seconds = 1;
      }
      opts.timeoutMs = seconds * 1000;
      return;
    }
    case 'attempts': {
      // glibc would send no query at all with attempts:0; one attempt is the useful reading.
      let attempts = n;
      if (attempts > MAX_RESOLV_CONF_ATTEMPTS) {
        warnings.push(`${where}: option ${quoteShort(token)} capped at attempts:${MAX_RESOLV_CONF_ATTEMPTS}`);
        attempts = MAX_RESOLV_CONF_ATTEMPTS;
      } else if (attempts < 1) {
        warnings.push(`${where}: option ${quoteShort(token)} raised to attempts:1`);
        attempts = 1;
      }
      opts.attempts = attempts;
      return;
    }
  }
}

/** What the lines read so far have set. */
interface ParseState {
  nameservers: Nameserver[];
  search: string[];
  opts: Options;
  warnings: string[];
}

/** Handles one line's arguments; `where` names the line for warnings. */
type KeywordHandler = (args: string[], where: string, state: ParseState) => void;

/** resolv.conf's keywords as glibc's res_init reads them; any other keyword is a warning. */
const KEYWORDS: Readonly<Record<string, KeywordHandler>> = {
  nameserver(args, where, state) {
    const spec = args[0];
    if (spec === undefined) {
      state.warnings.push(`${where} ignored: nameserver needs an address`);
      return;
    }
    let ns: Nameserver;
    try {
      ns = parseNameserver(spec);
    } catch (err) {
      state.warnings.push(`${where} ignored: ${(err as Error).message}`);
      return;
    }
    if (state.nameservers.length >= MAX_NAMESERVERS) {
      state.warnings.push(`${where} ignored: at most ${MAX_NAMESERVERS} nameservers are used`);
      return;
    }
    state.nameservers.push(ns);
  },
  search(args, where, state) {
    if (args.length === 0) {
      state.warnings.push(`${where} ignored: search needs at least one domain`);
      return;
    }
    state.search = buildSearchList(args, where, state.warnings);
  },
  domain(args, where, state) {
    const domain = args[0];
    if (domain === undefined) {
      state.warnings.push(`${where} ignored: domain needs a domain name`);
      return;
    }
    state.search = buildSearchList([domain], where, state.warnings);
  },
  options(args, where, state) {
    for (const token of args) applyOption(token, state.opts, where, state.warnings);
  },
  // A valid glibc keyword; address sorting is not done here.
  sortlist() {},
};

/**
 * Parse resolv.conf text, then apply `env.RES_OPTIONS` (options, after the
 * file's) and `env.LOCALDOMAIN` (space-separated, replaces the search list
 * even when empty, as in glibc). Never throws on content. Warnings quote at
 * most 80 characters of a line.
 *
 * Accepted beyond glibc: a `nameserver` may carry a port (`1.2.3.4:5353`,
 * `[::1]:5353`), as {@link parseNameserver} reads it.
 */
export function parseResolvConf(
  text: string,
  env: { RES_OPTIONS?: string | undefined; LOCALDOMAIN?: string | undefined } = {},
): ResolvConf {
  const state: ParseState = {
    nameservers: [],
    search: [],
    opts: { ndots: DEFAULT_NDOTS, timeoutMs: DEFAULT_TIMEOUT_MS, attempts: DEFAULT_ATTEMPTS, rotate: false, singleRequest: false, singleRequestReopen: false },
    warnings: [],
  };

  String(text)
    .split(/\r?\n|\r/)
    .forEach((rawLine, index) => {
      const content = rawLine.replace(/[#;].*$/, '').trim();
      if (content === '') return;
      const where = `line ${index + 1} ${quoteShort(rawLine.trim())}`;
      const [keyword = '', ...args] = content.split(/\s+/);
      const handler = Object.hasOwn(KEYWORDS, keyword) ? KEYWORDS[keyword] : undefined;
      if (handler) handler(args, where, state);
      else state.warnings.push(`${where} ignored: unknown keyword ${quoteShort(keyword)}`);
    });

  const resOptions = env.RES_OPTIONS;
  if (resOptions !== undefined) {
    const where = `RES_OPTIONS ${quoteShort(resOptions)}`;
    for (const token of resOptions.trim().split(/\s+/)) {
      if (token !== '') applyOption(token, state.opts, where, state.warnings);
    }
  }

  const localDomain = env.LOCALDOMAIN;
  if (localDomain !== undefined) {
    const domains = localDomain.trim().split(/\s+/).filter((d) => d !== '');
    state.search = buildSearchList(domains, `LOCALDOMAIN ${quoteShort(localDomain)}`, state.warnings);
  }

  return {
    nameservers: state.nameservers.length > 0 ? state.nameservers : [{ ...DEFAULT_NAMESERVER }],
    search: state.search,
    ndots: state.opts.ndots,
    timeoutMs: state.opts.timeoutMs,
    attempts: state.opts.attempts,
    rotate: state.opts.rotate,
    // glibc's send_dg: single-request-reopen asks one after the other too.
    singleRequest: state.opts.singleRequest || state.opts.singleRequestReopen,
    singleRequestReopen: state.opts.singleRequestReopen,
    warnings: state.warnings,
  };
}

/**
 * Read and parse resolv.conf (default `/etc/resolv.conf`) with the
 * `RES_OPTIONS` / `LOCALDOMAIN` overrides from `env` (default `process.env`).
 * A missing or unreadable file, or one that is not a regular file (a FIFO is
 * never waited on), gives the defaults plus a warning naming the path and
 * why (env overrides still apply). Past {@link MAX_RESOLV_CONF_BYTES} only
 * the first lines are read, with a warning. Never rejects.
 */
export async function readResolvConf(
  options: { path?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<ResolvConf> {
  const path = options.path ?? DEFAULT_RESOLV_CONF_PATH;
  const env = options.env ?? process.env;
  const overrides = { RES_OPTIONS: env.RES_OPTIONS, LOCALDOMAIN: env.LOCALDOMAIN };
  let file: TextFile;
  try {
    file = await readTextFile(path, MAX_RESOLV_CONF_BYTES);
  } catch (err) {
    const code = err instanceof FileReadError ? err.code : 'EUNKNOWN';
    const why = code === 'ENOTREG' ? `${(err as FileReadError).message}; expected a file` : `${path}: could not be read (${code})`;
    const conf = parseResolvConf('', overrides);
    conf.warnings.unshift(`${why}; using defaults: ${DEFAULTS_TEXT}`);
    return conf;
  }
  const conf = parseResolvConf(file.text, overrides);
  conf.warnings = conf.warnings.map((w) => (w.startsWith('line ') ? `${path} ${w}` : w));
  if (file.truncated) {
    conf.warnings.unshift(`${path}: larger than ${formatBytes(MAX_RESOLV_CONF_BYTES)}; only its first ${formatBytes(MAX_RESOLV_CONF_BYTES)} are read`);
  }
  return conf;
}

/** What a caller sets over resolv.conf: the `nameservers`, `timeout` and `attempts` options, the command's flags. */
interface ResolvConfOverrides {
  nameservers?: readonly Nameserver[] | undefined;
  timeoutMs?: number | undefined;
  attempts?: number | undefined;
}

/** resolv.conf with the caller's settings over it: the one place they are merged (an empty nameserver list sets none). */
export function withOverrides(conf: ResolvConf, overrides: ResolvConfOverrides): ResolvConf {
  const { nameservers, timeoutMs, attempts } = overrides;
  return {
    ...conf,
    nameservers: nameservers && nameservers.length > 0 ? [...nameservers] : conf.nameservers,
    timeoutMs: timeoutMs ?? conf.timeoutMs,
    attempts: attempts ?? conf.attempts,
  };
}

/**
 * The fully qualified names to try for `name`, in order, following glibc's
 * res_search: a name ending in '.' is absolute (only itself, without the
 * dot); a name with at least `ndots` dots is tried as-is first, then with
 * each search domain; otherwise each search domain first, then as-is.
 * The name's case is kept; duplicates are dropped.
 */
export function searchCandidates(name: string, conf: Pick<ResolvConf, 'search' | 'ndots'>): string[] {
  if (name === '' || name === '.') return [];
  if (name.endsWith('.')) return [trimDot(name)];
  const dots = name.split('.').length - 1;
  const withDomains = conf.search
    .map(canonicalName)
    .filter((d) => d !== '')
    .map((d) => `${name}.${d}`);
  const ordered = dots >= conf.ndots ? [name, ...withDomains] : [...withDomains, name];
  return [...new Set(ordered)];
}
