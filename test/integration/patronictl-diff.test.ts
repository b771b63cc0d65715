/**
 * Differential patronictl test: the real `/usr/bin/patronictl` 3.0.2 runs the same commands
 * against a two-node Patroni 3.0.2 cluster and a two-node pgwarden cluster from the same YAML
 * (test/helpers/patroni-diff.ts), each with a config file of its own side (its etcd, its scope),
 * at the same point of the same sequence: reading commands, edit-config, restart, reload,
 * scheduled and flushed operations, refusals, prompts answered on stdin, a real switchover and
 * failover, reinit, pause and resume. Exit codes and output are compared after replacing member
 * names, addresses and the scope, zeroing the digits of dates and blanking timelines, lags and
 * WAL positions of member lists; JSON and YAML output are compared as data. Every difference must
 * be in EXPECTED and explained in docs/patroni-differences.md, as in patroni-diff.test.ts.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SUPERUSER } from '../../src/local/cluster.ts';
import {
  type ClusterDoc,
  DCS,
  type Deviation,
  type Difference,
  dateShape,
  docHeadings,
  jsonDiff,
  KINDS,
  type Kind,
  lineDiff,
  type Names,
  NEEDS,
  namesOf,
  type Side,
  settleBoth,
  startSides,
  substitute,
  verdict,
  waitUntil,
} from '../helpers/patroni-diff.ts';
import { normaliseData, normaliseTables, normaliseTsv } from '../helpers/patronictl-output.ts';
import { describeWith, program } from '../helpers/prerequisites.ts';

vi.setConfig({ testTimeout: 400_000, hookTimeout: 150_000 });

const PATRONICTL = '/usr/bin/patronictl';

interface Ctx {
  scope: string;
  names: Names;
}

interface Step {
  /** Unique: what EXPECTED's rules match. */
  id: string;
  args: (c: Ctx) => string[];
  /** What patronictl reads on stdin (prompts); nothing (EOF) when absent. */
  stdin?: (c: Ctx) => string;
  /** Compare the output as data (JSON or YAML), or as a tab-separated table. */
  format?: 'json' | 'yaml' | 'tsv';
  /** Wait first until GET /cluster shows this on both sides (at most 20 s). */
  until?: (doc: ClusterDoc) => boolean;
  /** The command changes the cluster: wait after it until both sides have settled again. */
  settles?: boolean;
  /** The output shows the cluster while it changes: member states are blanked too. */
  moving?: boolean;
}

interface Run {
  code: number;
  out: string;
}

/** Six months ahead, to the second, with an offset: the same text on both sides. */
const AT = new Date(Date.now() + 180 * 24 * 3600_000).toISOString().replace(/\.\d+Z$/, '+00:00');

const pendingRestartOnAll = (doc: ClusterDoc) => doc.members.every((m) => m.pending_restart === true);
const noPendingRestart = (doc: ClusterDoc) => doc.members.every((m) => !m.pending_restart);
const scheduledRestart = (doc: ClusterDoc) => doc.members.some((m) => m.scheduled_restart !== undefined);
const scheduledSwitchover = (doc: ClusterDoc) => doc.scheduled_switchover !== undefined;
const paused = (doc: ClusterDoc) => doc.pause === true;

/** What the agent, not the user, decides in postgresql.conf or on the command line. */
const SETTINGS =
  'SELECT name, setting FROM pg_settings WHERE name IN (' +
  "'max_connections', 'max_locks_per_transaction', 'max_prepared_transactions', 'max_replication_slots', " +
  "'max_wal_senders', 'max_worker_processes', 'track_commit_timestamp', 'wal_level', 'wal_log_hints', " +
  "'hot_standby', 'listen_addresses', 'cluster_name', 'synchronous_standby_names', 'wal_keep_size') ORDER BY name";

/** As a user types them: `-U postgres` with PGPASSWORD in the environment. */
const query = (...args: string[]) => ['query', '-U', SUPERUSER.username, ...args];

