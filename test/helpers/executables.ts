/**
 * What the project's code runs, found by reading it, and what scripts/install-deps.sh installs.
 * Pure text scanning: test/unit/installed-executables.test.ts joins the two with the machine's
 * package database.
 *
 * A spawned executable is found as:
 * - an absolute path to a program anywhere in a file (`/usr/bin/x`, `/usr/lib/postgresql/15/bin/x`);
 * - the first argument of spawn, spawnSync, execFile, execFileSync, exec, execSync (or a
 *   promisified alias): a string literal in it, `process.execPath` (Node), or a `const` holding a
 *   literal; the command of `sh -c '…'`;
 * - a PostgreSQL program run through the bin_dir runner (`runner.run('pg_ctl', …)`);
 * - in shell scripts, the first word of every command.
 * A spawn whose program the scanner cannot read names it in a comment on its line or the three
 * above: `// spawns: setpriv env node`. One without either is reported as unresolved, so a new
 * spawn cannot slip past the check.
 */

export type Group = 'demo' | 'test' | 'bench';
/** Each group installs the ones before it too: `--bench` installs all three. */
export const GROUPS: readonly Group[] = ['demo', 'test', 'bench'];

/** PostgreSQL's programs, where `postgresql.bin_dir` points by default. */
export const PG_BIN_DIR = '/usr/lib/postgresql/15/bin';

export interface PackageRow {
  group: Group;
  pkg: string;
  paths: string[];
  line: number;
}

export interface Spawned {
  file: string;
  line: number;
  /** An absolute path, or a bare name looked up on PATH. */
  executable: string;
}

export interface Unresolved {
  file: string;
  line: number;
  call: string;
}

/** The `PACKAGES` table of scripts/install-deps.sh. */
export function parsePackageTable(script: string): PackageRow[] {
  const lines = script.split('\n');
  const start = lines.findIndex((l) => /<<'TABLE'/.test(l));
  if (start < 0) throw new Error("scripts/install-deps.sh has no <<'TABLE' package table");
  const rows: PackageRow[] = [];
  for (let i = start + 1; i < lines.length && lines[i] !== 'TABLE'; i++) {
    const [group, pkg, ...paths] = lines[i]!.trim().split(/\s+/);
    if (!group) continue;
    if (!GROUPS.includes(group as Group)) throw new Error(`install-deps.sh:${i + 1}: unknown group ${group}`);
    rows.push({ group: group as Group, pkg: pkg!, paths, line: i + 1 });
  }
  return rows;
}

/** Which group a file's code needs installed: the agent and demo, the tests, or the benchmarks. */
export function groupOf(file: string): Group {
  if (file.startsWith('bench/')) return 'bench';
  if (file.startsWith('test/') || file === 'scripts/test.sh' || file === '.ci/run') return 'test';
  if (file === 'vitest.config.ts') return 'test';
  return 'demo';
}

const PROGRAM_PATH =
  /(?<![\w/.-])(\/(?:usr\/(?:local\/)?)?s?bin\/[A-Za-z0-9_.+-]+|\/usr\/lib\/postgresql\/\d+\/bin\/[A-Za-z0-9_.+-]+)/g;

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

function absolutePaths(file: string, text: string): Spawned[] {
  return [...text.matchAll(PROGRAM_PATH)].map((m) => ({
    file,
    line: lineAt(text, m.index),
    executable: m[1]!,
  }));
}

/** The text of a call's first argument: up to the first comma or parenthesis at depth 0. */
function firstArgument(text: string, open: number): string {
  let depth = 0;
  let quote = '';
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return text.slice(open + 1, i);
      depth--;
    } else if (c === ',' && depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

const LITERAL = /'([^'\\\n]*)'|"([^"\\\n]*)"|`([^`$\\]*)`/g;
const literals = (code: string): string[] => [...code.matchAll(LITERAL)].map((m) => m[1] ?? m[2] ?? m[3]!);
const firstWord = (command: string): string => command.trim().split(/\s+/)[0] ?? '';

const SPAWNERS = ['spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync'];
const SHELL_SPAWNERS = new Set(['exec', 'execSync']);

/**
 * `// spawns: a b (why)` (or `* spawns: a, b`) on the call's line or the three before it: the
 * names up to a parenthesis or semicolon. `spawns: -`
 * (then a reason) says the program is not the project's to install: the operator's $EDITOR, or
 * a helper whose callers name absolute paths (found on their own lines).
 */
