/** Tables for the console and for Markdown, and number formatting. */

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Lines printed under the table. */
  notes?: string[];
}

function width(text: string): number {
  return [...text].length;
}

function pad(text: string, size: number, right: boolean): string {
  const gap = ' '.repeat(Math.max(0, size - width(text)));
  return right ? gap + text : text + gap;
}

/** Numbers (and "—") right-aligned, words left-aligned. */
function isNumeric(text: string): boolean {
  return /^[-+~<>≈×x]?\s?[\d.,]+\s?(µs|ms|s|%|×|x|B|KiB|MiB|GiB|kB)?$/.test(text.trim()) || text === '—';
}

export function formatTable(table: Table): string {
  const widths = table.headers.map((header, column) =>
    Math.max(width(header), ...table.rows.map((row) => width(row[column] ?? ''))),
  );
  const line = (cells: string[]): string =>
    cells.map((cell, column) => pad(cell, widths[column]!, column > 0 && isNumeric(cell))).join('  ').trimEnd();
  const out = [table.title, line(table.headers), widths.map((size) => '─'.repeat(size)).join('  '), ...table.rows.map(line)];
  for (const note of table.notes ?? []) out.push(`  ${note}`);
  return out.join('\n');
}

export function markdownTable(table: Pick<Table, 'headers' | 'rows'>): string {
  const escape = (cell: string): string => cell.replace(/\|/g, '\\|');
  const align = table.headers.map((_, column) =>
    column > 0 && table.rows.every((row) => isNumeric(row[column] ?? '')) ? '---:' : '---',
  );
  return [
    `| ${table.headers.map(escape).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...table.rows.map((row) => `| ${row.map(escape).join(' | ')} |`),
  ].join('\n');
}

/** 3 significant digits, no exponent. */
export function sig(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  const decimals = Math.max(0, digits - 1 - magnitude);
  return value.toLocaleString('en-US', { maximumFractionDigits: decimals, minimumFractionDigits: 0 });
}

export function us(valueUs: number): string {
  return Number.isFinite(valueUs) ? `${sig(valueUs)} µs` : '—';
}

/** Milliseconds in, shown as µs below 1 ms, else ms (or s above 10 s). */
export function ms(valueMs: number): string {
  if (!Number.isFinite(valueMs)) return '—';
  if (Math.abs(valueMs) < 1) return `${sig(valueMs * 1000)} µs`;
  if (Math.abs(valueMs) >= 10_000) return `${sig(valueMs / 1000)} s`;
  return `${sig(valueMs)} ms`;
}

export function times(value: number): string {
  return Number.isFinite(value) ? `${sig(value)}×` : '—';
}

export function pct(fraction: number): string {
  return Number.isFinite(fraction) ? `${sig(fraction * 100, 3)} %` : '—';
}

export function bytes(value: number): string {
  if (!Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs >= 1 << 30) return `${sig(value / (1 << 30))} GiB`;
  if (abs >= 1 << 20) return `${sig(value / (1 << 20))} MiB`;
  if (abs >= 1 << 10) return `${sig(value / (1 << 10))} KiB`;
  return `${Math.round(value)} B`;
}

export function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—';
}