/** The sequence both clusters get, in order; `<leader>` and `<replica>` are the roles of the moment. */
const STEPS: Step[] = [
  // Reading.
  { id: 'version', args: () => ['version'] },
  { id: 'version <scope>', args: (c) => ['version', c.scope] },
  { id: 'version <scope> <replica>', args: (c) => ['version', c.scope, c.names.replica] },
  { id: 'list', args: () => ['list'] },
  { id: 'list <scope> -e', args: (c) => ['list', c.scope, '-e'] },
  { id: 'list -f json', args: () => ['list', '-f', 'json'], format: 'json' },
  { id: 'list -f yaml', args: () => ['list', '-f', 'yaml'], format: 'yaml' },
  { id: 'list -f tsv', args: () => ['list', '-f', 'tsv'], format: 'tsv' },
  { id: 'topology', args: () => ['topology'] },
  { id: 'show-config', args: () => ['show-config'], format: 'yaml' },
  { id: 'history, nothing yet', args: () => ['history'] },
  { id: 'dsn', args: () => ['dsn'] },
  { id: 'dsn -r replica', args: () => ['dsn', '-r', 'replica'] },
  { id: 'dsn -m <replica>', args: (c) => ['dsn', '-m', c.names.replica] },
  { id: 'dsn -m nosuchnode', args: () => ['dsn', '-m', 'nosuchnode'] },
  { id: 'query', args: () => query('-c', 'SELECT 1 AS one') },
  { id: 'query -r replica', args: () => query('-r', 'replica', '-c', 'SELECT pg_is_in_recovery()') },
  {
    id: 'query -m <replica> json',
    args: (c) => query('-m', c.names.replica, '--format', 'json', '-c', 'SELECT 2 AS two'),
  },
  { id: 'query SQL error', args: () => query('-c', 'SELECT nosuchcolumn') },
  { id: 'query the settings Patroni owns', args: () => query('-c', SETTINGS) },
  // edit-config: refused, unchanged, declined at the prompt, then applied with --force.
  { id: 'edit-config -s without =', args: (c) => ['edit-config', c.scope, '-s', 'ttl', '--force'] },
  { id: 'edit-config unchanged', args: (c) => ['edit-config', c.scope, '-s', `ttl=${DCS.ttl}`, '--force'] },
  { id: 'edit-config declined', args: (c) => ['edit-config', c.scope, '-s', 'ttl=20'], stdin: () => 'n\n' },
  {
    id: 'edit-config --apply - without --force',
    args: (c) => ['edit-config', c.scope, '--apply', '-'],
    stdin: () => 'loop_wait: 3\n',
  },
  {
    id: 'edit-config -s -p --force',
    args: (c) => ['edit-config', c.scope, '-s', 'ttl=20', '-p', 'max_connections=101', '--force'],
  },
  { id: 'show-config after edit-config', args: () => ['show-config'], format: 'yaml' },
  { id: 'list with restarts pending', args: () => ['list'], until: pendingRestartOnAll },
  {
    id: 'restart --pending',
    args: (c) => ['restart', c.scope, '--pending', '--force'],
    settles: true,
  },
  { id: 'list after restart --pending', args: () => ['list'], until: noPendingRestart },
  { id: 'query the settings after restart --pending', args: () => query('-c', SETTINGS) },
  // reload and restart of the replica: now, refused by a condition, scheduled and flushed.
  { id: 'reload', args: (c) => ['reload', c.scope, '--force'] },
  { id: 'reload <replica> confirmed', args: (c) => ['reload', c.scope, c.names.replica], stdin: () => 'y\n' },
  { id: 'restart <replica>', args: (c) => ['restart', c.scope, c.names.replica, '--force'], settles: true },
  {
    id: 'restart --pg-version not newer',
    args: (c) => ['restart', c.scope, c.names.replica, '--pg-version', '10.0', '--force'],
  },
  {
    id: 'restart --pg-version 9.6',
    args: (c) => ['restart', c.scope, c.names.replica, '--pg-version', '9.6', '--force'],
  },
  {
    id: 'restart --scheduled',
    args: (c) => ['restart', c.scope, c.names.replica, '--scheduled', AT, '--force'],
  },
  { id: 'list with a scheduled restart', args: () => ['list'], until: scheduledRestart },
  {
    id: 'restart --scheduled again, with --pg-version',
    args: (c) => ['restart', c.scope, c.names.replica, '--scheduled', AT, '--pg-version', '99.1', '--force'],
  },
  {
    id: 'list -e with a conditional scheduled restart',
    args: () => ['list', '-e'],
    until: (doc) => doc.members.some((m) => JSON.stringify(m.scheduled_restart ?? '').includes('99.1')),
  },
  { id: 'flush restart', args: (c) => ['flush', c.scope, 'restart', '--force'] },
  // Patroni writes its member key without the flushed restart on its next loop (pgwarden at once).
  {
    id: 'flush restart again',
    args: (c) => ['flush', c.scope, 'restart', '--force'],
    until: (doc) => !scheduledRestart(doc),
  },
  // switchover: scheduled and flushed, refused, declined at the prompt.
  {
    id: 'switchover --scheduled',
    args: (c) => [
      'switchover',
      c.scope,
      '--leader',
      c.names.leader,
      '--candidate',
      c.names.replica,
      '--scheduled',
      AT,
      '--force',
    ],
  },
  { id: 'list with a scheduled switchover', args: () => ['list'], until: scheduledSwitchover },
  { id: 'flush switchover', args: (c) => ['flush', c.scope, 'switchover', '--force'] },
  { id: 'flush switchover again', args: (c) => ['flush', c.scope, 'switchover', '--force'] },
  {
    id: 'switchover to a bad candidate',
    args: (c) => ['switchover', c.scope, '--candidate', 'nosuchnode', '--force'],
  },
  {
    id: 'switchover from the replica',
    args: (c) => ['switchover', c.scope, '--leader', c.names.replica, '--force'],
  },
  {
    id: 'failover to a bad candidate',
    args: (c) => ['failover', c.scope, '--candidate', 'nosuchnode', '--force'],
  },
  {
    id: 'failover to the leader',
    args: (c) => ['failover', c.scope, '--candidate', c.names.leader, '--force'],
  },
  {
    id: 'switchover declined at the prompt',
    args: (c) => ['switchover', c.scope],
    stdin: (c) => `\n${c.names.replica}\n\nn\n`,
  },
  {
    id: 'failover without a candidate',
    args: (c) => ['failover', c.scope, '--force'],
  },
  { id: 'remove, wrong name typed', args: (c) => ['remove', c.scope], stdin: () => 'nosuchcluster\n' },
  // A real switchover answered at the prompts (no candidate: the leader picks one), and a failover back.
  {
    id: 'switchover at the prompts',
    args: (c) => ['switchover', c.scope],
    stdin: () => '\n\n\ny\n',
    settles: true,
    moving: true,
  },
  {
    id: 'failover',
    args: (c) => ['failover', c.scope, '--candidate', c.names.replica, '--force'],
    settles: true,
    moving: true,
  },
  { id: 'history', args: () => ['history'] },
  { id: 'history -f json', args: () => ['history', '-f', 'json'], format: 'json' },
  { id: 'list after the failover', args: () => ['list'] },
  // reinit: of the leader (refused), of the replica (waited for).
  { id: 'reinit <leader>', args: (c) => ['reinit', c.scope, c.names.leader, '--force'] },
  {
    id: 'reinit <replica> --wait',
    args: (c) => ['reinit', c.scope, c.names.replica, '--force', '--wait'],
    settles: true,
  },
  // pause and resume.
  { id: 'pause --wait', args: (c) => ['pause', c.scope, '--wait'] },
  { id: 'list paused', args: () => ['list'], until: paused },
  { id: 'pause again', args: (c) => ['pause', c.scope] },
  {
    id: 'restart --scheduled while paused',
    args: (c) => ['restart', c.scope, c.names.replica, '--scheduled', AT, '--force'],
  },
  {
    id: 'switchover --scheduled while paused',
    args: (c) => ['switchover', c.scope, '--candidate', c.names.replica, '--scheduled', AT, '--force'],
  },
  {
    id: 'failover while paused',
    args: (c) => ['failover', c.scope, '--candidate', c.names.replica, '--force'],
    settles: true,
    moving: true,
  },
  { id: 'list paused after the failover', args: () => ['list'] },
  {
    id: 'switchover while paused without a candidate',
    args: (c) => ['switchover', c.scope, '--force'],
  },
  { id: 'resume --wait', args: (c) => ['resume', c.scope, '--wait'] },
  { id: 'resume again', args: (c) => ['resume', c.scope] },
  { id: 'list resumed', args: () => ['list'], until: (doc) => !paused(doc) },
];

