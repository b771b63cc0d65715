/** Python's difflib.unified_diff(a, b) (empty file names, 3 lines of context) over lines, as patronictl prints it. */

type Tag = 'equal' | 'replace' | 'delete' | 'insert';
type Opcode = [Tag, number, number, number, number];

/** Longest-common-subsequence opcodes; adjacent deletions and insertions merge into one replace. */
function opcodes(a: readonly string[], b: readonly string[]): Opcode[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const codes: Opcode[] = [];
  const push = (tag: Tag, i1: number, i2: number, j1: number, j2: number) => {
    const last = codes[codes.length - 1];
    if (last && last[0] === tag) {
      last[2] = i2;
      last[4] = j2;
    } else if (last && tag !== 'equal' && last[0] !== 'equal') {
      codes[codes.length - 1] = ['replace', last[1], i2, last[3], j2];
    } else codes.push([tag, i1, i2, j1, j2]);
  };
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      push('equal', i, i + 1, j, j + 1);
      i++;
      j++;
    } else if (j >= m || (i < n && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      // Deleting first on ties puts "-old" before "+new", as difflib does.
      push('delete', i, i + 1, j, j);
      i++;
    } else {
      push('insert', i, i, j, j + 1);
      j++;
    }
  }
  return codes;
}

function groups(codes: Opcode[], n = 3): Opcode[][] {
  const c: Opcode[] = codes.length > 0 ? codes.map((x) => [...x] as Opcode) : [['equal', 0, 1, 0, 1]];
  const first = c[0]!;
  if (first[0] === 'equal')
    c[0] = ['equal', Math.max(first[1], first[2] - n), first[2], Math.max(first[3], first[4] - n), first[4]];
  const last = c[c.length - 1]!;
  if (last[0] === 'equal')
    c[c.length - 1] = [
      'equal',
      last[1],
      Math.min(last[2], last[1] + n),
      last[3],
      Math.min(last[4], last[3] + n),
    ];
  const out: Opcode[][] = [];
  let group: Opcode[] = [];
  for (const code of c) {
    let [tag, i1, i2, j1, j2] = code;
    if (tag === 'equal' && i2 - i1 > 2 * n) {
      group.push([tag, i1, Math.min(i2, i1 + n), j1, Math.min(j2, j1 + n)]);
      out.push(group);
      group = [];
      i1 = Math.max(i1, i2 - n);
      j1 = Math.max(j1, j2 - n);
    }
    group.push([tag, i1, i2, j1, j2]);
  }
  if (group.length > 0 && !(group.length === 1 && group[0]![0] === 'equal')) out.push(group);
  return out;
}

function range(start: number, stop: number): string {
  const length = stop - start;
  if (length === 1) return `${start + 1}`;
  return `${length === 0 ? start : start + 1},${length}`;
}

/** The diff lines (without newlines); none when the texts are equal. */
export function unifiedDiff(before: string, after: string): string[] {
  const split = (s: string) => s.replace(/\n+$/, '').split('\n');
  const a = split(before);
  const b = split(after);
  const out: string[] = [];
  for (const g of groups(opcodes(a, b))) {
    if (out.length === 0) out.push('--- ', '+++ ');
    const f = g[0]!;
    const l = g[g.length - 1]!;
    out.push(`@@ -${range(f[1], l[2])} +${range(f[3], l[4])} @@`);
    for (const [tag, i1, i2, j1, j2] of g) {
      if (tag === 'equal') for (const line of a.slice(i1, i2)) out.push(` ${line}`);
      if (tag === 'replace' || tag === 'delete') for (const line of a.slice(i1, i2)) out.push(`-${line}`);
      if (tag === 'replace' || tag === 'insert') for (const line of b.slice(j1, j2)) out.push(`+${line}`);
    }
  }
  return out;
}
