/**
 * bootstrap.method and create_replica_methods on real processes (etcd 3.4, PostgreSQL 15): a
 * "source" cluster archives its WAL; a pg_basebackup tarball of it is taken, then a row, a named
 * restore point, and another row. A second cluster on the same etcd (another scope) bootstraps
 * by restoring that tarball with `recovery_conf` up to the restore point (a point-in-time
 * recovery, promoted at its end); its replica is made by the first of `broken` (fails),
 * `tarball` (a script that restores a pg_basebackup tarball of the leader it is given by
 * `--connstring`) and basebackup. A third bootstrap whose script fails leaves its data directory
 * moved aside, /initialize free, and the agent stopped, saying why.
 */
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalCluster } from '../../src/local/cluster.ts';
import { REPLICATION } from '../../src/local/node-document.ts';
import { lookupUser } from '../../src/local/os-user.ts';
import {
  dumpLogs,
  etcdValue,
  eventually,
  inRecovery,
  leaderNode,
  sql,
  useLocalCluster,
} from '../helpers/cluster-tools.ts';

vi.setConfig({ testTimeout: 180_000, hookTimeout: 180_000 });

const PG_BIN = '/usr/lib/postgresql/15/bin';
const dir = mkdtempSync(join(tmpdir(), 'pgwarden-restore-'));
const ARCHIVE = join(dir, 'archive');
const BASE = join(dir, 'base');
const CALLS = join(dir, 'calls');
const pgUser = lookupUser('postgres');
const asRoot = process.getuid?.() === 0;

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
// Patroni's custom bootstrap arguments: --scope=<scope> --datadir=<data_dir>.
const RESTORE = script(
  'restore.sh',
  `echo "restore $*" >> ${CALLS}
for a in "$@"; do case "$a" in --datadir=*) d="\${a#--datadir=}";; esac; done
tar -xf ${BASE}/base.tar -C "$d"`,
);
const BROKEN = script('broken.sh', `echo "broken $*" >> ${CALLS}\nexit 3`);
// A replica from a pg_basebackup tarball of the member in --connstring (the password: PGPASSFILE).
const TARBALL = script(
  'tarball.sh',
  `echo "tarball $* PGPASSFILE=\${PGPASSFILE:+set}" >> ${CALLS}
for a in "$@"; do case "$a" in --datadir=*) d="\${a#--datadir=}";; --connstring=*) c="\${a#--connstring=}";; esac; done
t=$(mktemp -d) && ${PG_BIN}/pg_basebackup -d "$c" -D "$t" -Ft -X fetch -c fast --no-password && tar -xf "$t/base.tar" -C "$d"
r=$?; rm -rf "$t"; exit $r`,
);
// Half a restore, then a failure: what it wrote must be kept, aside.
const HALF = script(
  'half.sh',
  `for a in "$@"; do case "$a" in --datadir=*) d="\${a#--datadir=}";; esac; done
tar -xf ${BASE}/base.tar -C "$d" && echo "half restored" > "$d/HALF" && exit 4`,
);
mkdirSync(ARCHIVE);
if (pgUser && asRoot) for (const p of [dir, ARCHIVE]) chownSync(p, pgUser.uid, pgUser.gid);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const calls = () => (existsSync(CALLS) ? readFileSync(CALLS, 'utf8').trim().split('\n') : []);