/**
 * Deliberate deviations, as in patroni-diff.test.ts. None: patronictl prints the same against
 * both (it reads member keys, where a pgwarden replica's state is `running` as a Patroni one's;
 * the `streaming` of pgwarden's GET /cluster does not show).
 */
const EXPECTED: Deviation[] = [];

function ctl(side: Side, args: string[], stdin: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      PATRONICTL,
      ['-c', side.cluster.nodes[0]!.configFile, ...args],
      {
        timeout: 90_000,
        env: { ...process.env, HOME: tmpdir(), PGPASSWORD: SUPERUSER.password, PAGER: 'cat' },
      },
      (err, stdout, stderr) => {
        const code = err ? (err as { code?: unknown }).code : 0;
        resolve({ code: typeof code === 'number' ? code : -1, out: `${stdout}${stderr}` });
      },
    );
    child.stdin?.end(stdin);
  });
}

/** What differs between the two runs of one step: the exit code, and the output line by line or as data. */
function compare(
  step: Step,
  p: Run,
  w: Run,
  sides: Record<Kind, Side>,
  names: Record<Kind, Names>,
): Difference[] {
  const out: Difference[] = [];
  const add = (aspect: string, detail: string) => out.push({ id: step.id, aspect, detail });
  if (p.code !== w.code) add('exit', `${p.code} vs ${w.code}`);
  const [pt, wt] = KINDS.map((k, i) => dateShape(substitute([p, w][i]!.out, sides[k], names[k])));
  const moving = step.moving ?? false;
  if (step.format === 'json' || step.format === 'yaml') {
    const paths: string[] = [];
    try {
      const [pd, wd] = [pt!, wt!].map((t) =>
        normaliseData(step.format === 'json' ? JSON.parse(t) : parseYaml(t), moving),
      );
      jsonDiff(pd, wd, '$', paths, new Set());
    } catch (err) {
      paths.push(`unparsable ${step.format}: ${(err as Error).message}`);
    }
    for (const d of paths) add('output', d);
    return out;
  }
  const lines = (t: string) => (step.format === 'tsv' ? normaliseTsv(t, moving) : normaliseTables(t, moving));
  for (const d of lineDiff(lines(pt!), lines(wt!))) add('output', d);
  return out;
}

