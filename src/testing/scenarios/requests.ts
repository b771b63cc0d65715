/**
 * Scenarios of operator requests whose rules schedules rarely exercise: Patroni's restart
 * filters, scheduled restarts and switchovers (replaced, deleted, due by a stepped wall clock,
 * stale), a reinitialize queued behind a start, and the answer to a failover naming the leader.
 */
import { defaultDurations } from '../simulated-postgres/index.ts';
import { aReplica, check, healthy, onHealthyCluster, reportsStreaming, type Scenario } from './harness.ts';

export const reinitializeDuringStart: Scenario = {
  name: 'reinitialize while a start runs: refused unless forced, and then queued behind it',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      replica.postgres.setDurations({ startMs: 8000 });
      replica.crashPostgres();
      await c.until(() => replica.report()?.state === 'starting', 30_000);
      const refused = await c.rest(replica.name, 'POST', '/reinitialize', {});
      check(refused.status === 503, `reinitialize answered ${refused.status} ${refused.body}`, c);
      const queued = await c.rest(replica.name, 'POST', '/reinitialize', { force: true });
      check(queued.status === 200, `forced reinitialize answered ${queued.status} ${queued.body}`, c);
      replica.postgres.setDurations({ startMs: 200 });
      await c.until(
        () => c.events.some((e) => e.node === replica.name && e.state === 'creating replica'),
        60_000,
      );
      await c.until(healthy(c, 2), 60_000);
    }),
};

export const scheduledRestartByWallClock: Scenario = {
  name: "a scheduled restart waits for its time by the node's wall clock, which stepped back meanwhile",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      const at = new Date(replica.clock.now() + 30_000).toISOString();
      const scheduled = await c.rest(replica.name, 'POST', '/restart', { schedule: at });
      check(scheduled.status === 202, `scheduling answered ${scheduled.status} ${scheduled.body}`, c);
      await c.advance(10_000);
      replica.clock.step(-60_000);
      const due = () => c.scheduledDue.some((d) => d.node === replica.name);
      await c.advance(25_000);
      check(!due(), 'the restart came due by the timer, 60 s early by the wall clock', c);
      await c.until(due, 70_000);
      const d = c.scheduledDue.find((x) => x.node === replica.name)!;
      check(d.localNow >= d.atMs, `due at ${d.localNow}, before ${d.atMs}`, c);
      await c.until(healthy(c, 2), 60_000);
    }),
};

export const restartFilters: Scenario = {
  name: "Patroni's restart filters: a role that does not match is refused, also while a restart runs; a scheduled restart whose filter fails or whose postmaster restarted meanwhile is dropped when due",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      const leader = c.leader()!;
      const refused = (r: { status: number; body: string }) =>
        r.status === 503 && r.body === 'restart conditions are not satisfied';
      const onReplica = await c.rest(replica.name, 'POST', '/restart', { role: 'master' });
      check(refused(onReplica), `role master on a replica answered ${onReplica.status} ${onReplica.body}`, c);
      const onLeader = await c.rest(leader, 'POST', '/restart', { role: 'replica' });
      check(refused(onLeader), `role replica on the leader answered ${onLeader.status} ${onLeader.body}`, c);
      // The filters come first, as in Patroni: a restart under way does not hide them.
      replica.postgres.setDurations({ stopMs: 3000 });
      const first = replica.request('POST', '/restart', {});
      const during = await c.rest(replica.name, 'POST', '/restart', { role: 'master' });
      check(refused(during), `role master during a restart answered ${during.status} ${during.body}`, c);
      check((await c.waitFor(first, 60_000)).status === 200, 'the restart under way failed', c);
      replica.postgres.setDurations({ stopMs: defaultDurations.stopMs });

      const started = () => replica.report()?.pg?.postmasterStartTime ?? null;
      const dues = () => c.scheduledDue.filter((d) => d.node === replica.name).length;
      const schedule = async (body: Record<string, unknown>) => {
        const at = new Date(replica.clock.now() + 30_000).toISOString();
        const res = await c.rest(replica.name, 'POST', '/restart', { schedule: at, ...body });
        check(res.status === 202, `scheduling answered ${res.status} ${res.body}`, c);
      };
      // A filter that no longer holds when the time comes (no restart is pending here).
      let before = started();
      let due = dues();
      await schedule({ restart_pending: true });
      await c.until(() => dues() > due, 60_000);
      await c.advance(5000);
      check(started() === before, 'a scheduled restart ran although no restart was pending', c);
      // The postmaster restarted by hand meanwhile: the scheduled restart is moot.
      due = dues();
      await schedule({});
      const now = await c.rest(replica.name, 'POST', '/restart', {});
      check(now.status === 200, `the restart by hand answered ${now.status} ${now.body}`, c);
      before = started();
      await c.until(() => dues() > due, 60_000);
      await c.advance(5000);
      check(started() === before, 'a scheduled restart ran after the postmaster had restarted', c);
      await c.until(healthy(c, 2), 60_000);
    }),
};

