/**
 * Everything the demo prints. Two modes:
 * - live (a terminal): events scroll, and a compact table of the current
 *   phase is redrawn in place below them every second;
 * - plain (CI logs, pipes, --plain): the same events, plus one line a second.
 * Both end with the same summary table.
 */
import type { PodState } from '../../harness/pods.js';
import { labels, podLabel, ranges, type PhaseState } from './scenario.js';
import { CLIENTS, CLIENT_NAMES, type ClientKey, type Counts, type DemoSummary, type PhaseSummary } from './stats.js';

export interface Output {
  write(text: string): unknown;
  /** Terminal size, for the live table. */
  columns?: number;
  rows?: number;
}

export interface HeaderInfo {
  service: string;
  dnsAddresses: Record<ClientKey, string>;
  ttl: number;
  port: number;
  pods: number;
  intervalMs: number;
  jitter: number;
  durationMs: number;
  loadIntervalMs: number;
  builtinMinResolutionMs: number;
  targets: Record<ClientKey, string>;
  phases: readonly PhaseState[];
}

export interface PodRow {
  host: string;
  state: PodState;
  inDns: boolean;
}

export interface TickInfo {
  nowMs: number;
  phase: PhaseState;
  phaseCount: number;
  dnsRecords: readonly string[];
  pods: readonly PodRow[];
  lastSecond: Record<ClientKey, Counts>;
  phaseSoFar: Record<ClientKey, Counts>;
  builtinLookups: number;
  dnsWatchPolls: number;
}

const BAR_WIDTH = 10;

export class View {
  private readonly color: boolean;
  private readonly live: boolean;
  private readonly out: Output;
  /** Terminal rows the live block occupies right now (0: none drawn). */
  private blockRows = 0;
  private lastBlock: string[] = [];

  constructor(options: { color: boolean; live: boolean; out: Output }) {
    this.color = options.color;
    this.live = options.live;
    this.out = options.out;
    if (this.live) this.out.write('\x1b[?25l'); // hide the cursor while redrawing
  }

  // ------------------------------------------------------------- styling

  private paint(code: string, text: string): string {
    return this.color && text !== '' ? `\x1b[${code}m${text}\x1b[0m` : text;
  }
  private bold = (t: string) => this.paint('1', t);
  private dim = (t: string) => this.paint('2', t);
  private red = (t: string) => this.paint('31', t);
  private green = (t: string) => this.paint('32', t);
  private yellow = (t: string) => this.paint('33', t);
  private cyan = (t: string) => this.paint('36', t);

  private failures(n: number): string {
    return n > 0 ? this.red(String(n)) : String(n);
  }

  // ------------------------------------------------------------- output

  /** Lines that scroll (above the live block). */
  private print(lines: string[]): void {
    const clear = this.clearBlock();
    this.out.write(clear + lines.map((line) => line + '\n').join('') + this.drawBlock(this.lastBlock));
  }

  private clearBlock(): string {
    if (!this.live || this.blockRows === 0) return '';
    const rows = this.blockRows;
    this.blockRows = 0;
    return `\x1b[${rows}F\x1b[0J`;
  }

  private drawBlock(lines: string[]): string {
    if (!this.live || lines.length === 0) return '';
    const columns = this.out.columns && this.out.columns > 0 ? this.out.columns : 80;
    this.blockRows = lines.reduce((rows, line) => rows + Math.max(1, Math.ceil(visibleWidth(line) / columns)), 0);
    return lines.map((line) => line + '\n').join('');
  }

  // ------------------------------------------------------------- events