describeWith(
  [...NEEDS, program(PATRONICTL, 'patroni')],
  'patronictl 3.0.2 against Patroni and pgwarden (differential)',
  () => {
    let sides = {} as Record<Kind, Side>;
    let stop: (failed: boolean) => Promise<void> = async () => {};
    let failed = false;

    beforeAll(async () => {
      ({ sides, stop } = await startSides('ctl'));
    });

    afterAll(async () => {
      await stop(failed);
    });

    it('prints what it prints against Patroni, but for the listed deviations', async () => {
      const found: Difference[] = [];
      const ids = new Set<string>();
      try {
        for (const step of STEPS) {
          expect(ids.has(step.id), `duplicate id ${step.id}`).toBe(false);
          ids.add(step.id);
          if (step.until) await waitUntil(sides, step.until);
          const names = { patroni: namesOf(sides.patroni), pgwarden: namesOf(sides.pgwarden) };
          const [p, w] = await Promise.all(
            KINDS.map((k) => {
              const c = { scope: sides[k].scope, names: names[k] };
              return ctl(sides[k], step.args(c), step.stdin?.(c) ?? '');
            }),
          );
          // DIFF_DUMP=1: both outputs of every command on stderr, to see what is compared.
          if (process.env['DIFF_DUMP'])
            process.stderr.write(
              `== ${step.id}\n-- patroni ${p!.code}\n${p!.out}-- pgwarden ${w!.code}\n${w!.out}`,
            );
          found.push(...compare(step, p!, w!, sides, names));
          if (step.settles) await settleBoth(sides);
        }
      } catch (err) {
        failed = true;
        throw err;
      }
      const { unexpected, gone } = verdict(found, EXPECTED);
      if (unexpected.length || gone.length) failed = true;
      expect(unexpected, 'differences not in EXPECTED (fix pgwarden or document them)').toEqual([]);
      expect(
        gone,
        'EXPECTED deviations that no longer show (remove them from the table and the doc)',
      ).toEqual([]);
    });

    it('explains every listed deviation in docs/patroni-differences.md', () => {
      const headings = docHeadings();
      for (const d of EXPECTED) expect(headings, `a "## ${d.doc}" section`).toContain(d.doc);
      expect(headings, 'the section that describes this test').toContain('`patronictl` against both');
    });
  },
);