export const scheduledRestartDeleted: Scenario = {
  name: 'a scheduled restart is deleted before its time, and a second restart while one runs is refused',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const replica = aReplica(c);
      const at = new Date(c.now() + 60_000).toISOString();
      const scheduled = await c.rest(replica.name, 'POST', '/restart', { schedule: at });
      check(scheduled.status === 202, `scheduling answered ${scheduled.status} ${scheduled.body}`, c);
      const deleted = await c.rest(replica.name, 'DELETE', '/restart');
      check(deleted.status === 200, `delete answered ${deleted.status} ${deleted.body}`, c);
      const none = await c.rest(replica.name, 'DELETE', '/restart');
      check(none.status === 404, `a second delete answered ${none.status} ${none.body}`, c);
      replica.postgres.setDurations({ stopMs: 3000 });
      const first = replica.request('POST', '/restart', {});
      const second = await c.rest(replica.name, 'POST', '/restart', {});
      check(
        second.status === 503 && second.body.endsWith('already in progress'),
        `the second restart answered ${second.status} ${second.body}`,
        c,
      );
      const done = await c.waitFor(first, 60_000);
      check(done.status === 200, `the first restart answered ${done.status} ${done.body}`, c);
    }),
};

export const scheduledSwitchoverReplaced: Scenario = {
  name: 'a scheduled switchover replaced by another one happens at the new time',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const when = (s: number) => new Date(c.now() + s * 1000).toISOString();
      const first = await c.rest(old, 'POST', '/switchover', { leader: old, scheduled_at: when(120) });
      check(first.status === 202, `first answered ${first.status} ${first.body}`, c);
      await c.advance(2000);
      const second = await c.rest(old, 'POST', '/switchover', { leader: old, scheduled_at: when(20) });
      check(second.status === 202, `second answered ${second.status} ${second.body}`, c);
      const took = await c.until(() => c.leader() !== old && c.primaries().length === 1, 60_000);
      check(took <= 25_000, `the switchover came ${took} ms after the second request`, c);
    }),
};

export const scheduledSwitchoverDeleted: Scenario = {
  name: 'a scheduled switchover deleted (DELETE /switchover) never happens; deleting again finds none (404)',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const at = new Date(c.now() + 20_000).toISOString();
      const res = await c.rest(old, 'POST', '/switchover', { leader: old, scheduled_at: at });
      check(res.status === 202, `scheduling answered ${res.status} ${res.body}`, c);
      // Asked of a replica: any member's API edits /failover.
      const replica = c.streamingReplicas()[0]!;
      const deleted = await c.rest(replica, 'DELETE', '/switchover');
      check(deleted.status === 200, `the delete answered ${deleted.status} ${deleted.body}`, c);
      const again = await c.rest(old, 'DELETE', '/switchover');
      check(again.status === 404, `the second delete answered ${again.status} ${again.body}`, c);
      await c.advance(40_000);
      check(c.leader() === old, `leadership moved to ${c.leader()} after the switchover was deleted`, c);
    }),
};

export const staleScheduledSwitchoverDropped: Scenario = {
  name: "a scheduled switchover that comes due long after its time (the leader's wall clock jumped ahead) is dropped, not carried out late",
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const leader = c.node(old);
      const at = new Date(leader.clock.now() + 20_000).toISOString();
      const res = await c.rest(old, 'POST', '/switchover', { leader: old, scheduled_at: at });
      check(res.status === 202, `scheduling answered ${res.status} ${res.body}`, c);
      leader.clock.step(60_000);
      const dues = () => c.scheduledDue.filter((d) => d.node === old && d.scheduler === 'switchover').length;
      await c.until(() => dues() > 0, 40_000);
      const request = () => leader.report()?.view?.failover ?? null;
      await c.until(() => {
        const f = request();
        return !f || (!f.leader && !f.member);
      }, 20_000);
      await c.advance(20_000);
      check(c.leader() === old, `leadership moved to ${c.leader()} on a stale scheduled switchover`, c);
    }),
};