  header(info: HeaderInfo): void {
    const seconds = (ms: number) => `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
    const plan = info.phases.map((p) => `${p.title} ${seconds(p.endMs - p.startMs)}`).join(', ');
    this.print([
      this.bold(`grpc-dns-watch demo: ${info.pods} pods; ${plan} (${seconds(info.durationMs)})`),
      `  service  ${info.service}:${info.port}, headless: one A record per ready pod, TTL ${info.ttl} s`,
      `  DNS      the demo's own servers with the same records, one per client to count its queries`,
      `  pods     real grpc-js servers on 127.0.0.x:${info.port}, shown as .x; + marks pods started in the current phase`,
      `  load     each client: one RPC at a time, ${info.loadIntervalMs} ms apart, round_robin`,
      `  ${this.yellow('built-in'.padEnd(15))} ${info.targets.builtin}`,
      `  ${' '.repeat(15)} grpc-js's own resolver: asks DNS again only when the channel asks, at most every ${info.builtinMinResolutionMs / 1000} s`,
      `  ${this.cyan('grpc-dns-watch'.padEnd(15))} ${info.targets.dnsWatch} (DNS ${info.dnsAddresses.dnsWatch})`,
      `  ${' '.repeat(15)} polls DNS every ${info.intervalMs} ms (±${Math.round(info.jitter * 100)} % jitter)`,
      this.dim(`  note: GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true: built-in asks the demo DNS via c-ares, same re-resolution timing`),
    ]);
  }

  event(atMs: number, text: string): void {
    this.print([`${this.dim(stamp(atMs))}  ${text}`]);
  }

  phaseStart(phase: PhaseState, count: number): void {
    this.lastBlock = []; // the live table of the last phase goes; the next tick draws this one's
    this.print([
      '',
      `${this.dim(stamp(phase.startMs))}  ${this.bold(`== phase ${phase.index + 1}/${count}: ${phase.title} ==`)} ${phase.blurb}`,
    ]);
  }

  phaseEnd(summary: PhaseSummary, count: number): void {
    const lines = [`${this.dim(stamp(summary.endMs))}  ${this.bold(`phase ${summary.index + 1}/${count} ${summary.title}`)} done:`];
    for (const key of CLIENTS) {
      const c = summary.clients[key];
      const newPart =
        summary.added.length === 0
          ? ''
          : `; new pods ${c.newPodsReached.length}/${summary.added.length}, ${percent(c.shareOnNewPods)} of answers`;
      lines.push(
        `          ${this.clientName(key, 15)} ${String(c.rpcs).padStart(5)} RPCs, ${this.failures(c.failed)} failed; reached ${ranges(c.podsReached)}${newPart}`,
      );
    }
    this.print(lines);
  }

  private clientName(key: ClientKey, width = 0): string {
    const name = CLIENT_NAMES[key].padEnd(width);
    return key === 'builtin' ? this.yellow(name) : this.cyan(name);
  }

  // ------------------------------------------------------------- every second

  tick(info: TickInfo): void {
    if (this.live) {
      this.lastBlock = this.liveBlock(info);
      this.out.write(this.clearBlock() + this.drawBlock(this.lastBlock));
      return;
    }
    const isNew = (host: string) => info.phase.added.includes(host);
    const parts = CLIENTS.map((key) => {
      const counts = info.lastSecond[key];
      const pods = [...counts.byPod.entries()]
        .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
        .map(([host, n]) => `${isNew(host) ? '+' : ''}${podLabel(host)}=${n}`)
        .join(' ');
      return `${this.clientName(key)}: ${pods || '-'} fail=${this.failures(counts.failed)}`;
    });
    this.print([`${this.dim(stamp(info.nowMs))}  ${info.phase.title.padEnd(14)} ${parts.join('  |  ')}`]);
  }

  private liveBlock(info: TickInfo): string[] {
    const phase = info.phase;
    const inPhase = info.nowMs - phase.startMs;
    const isNew = (host: string) => phase.added.includes(host);
    const shown = info.pods.filter(
      (pod) =>
        pod.inDns ||
        pod.state === 'running' ||
        pod.state === 'stopping' ||
        phase.killed.includes(pod.host) ||
        CLIENTS.some((key) => info.lastSecond[key].byPod.has(pod.host)),
    );
    const rule = this.dim('-'.repeat(86));
    const lines: string[] = [
      rule,
      `${this.bold(stamp(info.nowMs))}  phase ${phase.index + 1}/${info.phaseCount} ${this.bold(phase.title)}` +
        this.dim(` (${(inPhase / 1000).toFixed(1)} of ${((phase.endMs - phase.startMs) / 1000).toFixed(1)} s)`) +
        `   DNS lookups: built-in ${info.builtinLookups}, grpc-dns-watch ${info.dnsWatchPolls}`,
      `DNS ${ranges(info.dnsRecords)}`,
      this.dim(
        `${'pod'.padEnd(6)} ${'in DNS'.padEnd(6)} ${'state'.padEnd(8)} | ${'built-in'.padEnd(BAR_WIDTH)} ${'1 s'.padStart(4)} ${'phase'.padStart(6)} | ${'grpc-dns-watch'.padEnd(BAR_WIDTH + 5)} ${'1 s'.padStart(4)} ${'phase'.padStart(6)}`,
      ),
    ];
    // Keep the block shorter than the terminal, or redrawing it cannot reach its top.
    const maxRows = Math.max(3, (this.out.rows && this.out.rows > 0 ? this.out.rows : 24) - 9);
    const hidden = Math.max(0, shown.length - maxRows);
    for (const pod of shown.slice(0, shown.length - hidden)) {
      const label = `${isNew(pod.host) ? '+' : ' '}${podLabel(pod.host)}`.padEnd(6);
      const name = isNew(pod.host) ? this.green(label) : pod.inDns ? label : this.dim(label);
      const state =
        pod.state === 'killed' ? this.red(pod.state.padEnd(8)) : pod.state === 'running' ? pod.state.padEnd(8) : this.dim(pod.state.padEnd(8));
      const cells = CLIENTS.map((key) => {
        const last = info.lastSecond[key];
        const n = last.byPod.get(pod.host) ?? 0;
        const answered = last.rpcs - last.failed;
        const bar = '#'.repeat(answered > 0 ? Math.round((BAR_WIDTH * n) / answered) : 0).padEnd(BAR_WIDTH + (key === 'dnsWatch' ? 5 : 0));
        const paintedBar = key === 'builtin' ? this.yellow(bar) : this.cyan(bar);
        return `${paintedBar} ${String(n).padStart(4)} ${String(info.phaseSoFar[key].byPod.get(pod.host) ?? 0).padStart(6)}`;
      });
      lines.push(`${name} ${(pod.inDns ? 'yes' : 'no').padEnd(6)} ${state} | ${cells.join(' | ')}`);
    }
    const failedCells = CLIENTS.map((key) => {
      const pad = BAR_WIDTH + (key === 'dnsWatch' ? 5 : 0);
      const last = info.lastSecond[key].failed;
      const total = info.phaseSoFar[key].failed;
      return `${' '.repeat(pad)} ${padStartPainted(this.failures(last), String(last), 4)} ${padStartPainted(this.failures(total), String(total), 6)}`;
    });
    if (hidden > 0) lines.push(this.dim(`(${hidden} more pods; a taller terminal shows them)`));
    lines.push(`${'failed'.padEnd(22)} | ${failedCells.join(' | ')}`);
    lines.push(rule);
    return lines;
  }

  // ------------------------------------------------------------- the end

  summary(summary: DemoSummary): void {
    this.lastBlock = [];
    const header = ['', 'client', 'RPCs', 'failed', 'pods reached', 'new pods', 'answers on new pods'];
    const right = [false, false, true, true, false, true, false];
    const rows: Array<Cell[] | string> = [];
    for (const phase of summary.phases) {
      rows.push(
        this.bold(`${phase.index + 1} ${phase.title}`) +
          ` (${((phase.endMs - phase.startMs) / 1000).toFixed(1)} s): ${whatHappened(phase)}`,
      );
      for (const key of CLIENTS) {
        const c = phase.clients[key];
        const shareText =
          c.shareOnNewPods === null
            ? '-'
            : `${percent(c.shareOnNewPods)}${c.firstNewPodAnswerMs !== null ? `, first after ${(c.firstNewPodAnswerMs / 1000).toFixed(1)} s` : ''}`;
        rows.push([
          { text: '' },
          { text: CLIENT_NAMES[key], paint: key === 'builtin' ? this.yellow : this.cyan },
          { text: String(c.rpcs) },
          { text: String(c.failed), paint: c.failed > 0 ? this.red : undefined },
          { text: `${c.podsReached.length}: ${ranges(c.podsReached)}` },
          { text: phase.added.length === 0 ? '-' : `${c.newPodsReached.length}/${phase.added.length}` },
          { text: shareText, paint: c.shareOnNewPods !== null && c.shareOnNewPods > 0 ? this.green : undefined },
        ]);
      }
    }
    rows.push(this.bold('all phases') + ` (${(summary.scenarioMs / 1000).toFixed(1)} s)`);
    for (const key of CLIENTS) {
      const t = summary.totals[key];
      rows.push([
        { text: '' },
        { text: CLIENT_NAMES[key], paint: key === 'builtin' ? this.yellow : this.cyan },
        { text: String(t.rpcs) },
        { text: String(t.failed), paint: t.failed > 0 ? this.red : undefined },
      ]);
    }
    const lines = ['', this.bold('Summary: RPCs per phase and client'), ...table(header, right, rows, this.dim)];
    const lookups = summary.builtinLookupsMs;
    lines.push(
      '',
      `DNS lookups: the built-in resolver asked ${lookups.length} time${lookups.length === 1 ? '' : 's'}` +
        (lookups.length ? ` (at ${lookups.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')})` : '') +
        `, grpc-dns-watch ${summary.dnsWatchPolls} times.`,
    );
    const errorLines: string[] = [];
    for (const phase of summary.phases) {
      for (const key of CLIENTS) {
        const c = phase.clients[key];
        if (c.failed === 0) continue;
        const [firstError] = c.errors;
        const text =
          firstError === undefined
            ? 'the same errors as in an earlier phase'
            : truncate(firstError.replace(/\s*Resolution note:\s*$/, ''), 200) +
              (c.errors.length > 1 ? ` (and ${c.errors.length - 1} more like it)` : '');
        errorLines.push(`  ${phase.title}, ${CLIENT_NAMES[key]}: ${text}`);
      }
    }
    if (errorLines.length) lines.push('Errors, as the clients saw them (first of each kind):', ...errorLines);
    lines.push(this.dim(`Run took ${(summary.wallMs / 1000).toFixed(1)} s.`));
    this.print(lines);
  }

  /** Put the cursor back; leaves everything printed so far in place. */
  close(): void {
    if (this.live) this.out.write(this.clearBlock() + '\x1b[?25h');
    this.lastBlock = [];
  }
}

