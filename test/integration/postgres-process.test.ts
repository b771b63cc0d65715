/**
 * PostgresProcess against real PostgreSQL 15 binaries, run as the `postgres` OS user through
 * runuser (vitest runs as root). One scenario in order: bootstrap, clone, stream, promote,
 * diverge, rewind, re-follow, stop modes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UpstreamTarget } from '../../src/actors/postgres.ts';
import { PostgresProcess } from '../../src/actors/postgres-process.ts';
import { FENCE_SESSION_WAIT_MS } from '../../src/cluster/orphans.ts';
import { BASEBACKUP_ONLY } from '../../src/cluster/replica-methods.ts';
import { freePort } from '../../src/local/ports.ts';
import { makeNodeConfig, TEST_PG_BIN_DIR } from '../helpers/pg-config.ts';
import { stopPostgresNow } from '../helpers/pg-stop.ts';
import { describeWith, osUser, program, root } from '../helpers/prerequisites.ts';

const PG_USER = 'postgres';

function lookupUser(name: string): { user: string; uid: number; gid: number } | null {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { user: name, uid, gid };
  } catch {
    return null;
  }
}

const runAs = lookupUser(PG_USER);
const needs = [
  root('PostgreSQL runs as the postgres OS user through runuser'),
  osUser(PG_USER),
  program(path.join(TEST_PG_BIN_DIR, 'pg_ctl'), 'postgresql-15'),
];

async function sql<T extends pg.QueryResultRow = Record<string, unknown>>(
  port: number,
  text: string,
): Promise<T[]> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'super-pass',
    database: 'postgres',
    connectionTimeoutMillis: 5_000,
    query_timeout: 10_000,
  });
  client.on('error', () => {}); // a stop between queries ends the session; the query fails anyway
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last ?? '')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describeWith(needs, 'PostgresProcess (real PostgreSQL 15)', () => {
  let tmp: string;
  const nodes: Array<{ actor: PostgresProcess; dataDir: string; port: number }> = [];
  let n1: PostgresProcess;
  let n2: PostgresProcess;
  let p1: number;
  let p2: number;
  let up1: UpstreamTarget;
  let up2: UpstreamTarget;
  const logs: string[] = [];

  function makeNode(name: string, port: number): PostgresProcess {
    const dataDir = path.join(tmp, name);
    const config = makeNodeConfig({ name, pgPort: port, apiPort: port + 1, dataDir });
    const actor = new PostgresProcess({ config, runAs: runAs!, log: (m) => logs.push(`${name}: ${m}`) });
    nodes.push({ actor, dataDir, port });
    return actor;
  }

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pgwarden-pgtest-'));
    await fs.chown(tmp, runAs!.uid, runAs!.gid);
    p1 = await freePort();
    p2 = await freePort();
    n1 = makeNode('node1', p1);
    n2 = makeNode('node2', p2);
    up1 = { host: '127.0.0.1', port: p1, applicationName: 'node2', slotName: 'node2' };
    up2 = { host: '127.0.0.1', port: p2, applicationName: 'node1', slotName: 'node1' };
  });

  afterAll(async () => {
    for (const { actor, dataDir, port } of nodes) {
      await actor.close();
      stopPostgresNow(dataDir);
      await fs.rm(`/tmp/pgwarden-${port}`, { recursive: true, force: true });
    }
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('reports a missing data dir as uninitialized, then bootstraps a primary', {
    timeout: 120_000,
  }, async () => {
    expect((await n1.dataDir()).initialized).toBe(false);
    expect((await n1.status()).running).toBe(false);
    await n1.initdb();
    const dd = await n1.dataDir();
    expect(dd).toMatchObject({ initialized: true, clusterState: 'shut down', timeline: 1 });
    expect(dd.systemIdentifier).toMatch(/^\d+$/);
    expect(dd.checkpointLsn).toBeGreaterThan(0);
    expect(await fs.readFile(path.join(tmp, 'node1', 'postgresql.base.conf'), 'utf8')).toContain(
      'max_connections',
    );

    await n1.start('primary', null, 60);
    const st = await n1.status();
    expect(st).toMatchObject({ running: true, inRecovery: false, timeline: 1, replicationState: null });
    expect(st.currentLsn).toBeGreaterThan(0);
    expect(st.serverVersion).toBeGreaterThanOrEqual(150000);
    expect(st.postmasterStartTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
    expect(st.pendingRestart).toBe(false);

    const roles = await sql<{ rolname: string; rolreplication: boolean }>(
      p1,
      `SELECT rolname, rolreplication FROM pg_roles WHERE rolname IN ('replicator', 'rewind_user') ORDER BY 1`,
    );
    expect(roles).toEqual([
      { rolname: 'replicator', rolreplication: true },
      { rolname: 'rewind_user', rolreplication: false },
    ]);
    await sql(p1, 'CREATE TABLE t (id int primary key, note text)');
    await sql(p1, `INSERT INTO t VALUES (1, 'before clone')`);
  });

  it('manages physical slots', async () => {
    await sql(p1, `SELECT pg_create_physical_replication_slot('stale')`);
    await n1.syncSlots({ physical: ['node2'], logical: [], ignore: [] });
    const slots = await sql<{ slot_name: string }>(
      p1,
      'SELECT slot_name FROM pg_replication_slots ORDER BY 1',
    );
    expect(slots.map((s) => s.slot_name)).toEqual(['node2']);
  });

  it('clones a standby that streams through its slot', { timeout: 120_000 }, async () => {
    expect(await n2.createReplica({ from: up1, methods: BASEBACKUP_ONLY })).toBe('basebackup');
    expect(existsSync(path.join(tmp, 'node2', 'standby.signal'))).toBe(true);
    expect((await n2.dataDir()).systemIdentifier).toBe((await n1.dataDir()).systemIdentifier);
    await n2.start('replica', up1, 60);

    const st = await pollUntil('node2 streaming', 30_000, async () => {
      const s = await n2.status();
      return s.replicationState === 'streaming' ? s : undefined;
    });
    expect(st).toMatchObject({ running: true, inRecovery: true, timeline: 1, currentLsn: null });
    expect(st.replayedLsn).toBeGreaterThan(0);

    await sql(p1, `INSERT INTO t VALUES (2, 'streamed')`);
    await pollUntil('row 2 on node2', 30_000, async () =>
      (await sql(p2, 'SELECT 1 FROM t WHERE id = 2')).length === 1 ? true : undefined,
    );
    const primary = await pollUntil('wal sender for node2', 30_000, async () => {
      const s = await n1.status();
      return s.replication.some((r) => r.application_name === 'node2') ? s : undefined;
    });
    expect(primary.replication[0]).toMatchObject({
      application_name: 'node2',
      usename: 'replicator',
      client_addr: '127.0.0.1',
      state: 'streaming',
      sync_state: 'async',
    });
    const slot = await sql<{ active: boolean }>(
      p1,
      `SELECT active FROM pg_replication_slots WHERE slot_name = 'node2'`,
    );
    expect(slot).toEqual([{ active: true }]);
  });

  it('promotes the standby to timeline 2', { timeout: 60_000 }, async () => {
    await n2.promote(30);
    const st = await n2.status();
    expect(st).toMatchObject({ running: true, inRecovery: false, timeline: 2, replicationState: null });
    await n2.checkpoint();
    const history = await n2.timelineHistory();
    expect(history).toHaveLength(1);
    expect(history[0]![0]).toBe(1);
    expect(history[0]![1]).toBeGreaterThan(0);
    expect(typeof history[0]![2]).toBe('string');
    expect(await n1.timelineHistory()).toEqual([]);
  });

  it('fences the old primary (only of this cluster, only when the rule allows), and its leader lifts it', {
    timeout: 60_000,
  }, async () => {
    const old = { name: 'node1', host: '127.0.0.1', port: p1 };
    // A new leader's fence before its promotion: a live server opens a session well within it.
    const WAIT = FENCE_SESSION_WAIT_MS.promotion;
    const sysid = (await n1.dataDir()).systemIdentifier!;
    expect(
      await n2.fence(old, {
        belowTimeline: null,
        systemIdentifier: '6999999999999999999',
        sessionWaitMs: WAIT,
      }),
    ).toEqual({
      fenced: false,
      reason: `another cluster (system identifier ${sysid})`,
    });
    expect(await n2.fence(old, { belowTimeline: 1, systemIdentifier: sysid, sessionWaitMs: WAIT })).toEqual({
      fenced: false,
      reason: 'a primary on timeline 1, not behind ours',
    });
    expect(
      await n2.fence(old, { belowTimeline: 2, systemIdentifier: sysid, sessionWaitMs: WAIT }),
    ).toMatchObject({
      fenced: true,
    });
    await expect(sql(p1, `INSERT INTO t VALUES (9, 'after the fence')`)).rejects.toThrow(/read-only/);
    expect(
      await n2.fence(old, { belowTimeline: null, systemIdentifier: sysid, sessionWaitMs: WAIT }),
    ).toEqual({
      fenced: false,
      reason: 'read-only already',
    });
    expect(await n1.liftOwnFence()).toMatch(/fenced by node2/);
    expect(await n1.liftOwnFence()).toBeNull();
    await pollUntil('node1 writable again', 10_000, async () =>
      sql(p1, 'SELECT 1').then(
        async () =>
          (await sql<{ ro: string }>(p1, `SELECT current_setting('default_transaction_read_only') AS ro`))[0]
            ?.ro === 'off' || undefined,
      ),
    );
  });

  it('rewinds the diverged old primary and re-follows', { timeout: 180_000 }, async () => {
    await sql(p1, `INSERT INTO t VALUES (3, 'diverged on old primary')`);
    await sql(p1, 'SELECT pg_switch_wal()');
    await sql(p2, `INSERT INTO t VALUES (4, 'after promotion')`);
    // Immediate stop: the rewind has to bring the data dir to a clean state first.
    expect(await n1.stop('immediate', 30)).toEqual({ checkpointLsn: null, signalled: true });
    expect((await n1.dataDir()).clusterState).toBe('in production');
    await n2.syncSlots({ physical: ['node1'], logical: [], ignore: [] });

    expect(await n1.rewind(up2)).toBe(true);
    expect(logs.some((l) => l.startsWith('node1:') && l.includes('single-user'))).toBe(true);
    await n1.start('replica', up2, 60);
    const st = await pollUntil('node1 streaming from node2', 30_000, async () => {
      const s = await n1.status();
      return s.replicationState === 'streaming' ? s : undefined;
    });
    expect(st).toMatchObject({ inRecovery: true, timeline: 2 });
    await sql(p2, `INSERT INTO t VALUES (5, 'streamed after rewind')`);
    const rows = await pollUntil('row 5 on node1', 30_000, async () => {
      const r = await sql<{ id: number }>(p1, 'SELECT id FROM t ORDER BY id');
      return r.some((x) => x.id === 5) ? r : undefined;
    });
    expect(rows.map((r) => r.id)).toEqual([1, 2, 4, 5]);

    const [d1, d2] = [await n1.dataDir(), await n2.dataDir()];
    expect(d1.systemIdentifier).toBe(d2.systemIdentifier);
  });

  it('follow() re-points a standby with a reload', { timeout: 60_000 }, async () => {
    const before = (await n1.status()).postmasterStartTime;
    await n1.follow({ ...up2, slotName: null }, 30);
    const conf = await fs.readFile(path.join(tmp, 'node1', 'pgwarden.recovery.conf'), 'utf8');
    expect(conf).not.toContain('primary_slot_name');
    const st = await pollUntil('node1 streaming without slot', 30_000, async () => {
      const s = await n1.status();
      const slot = await sql<{ active: boolean }>(
        p2,
        `SELECT active FROM pg_replication_slots WHERE slot_name = 'node1'`,
      );
      return s.replicationState === 'streaming' && slot[0]?.active === false ? s : undefined;
    });
    expect(st.postmasterStartTime).toBe(before);
    // A primary is never turned into a standby by follow(): only the node machine demotes.
    const primaryStart = (await n2.status()).postmasterStartTime;
    await expect(n2.follow({ ...up2, slotName: null }, 30)).rejects.toThrow(
      'runs as a primary; only a demotion may turn it into a standby',
    );
    expect(await n2.status()).toMatchObject({
      running: true,
      inRecovery: false,
      postmasterStartTime: primaryStart,
    });
  });

  it('a replica whose stream broke just after it followed a promotion reports the timeline it replays', {
    timeout: 180_000,
  }, async () => {
    // node1 streams from node4, which is then promoted; node1 follows onto the new timeline and
    // loses its stream before any restartpoint. pg_control still names the old timeline then:
    // taken for the replica's own, with a position past that timeline's end in the history, it
    // looked diverged, and the agent ran pg_rewind against a leader on its own timeline (seen
    // on real processes, bench/chaos.ts).
    const p4 = await freePort();
    const n4 = makeNode('node4', p4);
    await n4.createReplica({
      from: { ...up1, port: p2, slotName: null, applicationName: 'node4' },
      methods: BASEBACKUP_ONLY,
    });
    await n4.start('replica', { ...up1, port: p2, slotName: null, applicationName: 'node4' }, 60);
    await n1.follow({ host: '127.0.0.1', port: p4, applicationName: 'node1', slotName: null }, 30);
    await pollUntil('node1 streaming from node4', 30_000, async () =>
      (await n1.status()).replicationState === 'streaming' ? true : undefined,
    );
    await n4.promote(30);
    await sql(p4, `INSERT INTO t VALUES (6, 'on timeline 3')`);
    await pollUntil('row 6 on node1', 30_000, async () =>
      (await sql(p1, 'SELECT 1 FROM t WHERE id = 6')).length === 1 ? true : undefined,
    );
    await n4.stop('immediate', 30);
    const st = await pollUntil('node1 no longer streaming', 30_000, async () => {
      const s = await n1.status();
      return s.replicationState !== 'streaming' ? s : undefined;
    });
    const [control] = await sql<{ timeline_id: number }>(
      p1,
      'SELECT timeline_id FROM pg_control_checkpoint()',
    );
    logs.push(`node1: pg_control checkpoint timeline ${control!.timeline_id} while replaying timeline 3`);
    expect(st).toMatchObject({ inRecovery: true, timeline: 3 });
  });

  it('stops in every mode; a stopped instance reports running: false', { timeout: 120_000 }, async () => {
    const smart = await n1.stop('smart', 30);
    expect(smart.checkpointLsn).toBeGreaterThan(0);
    expect(smart.signalled).toBe(true);
    expect((await n1.dataDir()).clusterState).toBe('shut down in recovery');
    expect(await n1.status()).toMatchObject({
      running: false,
      timeline: null,
      currentLsn: null,
      replication: [],
    });
    // Stopped already: the same checkpoint, and nothing signalled (no on_stop follows).
    expect(await n1.stop('fast', 10)).toEqual({ ...smart, signalled: false });

    const fast = await n2.stop('fast', 30);
    const d2 = await n2.dataDir();
    expect(d2.clusterState).toBe('shut down');
    expect(fast.checkpointLsn).toBe(d2.checkpointLsn);
    await n2.start('primary', null, 60);
    expect((await n2.stop('immediate', 30)).checkpointLsn).toBeNull();
    expect((await n2.status()).running).toBe(false);
  });

  it('another cluster: different system identifier, no rewind, readable start failure', {
    timeout: 120_000,
  }, async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const n3 = makeNode('node3', taken);
      await n3.initdb();
      const [d1, d3] = [await n1.dataDir(), await n3.dataDir()];
      expect(d3.systemIdentifier).toMatch(/^\d+$/);
      expect(d3.systemIdentifier).not.toBe(d1.systemIdentifier);

      await n2.start('primary', null, 60);
      expect(await n3.rewind(up2)).toBe(false);
      expect(logs.some((l) => l.startsWith('node3:') && /different systems/.test(l))).toBe(true);
      await n2.stop('fast', 30);

      await expect(n3.start('primary', null, 20)).rejects.toThrow(
        /pg_ctl start exited with code 1[\s\S]*could not/,
      );
      expect((await n3.status()).running).toBe(false);
      await n3.removeDataDir();
      expect((await n3.dataDir()).initialized).toBe(false);
    } finally {
      blocker.close();
    }
  });
});