export const failoverToCurrentLeader: Scenario = {
  name: 'POST /failover naming the current leader answers 503 Failover failed within seconds, as Patroni does',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const leader = c.leader()!;
      const started = c.now();
      const res = await c.rest(leader, 'POST', '/failover', { candidate: leader });
      check(
        res.status === 503 && res.body === 'Failover failed',
        `failover answered ${res.status} ${res.body}`,
        c,
      );
      check(c.now() - started < 5_000, `the answer took ${c.now() - started} virtual ms`, c);
      check(c.leader() === leader, 'the leader changed', c);
    }),
};

export const patchConfigWriteFails: Scenario = {
  name: 'PATCH /config whose write meets etcd gone after the read: answered with the failure, /config unchanged',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      // Each etcd call takes a second: the edit's read answers, then etcd goes while it writes.
      c.dcs.setLatency(1000);
      const answer = c.node('node1').request('PATCH', '/config', { loop_wait: 9 });
      await c.advance(1500);
      c.dcs.setAvailable(false);
      const r = await c.waitFor(answer, 60_000);
      c.dcs.setAvailable(true);
      c.dcs.setLatency(0);
      check(r.status >= 500, `PATCH answered ${r.status} ${r.body}`, c);
      await c.advance(15_000);
      const config = await c.rest('node2', 'GET', '/config');
      check(
        (JSON.parse(config.body) as { loop_wait?: number }).loop_wait === 10,
        `/config is ${config.body}`,
        c,
      );
    }),
};

export const patchConfigUnchanged: Scenario = {
  // Patroni answers a PATCH that changes nothing with the configuration, writes nothing, and
  // still runs its loop at once.
  name: 'PATCH /config that changes nothing: 200 with the configuration, /config not written',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const before = c.store.get('/service/sim/config');
      const r = await c.waitFor(c.node('node1').request('PATCH', '/config', { loop_wait: 10 }), 30_000);
      check(r.status === 200, `PATCH answered ${r.status} ${r.body}`, c);
      check((JSON.parse(r.body) as { loop_wait?: number }).loop_wait === 10, `PATCH answered ${r.body}`, c);
      const after = c.store.get('/service/sim/config');
      check(
        before !== undefined && after?.modRevision === before.modRevision,
        `/config was written: revision ${before?.modRevision} → ${after?.modRevision}`,
        c,
      );
    }),
};

/**
 * Seen on real processes (session 20): a bystander re-pointed at a new leader replays its old
 * timeline's end and does not stream for about a second (durations.repointMs). A failover that
 * names it then would have it promote timeline 1 into a second timeline 2, the leader's writes
 * gone: refused at once (412, and why); once it streams, the same request succeeds.
 */
export const failoverToReplicaBetweenUpstreams: Scenario = {
  name: 'a failover naming a replica still between its old and new leader is refused (412) until it streams, then done',
  run: (inspect) =>
    onHealthyCluster(inspect, async (c) => {
      const old = c.leader()!;
      const [to, bystander] = c.nodes.filter((n) => n.name !== old).map((n) => n.name) as [string, string];
      c.node(bystander).postgres.setDurations({ repointMs: 5000 });
      const moved = await c.rest(old, 'POST', '/switchover', { leader: old, candidate: to });
      check(moved.status === 200, `the switchover answered ${moved.status} ${moved.body}`, c);
      const between = () =>
        c.node(bystander).postgres.proc?.upstream?.host === to && !c.streamingReplicas().includes(bystander);
      await c.until(between, 10_000);
      const refused = await c.rest(to, 'POST', '/failover', { candidate: bystander });
      check(
        refused.status === 412 && refused.body.endsWith("behind the cluster's 2, and not streaming"),
        `a failover to ${bystander}, between upstreams, answered ${refused.status} ${refused.body}`,
        c,
      );
      await c.until(() => reportsStreaming(c, bystander), 30_000);
      const done = await c.rest(to, 'POST', '/failover', { candidate: bystander });
      check(done.status === 200, `once it streamed, the failover answered ${done.status} ${done.body}`, c);
      const timelines = c.world.promotions.map((p) => p.timeline);
      check(
        new Set(timelines).size === timelines.length,
        `promotions made timelines ${timelines.join(', ')}`,
        c,
      );
    }),
};
