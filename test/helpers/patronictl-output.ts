/**
 * patronictl's output made comparable between two clusters (patronictl-diff.test.ts): tables cell
 * by cell, whatever their column widths, and the values that differ by design blanked — the
 * timeline and lag of members (and their state while the cluster changes), WAL positions.
 * Member names, addresses, the scope and dates are substituted before (patroni-diff.ts).
 */

/** Columns whose values differ by design: in member lists, and LSNs in history. */
function blankCell(column: string, value: string, members: boolean, moving: boolean): string {
  // While the cluster changes, a member may have no timeline or lag yet, and any state.
  if (members && moving && ['TL', 'Lag in MB', 'State'].includes(column)) return `<${column}>`;
  if (members && (column === 'TL' || column === 'Lag in MB')) return value === '' ? '' : `<${column}>`;
  if (column === 'LSN') return '<lsn>';
  return value;
}

/**
 * patronictl's pretty tables cell by cell (column widths follow the values: a different host or
 * state would shift every border), with the columns that differ by design blanked.
 */
export function normaliseTables(text: string, moving: boolean): string[] {
  const lines = text.replace(/\n+$/, '').split('\n');
  let header: string[] | null = null;
  let expectHeader = false;
  return lines.map((line, i) => {
    if (line.startsWith('+')) {
      const title = line.replace(/[-+]/g, ' ').trim().replace(/\s+/g, ' ');
      if (header === null) expectHeader = true;
      else if (!(lines[i + 1] ?? '').startsWith('|') && !(lines[i + 1] ?? '').startsWith('+')) header = null;
      return title ? `+ ${title} +` : '+';
    }
    if (!line.startsWith('|')) return line;
    const cells = line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    if (expectHeader) {
      header = cells;
      expectHeader = false;
      return `| ${cells.join(' | ')} |`;
    }
    const members = header?.includes('Member') ?? false;
    return `| ${cells.map((c, k) => blankCell(header?.[k] ?? '', c, members, moving)).join(' | ')} |`;
  });
}

/** The same for data (JSON, YAML): rows are objects keyed by column. */
export function normaliseData(data: unknown, moving: boolean): unknown {
  if (Array.isArray(data)) return data.map((x) => normaliseData(x, moving));
  if (!data || typeof data !== 'object') return data;
  const row = data as Record<string, unknown>;
  const members = 'Member' in row;
  const blank = (k: string, v: unknown) => {
    if (v && typeof v === 'object') return normaliseData(v, moving);
    const b = blankCell(k, String(v), members, moving);
    return b === String(v) ? v : b;
  };
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, blank(k, v)]));
}

/** A tab-separated table (`-f tsv`): its first line names the columns. */
export function normaliseTsv(text: string, moving: boolean): string[] {
  const [head, ...rows] = text.split('\n').filter((l) => l !== '');
  const columns = head?.split('\t') ?? [];
  const members = columns.includes('Member');
  return [
    head ?? '',
    ...rows.map((r) =>
      r
        .split('\t')
        .map((c, k) => blankCell(columns[k] ?? '', c, members, moving))
        .join('\t'),
    ),
  ];
}
