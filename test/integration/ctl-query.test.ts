/**
 * `pgwarden query` beside the real patronictl 3.0.2's `query`, on the same two-node pgwarden
 * cluster with the same configuration file and environment: the same rows (psycopg2's values
 * as Python prints them: True, None, datetimes, dicts and lists), formats, roles and members, the
 * same rows for an SQL error or no member to ask, and the same refusals with the same exit codes.
 * Only the timestamps of those rows are blanked.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SUPERUSER } from '../../src/local/cluster.ts';
import { leaderNode, useLocalCluster } from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 120_000 });

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');
const PATRONICTL = '/usr/bin/patronictl';

const clusterOf = useLocalCluster(
  { nodes: 2, scope: 'query', dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 } },
  { beforeAll, afterAll, afterEach },
);

const dir = mkdtempSync(join(tmpdir(), 'pgwarden-query-'));
const SQL_FILE = join(dir, 'q.sql');
writeFileSync(SQL_FILE, "SELECT 'from a file' AS source;\n");
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TYPES =
  "SELECT 1 AS one, 2.5::float8 AS f, 1.50::numeric AS n, true AS t, false AS no, NULL AS nothing, 'text' AS s, " +
  "'2026-12-06 14:30:00.5+00'::timestamptz AS ts, '2026-12-06 14:30:00'::timestamp AS local, '2026-12-06'::date AS d, " +
  `'{"a": [1, "x", null, true]}'::jsonb AS j, ARRAY[1, 2] AS ints, ARRAY['a', 'b''c'] AS texts`;

/** Both tools, on the first node's configuration file, as a user runs them (-U, PGPASSWORD). */
function run(tool: 'pgwarden' | 'patronictl', args: string[]) {
  const config = clusterOf().nodes[0]!.configFile;
  const [cmd, argv] =
    tool === 'pgwarden'
      ? [process.execPath, [BIN, '-c', config, ...args]]
      : [PATRONICTL, ['-c', config, ...args]];
  // spawns: node patronictl (cmd is one of the two above)
  const r = spawnSync(cmd, argv, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PGPASSWORD: SUPERUSER.password, PGTZ: 'UTC' },
    input: '',
  });
  // The rows of a message carry patronictl's timestamp(0).
  const blank = (t: string) => t.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?=\t|,|$)/gm, '<time>');
  return { code: r.status, out: blank(r.stdout), err: blank(r.stderr).replace(/^Usage:[\s\S]*?\n\n/m, '') };
}

const cases = (replica: string, leader: string): Array<[string, string[]]> => [
  ['the types psycopg2 turns into Python values', ['query', '-U', 'postgres', '-c', TYPES]],
  [
    'pretty',
    ['query', '-U', 'postgres', '--format', 'pretty', '-c', "SELECT 1 AS one, 'two' AS two, NULL AS three"],
  ],
  [
    'json',
    ['query', '-U', 'postgres', '--format', 'json', '-c', "SELECT 1 AS one, true AS t, NULL AS n, 'x' AS s"],
  ],
  ['yaml', ['query', '-U', 'postgres', '--format', 'yaml', '-c', "SELECT 1 AS one, true AS t, 'x' AS s"]],
  ['a delimiter', ['query', '-U', 'postgres', '--delimiter', ',', '-c', "SELECT 1 AS a, 'b' AS b"]],
  ['a role', ['query', '-U', 'postgres', '-r', 'replica', '-c', 'SELECT pg_is_in_recovery() AS r']],
  ['the primary role', ['query', '-U', 'postgres', '-r', 'primary', '-c', 'SELECT pg_is_in_recovery() AS r']],
  ['a role nobody has', ['query', '-U', 'postgres', '-r', 'standby-leader', '-c', 'SELECT 1']],
  ['a member', ['query', '-U', 'postgres', '-m', replica, '-c', 'SELECT pg_is_in_recovery() AS r']],
  ['the leader by name', ['query', '-U', 'postgres', '-m', leader, '-c', 'SELECT pg_is_in_recovery() AS r']],
  ['no such member', ['query', '-U', 'postgres', '-m', 'nosuchnode', '-c', 'SELECT 1']],
  ['an SQL error', ['query', '-U', 'postgres', '-c', 'SELECT nosuchcolumn']],
  ['a statement without rows', ['query', '-U', 'postgres', '-c', 'CREATE TEMP TABLE t (a int)']],
  ['two statements: the last one’s rows', ['query', '-U', 'postgres', '-c', 'SELECT 1 AS a; SELECT 2 AS b']],
  ['a database', ['query', '-U', 'postgres', '-d', 'template1', '-c', 'SELECT current_database()']],
  ['a file', ['query', '-U', 'postgres', '-f', SQL_FILE]],
  ['neither command nor file', ['query', '-U', 'postgres']],
  ['both command and file', ['query', '-U', 'postgres', '-c', 'SELECT 1', '-f', SQL_FILE]],
  ['role and member', ['query', '-U', 'postgres', '-r', 'replica', '-m', replica, '-c', 'SELECT 1']],
];

describe('pgwarden query beside patronictl query', () => {
  it('prints the same, and exits the same, for each case', async () => {
    const leader = await leaderNode(clusterOf());
    const replica = clusterOf().nodes.find((n) => n !== leader)!;
    for (const [what, args] of cases(replica.name, leader.name)) {
      const theirs = run('patronictl', args);
      const ours = run('pgwarden', args);
      expect({ what, code: ours.code, out: ours.out }, what).toEqual({
        what,
        code: theirs.code,
        out: theirs.out,
      });
      // pgwarden says `pgwarden: ` where patronictl says `Error: ` (docs/patroni-differences.md).
      const said = (e: string) => e.trim().replace(/^(pgwarden|Error): /, '');
      if (theirs.code !== 0) expect(said(ours.err), what).toBe(said(theirs.err));
    }
  });
});
