/**
 * patronictl's output formats, byte for byte where it matters: PrettyTable boxes with the cluster
 * title injected into the top rule, tab-separated rows, Python `json.dumps` and PyYAML `safe_dump`.
 */
import { stringify } from 'yaml';
import { pyJson } from '../../transport/etcd-keys.ts';
import type { Format } from './choices.ts';

export type Align = 'l' | 'r';
export type Cell = string | number | boolean | null | undefined | Record<string, unknown> | unknown[];

/** Python's `json.dumps(v)` with its default `", "` / `": "` separators and ASCII escapes. */
export function pyDumps(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyDumps).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const parts = Object.entries(value).map(([k, v]) => `${pyJson(k)}: ${pyDumps(v)}`);
    return `{${parts.join(', ')}}`;
  }
  if (value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && !Number.isFinite(value)) return value > 0 ? 'Infinity' : 'NaN';
  return pyJson(value);
}

/** PyYAML `safe_dump(data, default_flow_style=flow, width=200)`: sorted keys, unindented lists. */
export function yamlDump(data: unknown, flow = false): string {
  return stringify(data, {
    version: '1.1',
    sortMapEntries: true,
    indentSeq: false,
    lineWidth: 200,
    minContentWidth: 0,
    singleQuote: true,
    flowCollectionPadding: false,
    collectionStyle: flow ? 'flow' : 'block',
  });
}

/** Python's str() of a cell. */
export function cellText(v: Cell): string {
  if (v === null || v === undefined) return v === null ? 'None' : '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'object') return pyDumps(v);
  return String(v);
}

function justify(text: string, width: number, align: Align): string {
  return align === 'r' ? text.padStart(width) : text.padEnd(width);
}

/**
 * PrettyTable with every column left-aligned unless `align` says otherwise (headers too), FRAME
 * rules, or ALL when a cell spans lines; `title` replaces the start of the top rule as patronictl does.
 */
export function renderTable(
  columns: readonly string[],
  rows: readonly (readonly Cell[])[],
  align: Readonly<Record<string, Align>> = {},
  title?: string,
): string {
  const cells = rows.map((r) => columns.map((_, i) => cellText(r[i]).split('\n')));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((r) => Math.max(...r[i]!.map((l) => l.length)))),
  );
  const aligns = columns.map((c) => align[c] ?? 'l');
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (texts: readonly string[]) =>
    `|${texts.map((t, i) => ` ${justify(t, widths[i]!, aligns[i]!)} `).join('|')}|`;
  const multiline = cells.some((r) => r.some((c) => c.length > 1));
  let top = rule;
  if (title) {
    const head = title.slice(0, rule.length - 2);
    top = rule[0] + head + rule.slice(1 + head.length);
  }
  const out = [top, line(columns), rule];
  for (const r of cells) {
    const height = Math.max(...r.map((c) => c.length));
    for (let k = 0; k < height; k++) out.push(line(r.map((c) => c[k] ?? '')));
    if (multiline) out.push(rule);
  }
  if (!multiline) out.push(rule);
  return out.join('\n');
}

export interface OutputOptions {
  fmt: Format;
  align?: Readonly<Record<string, Align>>;
  /** Table title; when set, empty cells are dropped from json/yaml records as patronictl does. */
  header?: string;
  delimiter?: string;
}

/** patronictl's print_output: returns the text to print (without the final newline). */
export function formatOutput(
  columns: readonly string[],
  rows: readonly (readonly Cell[])[],
  o: OutputOptions,
): string {
  const { fmt, header } = o;
  if (fmt === 'json' || fmt === 'yaml' || fmt === 'yml') {
    const records = rows.map((r) => {
      const rec: Record<string, unknown> = {};
      columns.forEach((c, i) => {
        const v = r[i];
        if (!header || cellText(v as Cell) !== '') rec[c] = v === undefined ? '' : v;
      });
      return rec;
    });
    return fmt === 'json' ? pyDumps(records) : yamlDump(records);
  }
  const listCluster = !!header && columns[0] === 'Cluster';
  let cols = [...columns];
  let body = rows.map((r) => [...r]);
  const tagsAt = cols.indexOf('Tags');
  if (listCluster && tagsAt >= 0) {
    for (const r of body) {
      const tags = r[tagsAt];
      if (tags && typeof tags === 'object') r[tagsAt] = yamlDump(tags, fmt === 'tsv').trim();
    }
  }
  if (listCluster && fmt !== 'tsv') {
    cols = cols.slice(1);
    body = body.map((r) => r.slice(1));
  }
  if (fmt === 'tsv') {
    const delimiter = o.delimiter ?? '\t';
    return [cols, ...body].map((r) => r.map((c) => cellText(c as Cell)).join(delimiter)).join('\n');
  }
  return renderTable(cols, body, o.align, header);
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** patronictl's `timestamp(precision)`: local `YYYY-MM-DD HH:MM:SS` plus `precision - 1` digits of the fraction. */
export function timestamp(precision = 6, at: Date = new Date()): string {
  const base = `${at.getFullYear()}-${pad2(at.getMonth() + 1)}-${pad2(at.getDate())} ${pad2(at.getHours())}:${pad2(at.getMinutes())}:${pad2(at.getSeconds())}`;
  if (precision <= 1) return base;
  const micros = String(at.getMilliseconds() * 1000).padStart(6, '0');
  return `${base}.${micros.slice(0, precision - 1)}`;
}

/** server_version_num → `15.4` / `9.6.24` (patronictl's format_pg_version). */
export function formatPgVersion(version: number): string {
  if (version < 100000) {
    return `${Math.floor(version / 10000)}.${Math.floor(version / 100) % 100}.${version % 100}`;
  }
  return `${Math.floor(version / 10000)}.${version % 100}`;
}