function asPostgres(cmd: string, args: string[], env: Record<string, string> = {}): string {
  const argv = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  // spawns: runuser (or the PostgreSQL program itself when not root)
  return execFileSync(argv[0] as string, argv[1] as string[], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
}

// node2 never leads (nofailover), here and in the restored cluster: node1 leads the source and
// restores the other, so the address book in the backup names a server the restore must forget.
const node1Leads = (index: number) => (index === 1 ? { nofailover: true } : {});
const sourceOf = useLocalCluster(
  {
    nodes: 2,
    scope: 'source',
    tags: node1Leads,
    dcs: {
      ttl: 10,
      loop_wait: 2,
      retry_timeout: 4,
      postgresql: {
        use_pg_rewind: true,
        use_slots: true,
        parameters: { archive_mode: 'on', archive_command: `cp %p ${ARCHIVE}/%f` },
      },
    },
  },
  { beforeAll, afterAll, afterEach: () => {} },
);

let sourceSysid = '';
let sourcePorts: number[] = [];

describe('a cluster restored to a point in time, and a replica made by a script', () => {
  let restored: LocalCluster | undefined;

  beforeAll(async () => {
    const source = sourceOf();
    const node = await leaderNode(source);
    const other = source.nodes.find((n) => n !== node)!;
    await eventually('the source leader’s address book names its replica', async () => {
      expect(readFileSync(join(node.dataDir, 'pgwarden.servers.json'), 'utf8')).toContain(
        `"port":${other.pgPort}`,
      );
    });
    sourcePorts = source.nodes.map((n) => n.pgPort);
    sourceSysid = String(
      (await sql<{ id: string }>(node, 'SELECT system_identifier::text AS id FROM pg_control_system()'))[0]!
        .id,
    );
    asPostgres(
      `${PG_BIN}/pg_basebackup`,
      [
        '-h',
        node.host,
        '-p',
        String(node.pgPort),
        '-U',
        REPLICATION.username,
        '-D',
        BASE,
        '-Ft',
        '-X',
        'fetch',
        '-c',
        'fast',
      ],
      { PGPASSWORD: REPLICATION.password },
    );
    await sql(node, 'CREATE TABLE marks (v text)');
    await sql(node, "INSERT INTO marks VALUES ('before')");
    await sql(node, "SELECT pg_create_restore_point('before_after')");
    await sql(node, "INSERT INTO marks VALUES ('after')");
    const [{ wal }] = (await sql<{ wal: string }>(
      node,
      'SELECT pg_walfile_name(pg_switch_wal()) AS wal',
    )) as [{ wal: string }];
    await eventually(
      'the segment with the restore point archived',
      async () => {
        if (!existsSync(join(ARCHIVE, wal))) throw new Error(`${wal} not in the archive yet`);
      },
      30_000,
    );

    restored = new LocalCluster({
      dir: join(dir, 'restored'),
      nodes: 2,
      scope: 'restored',
      tags: node1Leads,
      etcdEndpoints: [source.etcdEndpoint],
      dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
      editConfig: (_node, doc) => ({
        ...doc,
        bootstrap: {
          ...(doc['bootstrap'] as Record<string, unknown>),
          method: 'pitr',
          pitr: {
            command: RESTORE,
            recovery_conf: {
              restore_command: `cp ${ARCHIVE}/%f %p`,
              recovery_target_name: 'before_after',
              recovery_target_action: 'promote',
            },
          },
        },
        postgresql: {
          ...(doc['postgresql'] as Record<string, unknown>),
          create_replica_methods: ['broken', 'tarball', 'basebackup'],
          broken: { command: BROKEN, keep_data: false },
          tarball: { command: TARBALL },
        },
      }),
    });
    await restored.init();
    await restored.startAll();
    if (!(await restored.waitUntilReady({ timeoutMs: 120_000 }))) {
      dumpLogs(restored);
      throw new Error('the restored cluster did not become ready');
    }
  });

  afterAll(async () => {
    await restored?.stop();
  });

  it('the leader holds the data up to the restore point, on a new timeline, with the source’s system identifier', async () => {
    const leader = await leaderNode(restored!);
    expect((await sql<{ v: string }>(leader, 'SELECT v FROM marks ORDER BY v')).map((r) => r.v)).toEqual([
      'before',
    ]);
    expect(leader.status?.timeline).toBeGreaterThanOrEqual(2);
    expect(await etcdValue(restored!, 'restored', 'initialize')).toBe(sourceSysid);
    // Run with Patroni's two arguments, once.
    const restores = calls().filter((l) => l.startsWith('restore '));
    expect(restores).toEqual([`restore --scope=restored --datadir=${leader.dataDir}`]);
    // The backup's address book named the source's servers: forgotten, never fenced from here.
    const replica = restored!.nodes.find((n) => n !== leader)!;
    await eventually('the restored leader’s address book names its replica', async () => {
      expect(readFileSync(join(leader.dataDir, 'pgwarden.servers.json'), 'utf8')).toContain(
        `"port":${replica.pgPort}`,
      );
    });
    const book = readFileSync(join(leader.dataDir, 'pgwarden.servers.json'), 'utf8');
    for (const port of sourcePorts) expect(book).not.toContain(`"port":${port}`);
  });

  it('the replica: broken tried first with Patroni’s arguments, then the tarball script from the leader; it streams', async () => {
    const leader = await leaderNode(restored!);
    const replica = restored!.nodes.find((n) => n !== leader)!;
    const conn = `dbname=postgres user=${REPLICATION.username} host=${leader.host} port=${leader.pgPort}`;
    const args = `--keep_data=False --scope=restored --role=replica --datadir=${replica.dataDir} --connstring=${conn}`;
    expect(calls().filter((l) => !l.startsWith('restore '))).toEqual([
      `broken ${args}`,
      `tarball --scope=restored --role=replica --datadir=${replica.dataDir} --connstring=${conn} PGPASSFILE=set`,
    ]);
    expect(await inRecovery(replica)).toBe(true);
    await sql(leader, "INSERT INTO marks VALUES ('later')");
    await eventually('the new row on the replica', async () => {
      const rows = await sql<{ v: string }>(replica, 'SELECT v FROM marks ORDER BY v');
      expect(rows.map((r) => r.v)).toEqual(['before', 'later']);
    });
    expect(readFileSync(replica.logFile, 'utf8')).toContain('replica has been created using tarball');
  });
});

describe('a custom bootstrap that fails', () => {
  it('moves what it restored aside, gives /initialize back and stops, saying why', async () => {
    const source = sourceOf();
    const failing = new LocalCluster({
      dir: join(dir, 'failing'),
      nodes: 1,
      scope: 'failing',
      etcdEndpoints: [source.etcdEndpoint],
      dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
      editConfig: (_node, doc) => ({
        ...doc,
        bootstrap: {
          ...(doc['bootstrap'] as Record<string, unknown>),
          method: 'half',
          half: { command: HALF },
        },
      }),
    });
    try {
      await failing.init();
      await failing.startAll();
      const node = failing.nodes[0]!;
      await eventually(
        'the agent gone',
        async () => {
          if (failing.isRunning(node.name)) throw new Error('still running');
        },
        60_000,
      );
      const log = readFileSync(node.logFile, 'utf8');
      expect(log).toMatch(/custom bootstrap failed: .*half\.sh exited with code 4/);
      expect(await etcdValue(failing, 'failing', 'initialize')).toBeNull();
      const nodeDir = join(node.dataDir, '..');
      const aside = readdirSync(nodeDir).filter((f) => /^data_\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d$/.test(f));
      expect(aside).toHaveLength(1);
      expect(readFileSync(join(nodeDir, aside[0]!, 'HALF'), 'utf8')).toBe('half restored\n');
      expect(existsSync(node.dataDir)).toBe(false);
    } finally {
      await failing.stop();
    }
  });
});