// ---------------------------------------------------------------- helpers

interface Cell {
  text: string;
  paint?: ((text: string) => string) | undefined;
}

/**
 * Fixed-width columns; widths from the raw text, colours applied after
 * padding. A string row is a heading line spanning the table.
 */
function table(header: string[], right: boolean[], rows: Array<Cell[] | string>, dim: (t: string) => string): string[] {
  const cellRows = rows.filter((row): row is Cell[] => typeof row !== 'string');
  const widths = header.map((h, i) => Math.max(h.length, ...cellRows.map((row) => row[i]?.text.length ?? 0)));
  const render = (cells: Cell[]) =>
    cells
      .map((cell, i) => {
        const padded = right[i] ? cell.text.padStart(widths[i]!) : cell.text.padEnd(widths[i]!);
        return cell.paint ? cell.paint(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  const rule = dim('-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1)));
  return [
    dim(render(header.map((text) => ({ text })))),
    rule,
    ...rows.map((row) => (typeof row === 'string' ? row : render(row))),
    rule,
  ];
}

function whatHappened(phase: PhaseSummary): string {
  switch (phase.key) {
    case 'steady':
      return 'no change';
    case 'scale-up':
      return `${phase.added.length} pods added (${ranges(phase.added)})`;
    case 'rolling-update':
      return `${ranges(phase.retired)} replaced one by one by ${ranges(phase.added)}`;
    case 'crash':
      return phase.killed.length ? `${labels(phase.killed)} killed while in DNS, removed from DNS later` : 'no crash';
  }
}

function stamp(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1).padStart(5)}s`;
}

function percent(share: number | null): string {
  return share === null ? '-' : `${Math.round(share * 100)} %`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function padStartPainted(painted: string, raw: string, width: number): string {
  return ' '.repeat(Math.max(0, width - raw.length)) + painted;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

export function visibleWidth(text: string): number {
  return [...text.replace(ANSI, '')].length;
}
