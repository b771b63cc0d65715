/**
 * Patroni's health-check decision (api.py do_GET) as a pure function of the node report:
 * which status code a load balancer gets for a path and query.
 */
import { isSyncStandby, type NodeReport } from '../cluster/report.ts';
import { isStandbySection } from '../cluster/standby-cluster.ts';
import { parseUnitInt } from '../cluster/units.ts';

/** `?lag=`: bytes, or a number with B/kB/MB/GB/TB, read like Patroni's parse_int. Undefined: no limit. */
export function parseLag(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseUnitInt(value, 'B');
}

export function replayedLocation(r: NodeReport): number {
  return r.pg?.running && r.pg.inRecovery ? (r.pg.replayedLsn ?? 0) : 0;
}

export interface HealthCodes {
  leader: number;
  primary: number;
  standbyLeader: number;
  replica: number;
}

export function healthCodes(r: NodeReport, query: Record<string, string | undefined>): HealthCodes {
  const role = r.pg?.running ? (r.pg.inRecovery ? 'replica' : 'master') : r.role;
  const leaderOptime = r.view?.status?.optime ?? 0;
  const maxLag = parseLag(query['lag']);
  const lagging = maxLag !== undefined && leaderOptime > 0 && leaderOptime > replayedLocation(r) + maxLag;
  const noLoadBalance = r.tags['noloadbalance'] === true;
  let replica = !noLoadBalance && !lagging && role === 'replica' && r.state === 'running' ? 200 : 503;
  let leader = 503;
  let primary = 503;
  let standbyLeader = 503;
  if (r.view === null && r.paused) {
    leader = role === 'master' || role === 'standby_leader' ? 200 : 503;
    primary = role === 'master' ? 200 : 503;
    standbyLeader = role === 'standby_leader' ? 200 : 503;
  } else if (r.isLeader && isStandbySection(r.view?.config?.data['standby_cluster'])) {
    // The lock of a standby cluster: its leader is no primary, and no replica to balance reads to.
    leader = 200;
    replica = 503;
    standbyLeader = role === 'replica' || role === 'standby_leader' ? 200 : 503;
  } else if (r.isLeader) {
    leader = 200;
    primary = 200;
    if (role !== 'master') {
      // Holding the lock but not (yet) writable: not a primary for a load balancer.
      primary = 503;
      replica = 503;
    }
  }
  return { leader, primary, standbyLeader, replica };
}

/** Status code for a health-check path (substring matching, first match wins, as Patroni). */
export function healthStatus(path: string, query: Record<string, string | undefined>, r: NodeReport): number {
  const p = path === '/' ? '/primary' : path;
  const c = healthCodes(r, query);
  let code: number;
  let tagsApply = false;
  if (p.includes('standby_leader') || p.includes('standby-leader')) code = c.standbyLeader;
  else if (p.includes('leader')) code = c.leader;
  else if (p.includes('master') || p.includes('primary') || p.includes('read-write')) code = c.primary;
  else {
    tagsApply = true;
    if (p.includes('replica')) code = c.replica;
    else if (p.includes('read-only') && !p.includes('sync'))
      code = c.primary === 200 || c.standbyLeader === 200 ? 200 : c.replica;
    else if (p.includes('health')) code = r.state === 'running' ? 200 : 503;
    else if (r.view !== null && (p === '/sync' || p === '/synchronous'))
      code = isSyncStandby(r) ? c.replica : 503;
    else if (r.view !== null && (p === '/async' || p === '/asynchronous'))
      code = isSyncStandby(r) ? 503 : c.replica;
    else if (r.view !== null && (p === '/read-only-sync' || p === '/read-only-synchronous'))
      code = c.primary === 200 || c.standbyLeader === 200 ? 200 : isSyncStandby(r) ? c.replica : 503;
    else code = 503;
  }
  if (code === 200 && tagsApply && !tagsMatch(query, r.tags)) code = 503;
  return code;
}

function tagsMatch(query: Record<string, string | undefined>, tags: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(query)) {
    if (!k.startsWith('tag_') || v === undefined) continue;
    const name = k.slice(4);
    if (!(name in tags)) return false;
    const have = tags[name];
    const text = typeof have === 'string' ? have : String(have).toLowerCase();
    if (text !== v) return false;
  }
  return true;
}