function annotation(lines: string[], line: number): string[] | null {
  for (let l = line; l >= Math.max(1, line - 3); l--) {
    const m = /(?:\/\/|\*)\s*spawns:\s*(.+?)\s*(?:\*\/)?$/.exec(lines[l - 1]!);
    if (m)
      return m[1]!.startsWith('-')
        ? []
        : m[1]!
            .split(/[(;]/)[0]!
            .split(/[\s,]+/)
            .filter(Boolean);
  }
  return null;
}

/** Executables a TypeScript or JavaScript file runs; spawns it cannot read are `unresolved`. */
export function scanScript(file: string, text: string): { spawned: Spawned[]; unresolved: Unresolved[] } {
  const spawned = absolutePaths(file, text);
  const unresolved: Unresolved[] = [];
  const lines = text.split('\n');
  const names = [...SPAWNERS];
  for (const m of text.matchAll(/\b(?:const|let)\s+(\w+)\s*=\s*promisify\(\s*(\w+)\s*\)/g)) {
    if (SPAWNERS.includes(m[2]!)) names.push(m[1]!);
  }
  const shellNames = new Set([...SHELL_SPAWNERS]);
  const call = new RegExp(`(?<![\\w.$])(${names.join('|')})\\s*\\(`, 'g');
  for (const m of text.matchAll(call)) {
    const line = lineAt(text, m.index);
    const open = m.index + m[0].length - 1;
    const arg = firstArgument(text, open);
    const found: string[] = [];
    if (/\bprocess\.execPath\b/.test(arg)) found.push('node');
    const lits = literals(arg);
    if (lits.length > 0) found.push(...lits.map((s) => (shellNames.has(m[1]!) ? firstWord(s) : s)));
    else if (/^\s*\w+!?\s*$/.test(arg)) {
      const ident = arg.trim().replace(/!$/, '');
      const def = new RegExp(`\\b(?:const|let)\\s+${ident}\\s*(?::[^=]+)?=\\s*(['"])([^'"]+)\\1`).exec(text);
      if (def) found.push(def[2]!);
    }
    if (found.length === 0) {
      const named = annotation(lines, line);
      if (named) found.push(...named);
      else unresolved.push({ file, line, call: lines[line - 1]!.trim() });
    }
    // `sh -c 'cmd …'`: the shell runs cmd.
    if (found.some((f) => f === 'sh' || f === 'bash' || f.endsWith('/sh') || f.endsWith('/bash'))) {
      const rest = /^\s*,\s*\[\s*'-c'\s*,\s*(['"`])([^'"`]*)\1/.exec(text.slice(open + 1 + arg.length));
      const word = rest ? firstWord(rest[2]!) : '';
      if (/^[A-Za-z_][\w.+-]*$/.test(word) && !SHELL_BUILTINS.has(word)) found.push(word);
    }
    for (const executable of found) spawned.push({ file, line, executable });
  }
  for (const m of text.matchAll(/\brunner\.(?:run|check)\(\s*'([\w.+-]+)'/g)) {
    spawned.push({ file, line: lineAt(text, m.index), executable: `${PG_BIN_DIR}/${m[1]}` });
  }
  return { spawned: distinct(spawned), unresolved };
}

/** One entry per file, line and program (a path literal in a spawn call is found twice). */
function distinct(spawned: Spawned[]): Spawned[] {
  const seen = new Set<string>();
  return spawned.filter((s) => {
    const key = `${s.file}:${s.line}:${s.executable}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const SHELL_BUILTINS = new Set(
  (
    'if then else elif fi for while until do done case esac in function select time ! ' +
    'alias bg bind break builtin caller cd command compgen complete continue declare dirs disown echo ' +
    'enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout ' +
    'mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend test ' +
    'times trap true type typeset ulimit umask unalias unset wait [ [[ ]] ]] : .'
  ).split(' '),
);

/**
 * A shell script with quoted text, comments and here-document bodies blanked out (newlines kept,
 * so line numbers stay), leaving only the commands to read.
 */
export function shellCode(text: string): string {
  let out = '';
  let state: 'code' | "'" | '"' | 'comment' = 'code';
  const heredocs: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      out += '\n';
      if (state === 'comment') state = 'code';
      if (state === 'code' && heredocs.length > 0) {
        // Skip here-document bodies up to their terminators.
        while (heredocs.length > 0) {
          const end = heredocs.shift()!;
          for (;;) {
            const next = text.indexOf('\n', i + 1);
            const body = text.slice(i + 1, next < 0 ? text.length : next);
            i = next < 0 ? text.length : next;
            out += '\n';
            if (body.trim() === end || next < 0) break;
          }
        }
      }
      continue;
    }
    if (state === 'comment') continue;
    if (state === "'") {
      if (c === "'") state = 'code';
      continue;
    }
    if (state === '"') {
      if (c === '\\') i++;
      else if (c === '"') state = 'code';
      continue;
    }
    if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) state = 'comment';
    else if (c === "'" || c === '"') {
      state = c;
      out += "''"; // an empty word stands where the quoted text was
    } else {
      if (c === '<' && text[i + 1] === '<' && text[i + 2] !== '<') {
        const m = /^<<-?\s*(['"]?)(\w+)\1/.exec(text.slice(i));
        if (m) {
          heredocs.push(m[2]!);
          out += '<<';
          i += m[0].length - 1;
          continue;
        }
      }
      out += c;
    }
  }
  return out;
}

/** The first word of every command in a shell script. */
export function scanShell(file: string, text: string): Spawned[] {
  const spawned = absolutePaths(file, shellCode(text));
  const code = shellCode(text).split('\n');
  const functions = new Set(
    [...text.matchAll(/^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)/gm)].map((m) => m[1]!),
  );
  code.forEach((lineText, index) => {
    for (const segment of lineText.split(/;|&&|\|\||\||\$\(|`|\(|\)|\{/)) {
      const words = segment.trim().split(/\s+/);
      let k = 0;
      // Assignments and words that run the next word (`if cmd`, `exec cmd`, `! cmd`).
      while (
        k < words.length &&
        (/^\w+=/.test(words[k]!) || /^(if|then|else|elif|do|while|until|exec|time|!)$/.test(words[k]!))
      )
        k++;
      const word = words[k] ?? '';
      if (!/^[A-Za-z_][\w.+-]*$/.test(word) || SHELL_BUILTINS.has(word) || functions.has(word)) continue;
      spawned.push({ file, line: index + 1, executable: word });
    }
  });
  return spawned;
}
