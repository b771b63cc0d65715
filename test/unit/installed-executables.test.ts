/**
 * Everything the code runs is there on a fresh machine: each executable that src/, test/, bench/,
 * bin/ or scripts/ spawns is part of Node, of Debian's required base system, or a package that
 * scripts/install-deps.sh installs (for the demo, the tests or the benchmarks, as the code that
 * runs it needs). etcdctl was missing once: etcd-server does not ship it, and only machines where
 * someone had installed etcd-client by hand passed the suite.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GROUPS,
  type Group,
  groupOf,
  type PackageRow,
  parsePackageTable,
  type Spawned,
  scanScript,
  scanShell,
  type Unresolved,
} from '../helpers/executables.ts';

const REPO = resolve(import.meta.dirname, '../..');
const NODE = new Set(['node', 'npm', 'npx']);
const BIN_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
/** The checker itself: its comments and planted examples name programs it does not run. */
const CHECKER = new Set(['test/helpers/executables.ts', 'test/unit/installed-executables.test.ts']);

function filesUnder(dir: string): string[] {
  if (!existsSync(join(REPO, dir))) return [];
  return readdirSync(join(REPO, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(REPO, join(e.parentPath, e.name)));
}

function scanRepo(): { spawned: Spawned[]; unresolved: Unresolved[] } {
  const spawned: Spawned[] = [];
  const unresolved: Unresolved[] = [];
  const code = [
    ...filesUnder('src'),
    ...filesUnder('test'),
    ...filesUnder('bench'),
    ...filesUnder('bin'),
  ].filter((f) => !CHECKER.has(f));
  for (const file of [...code.filter((f) => /\.(ts|js|mjs|cjs)$/.test(f)), 'vitest.config.ts']) {
    const r = scanScript(file, readFileSync(join(REPO, file), 'utf8'));
    spawned.push(...r.spawned);
    unresolved.push(...r.unresolved);
  }
  for (const file of [...filesUnder('scripts').filter((f) => f.endsWith('.sh')), '.ci/run']) {
    spawned.push(...scanShell(file, readFileSync(join(REPO, file), 'utf8')));
  }
  return { spawned, unresolved };
}

/** The same program under /usr/bin and /bin (Debian's merged /usr), or each bin dir for a bare name. */
function candidates(executable: string): string[] {
  if (!executable.startsWith('/')) return BIN_DIRS.map((d) => `${d}/${executable}`);
  const m = /^\/(?:usr\/)?(s?bin)\/(.+)$/.exec(executable);
  return m ? [`/usr/${m[1]}/${m[2]}`, `/${m[1]}/${m[2]}`] : [executable];
}

/** Files of the packages Debian installs everywhere (Priority: required, Essential among them). */
function baseSystemFiles(): Set<string> {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not JavaScript's
  const format = '${Package}\t${Priority}\n';
  const required = execFileSync('dpkg-query', ['-W', '-f', format], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.endsWith('\trequired'))
    .map((l) => l.split('\t')[0]!);
  const files = execFileSync('dpkg-query', ['-L', ...required], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return new Set(files.split('\n'));
}

/** The packages that own a program, under either of its merged-/usr paths. */
function ownersOf(path: string): string[] {
  return candidates(path).flatMap((p) => {
    try {
      return execFileSync('dpkg', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter((l) => l && !l.startsWith('diversion'))
        .flatMap((l) => l.split(':')[0]!.split(', '));
    } catch {
      return [];
    }
  });
}

/** Problems with what the code spawns, one line each, naming the file and line. */
function missingExecutables(
  spawned: Spawned[],
  table: PackageRow[],
  isBase: (path: string) => boolean,
  groupOfFile: (file: string) => Group,
): string[] {
  const problems: string[] = [];
  for (const s of spawned) {
    // Node itself, or a program of the repository or node_modules (a relative path).
    if (NODE.has(s.executable) || /^[^/]+\//.test(s.executable)) continue;
    const paths = candidates(s.executable);
    const row = table.find((r) => r.paths.some((p) => paths.includes(p)));
    const need = groupOfFile(s.file);
    if (row) {
      if (GROUPS.indexOf(row.group) > GROUPS.indexOf(need)) {
        problems.push(
          `${s.file}:${s.line}: runs ${s.executable}, which install-deps.sh installs only for '${row.group}' (${row.pkg}), but this code needs it for '${need}'`,
        );
      }
      continue;
    }
    if (paths.some(isBase)) continue;
    problems.push(
      `${s.file}:${s.line}: runs ${s.executable}, which is neither installed by scripts/install-deps.sh nor part of Node or Debian's required base system`,
    );
  }
  return problems;
}

const table = parsePackageTable(readFileSync(join(REPO, 'scripts/install-deps.sh'), 'utf8'));

describe('executables the code runs', () => {
  it('every spawn names what it runs (a literal, a const, or a `spawns:` comment)', () => {
    const { unresolved } = scanRepo();
    expect(unresolved.map((u) => `${u.file}:${u.line}: ${u.call}`)).toEqual([]);
  });

  it('each one is part of Node or the base system, or installed by install-deps.sh for the code that runs it', () => {
    const base = baseSystemFiles();
    const problems = missingExecutables(scanRepo().spawned, table, (p) => base.has(p), groupOf);
    expect(problems).toEqual([]);
  });

  it('each path of the package table belongs to the package it is listed under', () => {
    const wrong: string[] = [];
    for (const row of table) {
      for (const path of row.paths) {
        if (!candidates(path).some((p) => existsSync(p))) {
          // install-deps.sh --test ran before the suite: what the tests run must be here.
          if (process.env['CI'] && row.group !== 'bench') wrong.push(`${path}: not installed`);
          continue;
        }
        const owners = ownersOf(path);
        if (!owners.includes(row.pkg))
          wrong.push(`${path}: listed under ${row.pkg}, owned by ${owners.join(', ') || 'no package'}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('the check can fail', () => {
  // Built from pieces so that this file does not itself look like it runs these programs.
  const haproxy = ['', 'usr', 'sbin', 'haproxy'].join('/');
  const planted = [
    "import { execFileSync, spawn } from 'node:child_process';",
    `spawn('${haproxy}', ['-f', 'x.cfg']);`,
    "execFileSync('jq', ['.']);",
    'const cmd = pick();',
    'spawn(cmd, []);',
    "spawn(process.execPath, ['x.js']);",
  ].join('\n');

  it('a new spawn of an unlisted program is reported with its file and line', () => {
    const { spawned, unresolved } = scanScript('src/planted.ts', planted);
    const problems = missingExecutables(spawned, table, () => false, groupOf);
    expect(problems).toEqual([
      expect.stringMatching(/^src\/planted\.ts:2: runs \/usr\/sbin\/haproxy, which is neither installed/),
      expect.stringMatching(/^src\/planted\.ts:3: runs jq, which is neither installed/),
    ]);
    expect(unresolved).toEqual([{ file: 'src/planted.ts', line: 5, call: 'spawn(cmd, []);' }]);
  });

  it("a test that runs etcdctl with install-deps.sh's etcd-client row removed", () => {
    const { spawned } = scanScript(
      'test/planted.test.ts',
      `run('${['', 'usr', 'bin', 'etcdctl'].join('/')}', []);`,
    );
    expect(missingExecutables(spawned, table, () => false, groupOf)).toEqual([]);
    const without = table.filter((r) => r.pkg !== 'etcd-client');
    expect(missingExecutables(spawned, without, () => false, groupOf)).toEqual([
      expect.stringContaining('test/planted.test.ts:1: runs /usr/bin/etcdctl, which is neither installed'),
    ]);
  });

  it('code the demo runs may not rely on a package installed only for the benchmarks', () => {
    const { spawned } = scanScript('src/planted.ts', "execFileSync('wrk', []);");
    expect(missingExecutables(spawned, table, () => false, groupOf)).toEqual([
      expect.stringContaining("installs only for 'bench' (wrk), but this code needs it for 'demo'"),
    ]);
  });

  it('a shell script: every command word, but not quoted text, comments or here-documents', () => {
    const script = [
      '#!/usr/bin/env bash',
      'set -e # jq in a comment',
      "cat <<'EOF'",
      'haproxy in a here-document',
      'EOF',
      "echo 'a; jq' && X=1 haproxy -v | sort",
      'out=$(wrk --version)',
      'helper() { true; }',
      'helper',
    ].join('\n');
    expect(scanShell('scripts/planted.sh', script).map((s) => `${s.line}:${s.executable}`)).toEqual([
      '3:cat',
      '6:haproxy',
      '6:sort',
      '7:wrk',
    ]);
  });
});
