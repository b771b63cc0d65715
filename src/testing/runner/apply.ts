/**
 * How each schedule action acts on a simulated cluster: faults through the cluster's and nodes'
 * fault methods, operator requests through a node's REST API without waiting for the answer
 * (counted when it comes). A lossy failover's writes are given up here, as the operator accepts.
 */
import type { RestMethod, SimulatedCluster } from '../cluster/index.ts';
import type { ScheduleAction, SlowOperation } from '../schedule/index.ts';
import type { SimulatedDurations } from '../simulated-postgres/index.ts';
import { giveUpWrites, type RunState } from './run-state.ts';

/** An operator request, not waited for: its answer is counted when it comes. */
export function send(
  c: SimulatedCluster,
  node: string,
  method: RestMethod,
  path: string,
  body: unknown,
  what: string,
  run: RunState,
): Promise<void> {
  const count = (key: string) => {
    run.stats.answers[key] = (run.stats.answers[key] ?? 0) + 1;
  };
  return c
    .node(node)
    .request(method, path, body)
    .then(
      (res) => count(`${what} ${res.status}`),
      () => count(`${what} refused`),
    );
}

const DURATION_OF: Record<SlowOperation, keyof SimulatedDurations> = {
  promote: 'promoteMs',
  stop: 'stopMs',
  start: 'startMs',
  basebackup: 'basebackupMs',
  rewind: 'rewindMs',
  session: 'sessionMs',
};

/** A schedule action on the cluster. Actions that no longer apply (thaw of a running agent) do nothing. */
export async function apply(c: SimulatedCluster, a: ScheduleAction, run: RunState): Promise<void> {
  const at = (inS: number | null) =>
    inS === null ? undefined : new Date(c.now() + inS * 1000).toISOString();
  switch (a.kind) {
    case 'kill':
      await c.node(a.node).kill();
      break;
    case 'kill-agent':
      await c.node(a.node).killAgent();
      break;
    case 'restart':
      if (!c.node(a.node).alive()) await c.node(a.node).restart();
      break;
    case 'crash-postgres':
      c.node(a.node).crashPostgres();
      break;
    case 'freeze':
      if (c.node(a.node).alive()) c.node(a.node).freeze();
      break;
    case 'thaw':
      c.node(a.node).thaw();
      break;
    case 'dcs-cut':
    case 'dcs-reconnect':
      c.node(a.node).setDcsReachable(a.kind === 'dcs-reconnect');
      break;
    case 'dcs-down':
    case 'dcs-up':
      c.dcs.setAvailable(a.kind === 'dcs-up');
      break;
    case 'dcs-latency':
      c.dcs.setLatency(a.ms);
      break;
    case 'dcs-flaky':
      c.node(a.node).setDcsFlaky(a.percent, a.latencyMs);
      break;
    case 'partition':
      c.partition(a.a, a.b);
      break;
    case 'heal':
      c.heal(a.a, a.b);
      break;
    case 'reject':
      c.reject(a.node, a.from);
      break;
    case 'accept':
      c.accept(a.node);
      break;
    case 'slow':
      c.node(a.node).postgres.setDurations({ [DURATION_OF[a.op]]: a.ms });
      break;
    case 'fail':
      c.node(a.node).failNext(a.op);
      break;
    case 'drift':
      c.node(a.node).clock.setDriftPpm(a.ppm);
      break;
    case 'clock-step': {
      const clock = c.node(a.node).clock;
      c.clock.setTimeout(() => clock.step(a.ms), a.afterMs);
      break;
    }
    case 'shutdown':
      void c
        .node(a.node)
        .shutdown()
        .catch(() => {});
      break;
    case 'switchover': {
      const body: Record<string, unknown> = {};
      const leader = c.leader();
      if (leader !== null) body['leader'] = leader;
      if (a.candidate !== null) body['candidate'] = a.candidate;
      const when = at(a.inS);
      if (when) body['scheduled_at'] = when;
      send(c, a.via, 'POST', '/switchover', body, 'switchover', run);
      break;
    }
    case 'failover': {
      // Patroni lets an operator fail over to any member, also one that synchronous
      // replication never waited for: the writes it lacks are given up, by request.
      const sync = c.syncState();
      const lossy =
        run.synchronousMode && sync?.leader !== a.candidate && !(sync?.standbys ?? []).includes(a.candidate);
      if (lossy) {
        run.lossyFailovers++;
        run.lossyCandidates.add(a.candidate);
      }
      void send(c, a.via, 'POST', '/failover', { candidate: a.candidate }, 'failover', run).finally(() => {
        if (!lossy) return;
        run.lossyFailovers--;
        giveUpWrites(c, run);
      });
      break;
    }
    case 'pause':
    case 'resume':
      send(c, a.via, 'PATCH', '/config', { pause: a.kind === 'pause' }, a.kind, run);
      break;
    case 'restart-postgres': {
      const when = at(a.inS);
      send(c, a.node, 'POST', '/restart', when ? { schedule: when } : {}, 'restart', run);
      break;
    }
    case 'reinitialize':
      send(c, a.node, 'POST', '/reinitialize', { force: a.force }, 'reinitialize', run);
      break;
    case 'reload':
      send(c, a.node, 'POST', '/reload', undefined, 'reload', run);
      break;
    case 'patch-config':
      send(
        c,
        a.via,
        'PATCH',
        '/config',
        { ttl: a.ttl, loop_wait: a.loopWait, retry_timeout: a.retryTimeout },
        'patch-config',
        run,
      );
      break;
  }
}
