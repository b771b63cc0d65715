/** Markdown tables with one row per run and a median row per group. */

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const fmt = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? '—' : x.toFixed(digits);

/** A numeric column: per-run value, and the median over the group's successful runs. */
export interface Column<R> {
  head: string;
  get: (r: R) => number | null;
  digits?: number;
}

/** A text column after the numeric ones; empty in the median row. */
export interface TextColumn<R> {
  head: string;
  get: (r: R) => string;
}

/**
 * | group | run | numeric columns… | text columns… | — one row per run, then
 * | **group** | **median (ok/all ok)** | **medians…** | (empty) | per group.
 */
export function groupedTable<R extends { ok: boolean; run: number }>(opts: {
  groupHead: string;
  groups: Array<{ name: string; runs: R[] }>;
  columns: Array<Column<R>>;
  text: Array<TextColumn<R>>;
}): string {
  const { columns, text } = opts;
  const head = [opts.groupHead, 'run', ...columns.map((c) => c.head), ...text.map((c) => c.head)];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  const row = (cells: string[]) => lines.push(`| ${cells.join(' | ')} |`);
  for (const { name, runs } of opts.groups) {
    if (runs.length === 0) continue;
    for (const r of runs) {
      row([
        name,
        String(r.run),
        ...columns.map((c) => fmt(c.get(r), c.digits)),
        ...text.map((c) => c.get(r)),
      ]);
    }
    const ok = runs.filter((r) => r.ok);
    const meds = columns.map((c) =>
      fmt(median(ok.map(c.get).filter((x): x is number => x !== null)), c.digits),
    );
    row([
      `**${name}**`,
      `**median (${ok.length}/${runs.length} ok)**`,
      ...meds.map((m) => `**${m}**`),
      ...text.map(() => ''),
    ]);
  }
  return lines.join('\n');
}
