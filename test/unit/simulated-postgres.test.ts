import { describe, expect, it } from 'vitest';
import type { UpstreamTarget } from '../../src/actors/postgres.ts';
import type { NodeConfig } from '../../src/config/types.ts';
import { seededRandom } from '../../src/testing/random.ts';
import {
  defaultDurations,
  parseSynchronousStandbyNames,
  type SimulatedPostgres,
  SimulatedWorld,
} from '../../src/testing/simulated-postgres/index.ts';
import { SimulatedClock } from '../helpers/sim.ts';

/** A reload of the running postmaster with these parameters (the agent's POST /reload path). */
function reloadWith(p: SimulatedPostgres, parameters: Record<string, string>): Promise<boolean> {
  return p.reload({} as NodeConfig, parameters);
}

function setup(seed = 1) {
  const clock = new SimulatedClock();
  const world = new SimulatedWorld({ clock, seed });
  return { clock, world };
}

/** Runs an operation to completion, advancing virtual time as it needs. */
async function run<T>(clock: SimulatedClock, p: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  const settled = p.finally(() => {
    done = true;
  });
  settled.catch(() => {});
  for (let t = 0; !done && t < maxMs; t += 50) {
    clock.increment(50);
    await new Promise((r) => setImmediate(r));
  }
  return settled;
}

async function tick(clock: SimulatedClock, ms = 200) {
  for (let t = 0; t < ms; t += 50) {
    clock.increment(50);
    await new Promise((r) => setImmediate(r));
  }
}

const to = (pg: SimulatedPostgres, me: string, slot: string | null = null): UpstreamTarget => ({
  host: pg.host,
  port: pg.port,
  applicationName: me,
  slotName: slot,
});

/** A primary and n standbys cloned from it, all streaming. */
async function cluster(n = 2, seed = 1) {
  const { clock, world } = setup(seed);
  const p = world.add('a');
  await run(clock, p.initdb());
  await run(clock, p.start('primary', null, 30));
  const standbys: SimulatedPostgres[] = [];
  for (let i = 0; i < n; i++) {
    const s = world.add(`s${i + 1}`);
    await run(clock, s.basebackup(to(p, s.name)));
    await run(clock, s.start('replica', to(p, s.name), 30));
    standbys.push(s);
  }
  await tick(clock);
  return { clock, world, p, standbys };
}

