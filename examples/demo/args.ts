/**
 * Command-line flags of the demo. No grpc in here: main.ts parses flags before
 * @grpc/grpc-js is loaded, and a bad flag exits 2 without starting anything.
 */

export interface DemoOptions {
  /** Pods at the start; the scale-up adds as many again. */
  pods: number;
  /** grpc-dns-watch's refreshInterval, ms. */
  intervalMs: number;
  /** Length of the scenario (all four phases), ms. */
  durationMs: number;
  /** ANSI colours. */
  color: boolean;
  /** Redraw a live table in place (a terminal) instead of printing one line a second. */
  live: boolean;
  /** Write the summary as JSON to this file. */
  jsonSummary: string | undefined;
  /** --quick was given (only changes the default duration). */
  quick: boolean;
}

export const LIMITS = {
  pods: { min: 1, max: 8, default: 3 },
  intervalMs: { min: 100, max: 10_000, default: 1_000 },
  /** Seconds. The whole run (start-up and tear-down included) stays under a minute. */
  duration: { min: 8, max: 50, default: 40, quick: 10 },
} as const;

export const USAGE = `Usage: npm run demo -- [flags]      (or: npx tsx examples/demo/main.ts [flags])

Plays a scale-up, a rolling update and a pod crash against two gRPC clients
side by side (grpc-js's built-in dns resolver and grpc-dns-watch) and shows
which pod served each client's RPCs, live and phase by phase.

Flags:
  --pods <n>            pods at the start, ${LIMITS.pods.min}..${LIMITS.pods.max} (default ${LIMITS.pods.default}); the scale-up adds as many again
  --interval <ms>       grpc-dns-watch refreshInterval, ${LIMITS.intervalMs.min}..${LIMITS.intervalMs.max} (default ${LIMITS.intervalMs.default})
  --duration <s>        length of the four phases together, ${LIMITS.duration.min}..${LIMITS.duration.max} (default ${LIMITS.duration.default})
  --quick               short run of about ${LIMITS.duration.quick} s (same as --duration ${LIMITS.duration.quick})
  --json-summary <file> also write the summary as JSON to <file>
  --no-color            no ANSI colours (automatic when NO_COLOR is set or stdout is not a terminal)
  --color               colours even when stdout is not a terminal
  --plain               one line per second instead of a live table (automatic when stdout is not a terminal)
  -h, --help            show this help

Exit status: 0 when the scenario ran to the end, 1 on an error, 2 on a bad flag, 130 when interrupted.`;

/** A bad command line: main.ts prints the message and the usage, and exits 2. */
export class ArgsError extends Error {
  constructor(
    message: string,
    readonly flag: string,
  ) {
    super(message);
    this.name = 'ArgsError';
  }
}

export type ParseResult = { help: true } | { help: false; options: DemoOptions };

export interface Environment {
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

const VALUE_FLAGS = new Set(['--pods', '--interval', '--duration', '--json-summary']);
const SWITCHES = new Set(['--quick', '--no-color', '--color', '--plain', '--help', '-h']);

export function parseArgs(argv: readonly string[], environment: Environment): ParseResult {
  const values = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_FLAGS.has(flag)) {
      let value: string | undefined;
      if (eq > 0) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        // `--pods --quick`: the flag's value is missing, not "--quick".
        if (value !== undefined && value.startsWith('--')) value = undefined;
        else i++;
      }
      if (value === undefined || value === '') throw new ArgsError(`${flag} needs a value`, flag);
      if (values.has(flag)) throw new ArgsError(`${flag} was given twice`, flag);
      values.set(flag, value);
    } else if (SWITCHES.has(flag)) {
      if (eq > 0) throw new ArgsError(`${flag} takes no value`, flag);
      switches.add(flag);
    } else if (arg.startsWith('-')) {
      throw new ArgsError(`unknown flag ${flag}`, flag);
    } else {
      throw new ArgsError(`unexpected argument ${JSON.stringify(arg)} (flags start with --)`, arg);
    }
  }
  if (switches.has('--help') || switches.has('-h')) return { help: true };
  if (switches.has('--color') && switches.has('--no-color')) {
    throw new ArgsError('--color and --no-color contradict each other', '--no-color');
  }

  const quick = switches.has('--quick');
  const pods = integer(values.get('--pods'), '--pods', LIMITS.pods.min, LIMITS.pods.max, LIMITS.pods.default);
  const intervalMs = integer(values.get('--interval'), '--interval', LIMITS.intervalMs.min, LIMITS.intervalMs.max, LIMITS.intervalMs.default);
  if (quick && values.has('--duration')) throw new ArgsError('--quick and --duration contradict each other (--quick means --duration 10)', '--duration');
  const seconds = decimal(
    values.get('--duration'),
    '--duration',
    LIMITS.duration.min,
    LIMITS.duration.max,
    quick ? LIMITS.duration.quick : LIMITS.duration.default,
  );
  const noColorEnv = environment.env.NO_COLOR !== undefined && environment.env.NO_COLOR !== '';
  const color = switches.has('--color') || (!switches.has('--no-color') && !noColorEnv && environment.isTTY);
  return {
    help: false,
    options: {
      pods,
      intervalMs,
      durationMs: Math.round(seconds * 1000),
      color,
      live: environment.isTTY && !switches.has('--plain'),
      jsonSummary: values.get('--json-summary'),
      quick,
    },
  };
}

function integer(raw: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ArgsError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`, flag);
  }
  return value;
}

function decimal(raw: string | undefined, flag: string, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ArgsError(`${flag} must be a number of seconds from ${min} to ${max}, got ${JSON.stringify(raw)}`, flag);
  }
  return value;
}