describe('SimulatedPostgres', () => {
  it('initdb leaves a stopped cluster with a seeded system identifier', async () => {
    const a = setup(42);
    const b = setup(42);
    const pa = a.world.add('n');
    const pb = b.world.add('n');
    await run(a.clock, pa.initdb());
    await run(b.clock, pb.initdb());
    const d = await pa.dataDir();
    expect(d).toMatchObject({ initialized: true, clusterState: 'shut down', timeline: 1 });
    expect(d.systemIdentifier).toMatch(/^\d{19}$/);
    expect((await pb.dataDir()).systemIdentifier).toBe(d.systemIdentifier);
    expect((await pa.status()).running).toBe(false);
    await expect(pa.initdb()).rejects.toThrow(/not empty/);
  });

  it('a clone copies identity and position and streams from its primary', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    const [s] = standbys;
    const st = await s!.status();
    expect(st).toMatchObject({ running: true, inRecovery: true, replicationState: 'streaming', timeline: 1 });
    expect(st.systemIdentifier).toBe((await p.status()).systemIdentifier);
    const c = world.write('a', 1000);
    expect(c.state).toBe('acknowledged');
    await tick(clock);
    expect((await s!.status()).receivedLsn).toBe((await p.status()).currentLsn);
    const ps = await p.status();
    expect(ps.replication).toEqual([
      expect.objectContaining({ application_name: 's1', state: 'streaming', sync_state: 'async' }),
    ]);
  });

  it('promotion makes timeline + 1 with a history line at the switch point', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    world.write('a', 500);
    await tick(clock);
    const at = (await p.status()).currentLsn!;
    p.crash();
    const s = standbys[0]!;
    await expect(run(clock, p.promote(30))).rejects.toThrow(/not running/);
    await run(clock, s.promote(30));
    const st = await s.status();
    expect(st).toMatchObject({ running: true, inRecovery: false, timeline: 2 });
    expect(await s.timelineHistory()).toEqual([[1, at, 'no recovery target specified']]);
    // Promoting a primary again is a no-op.
    await run(clock, s.promote(30));
    expect((await s.status()).timeline).toBe(2);
  });

  it('the crashed primary comes back "in production"; a diverged standby stalls; rewind repairs it', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    const s = standbys[0]!;
    // Async: the primary gets ahead of its standby, then dies.
    world.bytesPerTick = 0;
    world.write('a', 4096);
    p.crash();
    expect((await p.dataDir()).clusterState).toBe('in production');
    world.bytesPerTick = Number.POSITIVE_INFINITY;
    await run(clock, s.promote(30));
    // Old primary as a standby of the new one: it is ahead on timeline 1, so it cannot stream.
    await run(clock, p.start('replica', to(s, 'a'), 30));
    await tick(clock);
    expect((await p.status()).replicationState).toBe('in archive recovery');
    expect((await p.status()).timeline).toBe(1);
    await run(clock, p.stop('fast', 30));
    expect((await p.dataDir()).clusterState).toBe('shut down in recovery');
    // pg_rewind from the later timeline succeeds; then it streams on timeline 2.
    expect(await run(clock, p.rewind(to(s, 'a')))).toBe(true);
    await run(clock, p.start('replica', to(s, 'a'), 30));
    await tick(clock);
    expect(await p.status()).toMatchObject({ replicationState: 'streaming', timeline: 2 });
    expect(world.lostWrites('s1')).toEqual([expect.objectContaining({ node: 'a', bytes: 4096 })]);
  });

  it('rewind is impossible without shared ancestry or from the same timeline', async () => {
    const { clock, world, p } = await cluster(0);
    const other = world.add('x');
    await run(clock, other.initdb());
    await run(clock, other.start('primary', null, 30));
    await run(clock, p.stop('fast', 30));
    expect(await run(clock, p.rewind(to(other, 'a')))).toBe(false);
  });

  it('a standby on the switch point follows the new timeline without rewind (clean switchover)', async () => {
    const { clock, p, standbys } = await cluster(2);
    const [s1, s2] = standbys as [SimulatedPostgres, SimulatedPostgres];
    const { checkpointLsn } = await run(clock, p.stop('fast', 30));
    expect(checkpointLsn).toBe((await p.dataDir()).checkpointLsn);
    expect((await s1.status()).receivedLsn).toBe(checkpointLsn);
    await run(clock, s1.promote(30));
    await run(clock, s2.follow(to(s1, 's2'), 30));
    await run(clock, p.start('replica', to(s1, 'a'), 30));
    await tick(clock);
    // The re-pointed standby streams once its receiver is back (repointMs); the started one at once.
    expect(await p.status()).toMatchObject({ replicationState: 'streaming', timeline: 2 });
    expect(await s2.status()).toMatchObject({ replicationState: 'in archive recovery', timeline: 1 });
    await tick(clock, defaultDurations.repointMs);
    for (const s of [s2, p])
      expect(await s.status()).toMatchObject({ replicationState: 'streaming', timeline: 2 });
    // follow() never turns a primary into a standby: only the node machine demotes.
    await expect(run(clock, s1.follow(to(s2, 's1'), 30))).rejects.toThrow('s1 runs as a primary');
    expect(await s1.status()).toMatchObject({ running: true, inRecovery: false });
  });

  it('stop modes: fast writes a shutdown checkpoint, immediate leaves a crashed cluster', async () => {
    const { clock, p } = await cluster(0);
    const before = (await p.status()).currentLsn!;
    const r = await run(clock, p.stop('fast', 30));
    expect(r.checkpointLsn).toBeGreaterThan(before);
    expect((await p.dataDir()).clusterState).toBe('shut down');
    await run(clock, p.start('primary', null, 30));
    expect(await run(clock, p.stop('immediate', 30))).toEqual({ checkpointLsn: null, signalled: true });
    expect((await p.dataDir()).clusterState).toBe('in production');
    // Nothing running: nothing signalled (no on_stop callback follows).
    expect((await run(clock, p.stop('fast', 30))).signalled).toBe(false);
  });

  it('parameters set for the next start leave a running postmaster as it is until a reload', async () => {
    const { p } = await cluster(2);
    p.setParameters({ synchronous_standby_names: 's2' });
    expect(p.synchronousStandbyNames()).toBe('');
    await reloadWith(p, { synchronous_standby_names: 's2' });
    expect(p.synchronousStandbyNames()).toBe('s2');
  });

  it('synchronous commit waits for the named standby; async does not', async () => {
    const { clock, world, p, standbys } = await cluster(2);
    await reloadWith(p, { synchronous_standby_names: 's2' });
    await tick(clock);
    const rows = (await p.status()).replication;
    expect(rows.find((r) => r.application_name === 's2')?.sync_state).toBe('sync');
    expect(rows.find((r) => r.application_name === 's1')?.sync_state).toBe('async');
    world.bytesPerTick = 0;
    const c = world.write('a', 100);
    expect(c.state).toBe('waiting');
    world.bytesPerTick = Number.POSITIVE_INFINITY;
    await tick(clock);
    expect(c.state).toBe('acknowledged');
    await expect(c.done).resolves.toBe(true);
    // The sync standby dies: commits wait; the primary dies: they fail.
    standbys[1]!.crash();
    const waiting = world.write('a', 100);
    await tick(clock);
    expect(waiting.state).toBe('waiting');
    p.crash();
    await tick(clock);
    expect(waiting.state).toBe('failed');
    await expect(waiting.done).resolves.toBe(false);
    expect(world.write('a', 1).state).toBe('rejected');
  });

  it('synchronous_standby_names forms: N (a,b), ANY, *', async () => {
    expect(parseSynchronousStandbyNames('')).toBeNull();
    expect(parseSynchronousStandbyNames('2 (a, "B")')).toEqual({
      method: 'first',
      num: 2,
      names: ['a', 'B'],
    });
    expect(parseSynchronousStandbyNames('ANY 1 (a,b)')).toMatchObject({ method: 'any', num: 1 });
    const { clock, p } = await cluster(2);
    await reloadWith(p, { synchronous_standby_names: '*' });
    await tick(clock);
    const states = (await p.status()).replication.map((r) => r.sync_state).sort();
    expect(states).toEqual(['potential', 'sync']);
    await reloadWith(p, { synchronous_standby_names: '2 (s1,s2)' });
    expect((await p.status()).replication.map((r) => r.sync_state)).toEqual(['sync', 'sync']);
    // Names match case-insensitively, quoted or not, as PostgreSQL's pg_strcasecmp does.
    await reloadWith(p, { synchronous_standby_names: '"S2"' });
    expect((await p.status()).replication.map((r) => [r.application_name, r.sync_state])).toEqual([
      ['s1', 'async'],
      ['s2', 'sync'],
    ]);
  });

  it('a missing slot keeps a standby from streaming until the primary creates it', async () => {
    const { clock, world, p } = await cluster(0);
    const s = world.add('s');
    await run(clock, s.basebackup(to(p, 's')));
    await run(clock, s.start('replica', to(p, 's', 's'), 30));
    await tick(clock);
    expect((await s.status()).replicationState).toBe('in archive recovery');
    await p.syncSlots({ physical: ['s'], logical: [], ignore: [] });
    await tick(clock);
    expect((await s.status()).replicationState).toBe('streaming');
    expect(p.slots()).toEqual(['s']);
  });

  it('a standby cut off unnoticed leaves a ghost walsender: `sync`, its slot active, commits waiting, until the path heals or wal_sender_timeout', async () => {
    const { clock, world, p } = await cluster(0);
    await p.syncSlots({ physical: ['s'], logical: [], ignore: [] });
    const s = world.add('s');
    await run(clock, s.basebackup(to(p, 's')));
    await run(clock, s.start('replica', to(p, 's', 's'), 30));
    await reloadWith(p, { synchronous_standby_names: 's' });
    await tick(clock);
    const row = async () => (await p.status()).replication;
    expect(await row()).toMatchObject([{ application_name: 's', state: 'streaming', sync_state: 'sync' }]);
    const before = (await row())[0]!.flush_lsn;
    // The primary refuses the standby's packets (a firewall REJECT on the primary's host).
    world.refuse('a', 's');
    s.crash();
    await run(clock, s.start('replica', to(p, 's', 's'), 30));
    const waiting = world.write('a', 100);
    await tick(clock, 2000);
    expect(await row()).toMatchObject([{ application_name: 's', sync_state: 'sync', flush_lsn: before }]);
    expect(waiting.state).toBe('waiting');
    // Healed: the ghost still holds the slot ("replication slot is active") for a few seconds.
    world.healAll();
    await tick(clock, 1000);
    expect((await s.status()).replicationState).toBe('in archive recovery');
    await tick(clock, world.walSenderTiming.ghostLingerMs + 500);
    expect((await s.status()).replicationState).toBe('streaming');
    expect(waiting.state).toBe('acknowledged');
    // Cut for good: the ghost ends at wal_sender_timeout after the last reply.
    world.cut('a', 's');
    await tick(clock, world.walSenderTiming.walSenderTimeoutMs - 1000);
    expect(await row()).toHaveLength(1);
    await tick(clock, 2000);
    expect(await row()).toEqual([]);
  });

  it('a clean stop of the primary waits for its ghost walsender to be reaped, answering no query meanwhile', async () => {
    const { clock, world, p } = await cluster(0);
    const s = world.add('s');
    await run(clock, s.basebackup(to(p, 's')));
    await run(clock, s.start('replica', to(p, 's'), 30));
    await tick(clock);
    world.refuse('a', 's');
    s.crash();
    await tick(clock, 1000);
    expect((await p.status()).replication).toHaveLength(1);
    // The ghost never confirms the shutdown checkpoint: the stop gives up at its timeout.
    const stopping = run(clock, p.stop('fast', 5)).catch((err: Error) => err.message);
    await tick(clock, 1000);
    await expect(p.status()).rejects.toThrow('the database system is shutting down');
    expect(await stopping).toBe('stop -m fast: postmaster of a still running after 5 s');
    // Once the path heals and the ghost is reaped, the stop completes.
    world.healAll();
    const stopped = await run(clock, p.stop('fast', 30));
    expect(stopped.checkpointLsn).not.toBeNull();
    expect(clock.now()).toBeGreaterThanOrEqual(world.walSenderTiming.ghostLingerMs);
  });

  it('a reconnection takes the lowest free walsender slot, and may rank before its own ghost', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    const s = world.add('s');
    await run(clock, s.basebackup(to(p, 's')));
    await run(clock, s.start('replica', to(p, 's'), 30));
    await reloadWith(p, { synchronous_standby_names: 's' });
    await tick(clock);
    const rows = async () => (await p.status()).replication.map((r) => [r.application_name, r.sync_state]);
    expect(await rows()).toEqual([
      ['s1', 'async'],
      ['s', 'sync'],
    ]);
    // s's connection dies unseen (a ghost in slot 1); s1 leaves cleanly and frees slot 0.
    world.refuse('a', 's');
    s.crash();
    const ghostFlush = (await p.status()).replication[1]!.flush_lsn;
    await run(clock, standbys[0]!.stop('fast', 30));
    const waiting = world.write('a', 100);
    await tick(clock, 500);
    expect(waiting.state).toBe('waiting');
    world.healAll();
    await run(clock, s.start('replica', to(p, 's'), 30));
    await tick(clock, 500);
    // The new connection sits in slot 0, before the ghost (still lingering): it is the
    // synchronous one, and the commit the ghost held is released.
    const after = (await p.status()).replication;
    expect(after.map((r) => [r.application_name, r.sync_state, r.flush_lsn === ghostFlush])).toEqual([
      ['s', 'sync', false],
      ['s', 'potential', true],
    ]);
    expect(waiting.state).toBe('acknowledged');
  });

  it('a standby that reconnects is in catchup, not synchronous, until it has received everything', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    const s = standbys[0]!;
    await reloadWith(p, { synchronous_standby_names: '' });
    await run(clock, s.stop('fast', 30));
    for (let i = 0; i < 5; i++) world.write('a', 1000);
    await reloadWith(p, { synchronous_standby_names: 's1' });
    world.bytesPerTick = 1000;
    await run(clock, s.start('replica', to(p, 's1'), 30));
    await tick(clock, 100);
    expect((await p.status()).replication).toMatchObject([{ state: 'catchup', sync_state: 'potential' }]);
    await tick(clock, 1000);
    expect((await p.status()).replication).toMatchObject([{ state: 'streaming', sync_state: 'sync' }]);
  });

  it('a ghost in catchup reaches `streaming`: its walsender judges by what it sent, not what was confirmed', async () => {
    const { clock, world, p, standbys } = await cluster(1);
    const s = standbys[0]!;
    await run(clock, s.stop('fast', 30));
    for (let i = 0; i < 5; i++) world.write('a', 1000);
    world.bytesPerTick = 1000;
    await run(clock, s.start('replica', to(p, 's1'), 30));
    await tick(clock, 100);
    expect((await p.status()).replication).toMatchObject([{ state: 'catchup' }]);
    const flush = (await p.status()).replication[0]!.flush_lsn;
    world.refuse('a', 's1');
    s.crash();
    await tick(clock, 1000);
    expect((await p.status()).replication).toMatchObject([{ state: 'streaming', flush_lsn: flush }]);
  });

  it('slow operations and timeouts follow the clock', async () => {
    const { clock, p } = await cluster(0);
    await run(clock, p.stop('fast', 30));
    p.setDurations({ startMs: 5000 });
    await expect(run(clock, p.start('primary', null, 2))).rejects.toThrow(/within 2 s/);
    await expect(p.status()).rejects.toThrow(/starting up/);
    await tick(clock, 3500);
    expect((await p.status()).running).toBe(true);
  });

  it('seededRandom is deterministic', () => {
    const a = seededRandom(9);
    const b = seededRandom(9);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
  });
});
