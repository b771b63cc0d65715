/** GET /cluster: Patroni's cluster_as_json over one immutable cluster view. */
import { isStandbySection } from '../cluster/standby-cluster.ts';
import { memberHostPort } from '../cluster/topology.ts';
import { type ClusterView, isPaused } from '../cluster/view.ts';

export function clusterAsJson(view: ClusterView, scope: string): Record<string, unknown> {
  const leaderName = view.leader?.name ?? null;
  const optime = view.status?.optime ?? 0;
  const syncNames = new Set(view.sync?.sync_standby ?? []);
  const leaderRole = isStandbySection(view.config?.data['standby_cluster']) ? 'standby_leader' : 'leader';
  const members = [...view.members]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((m) => {
      const isLeader = m.name === leaderName;
      const out: Record<string, unknown> = {
        name: m.name,
        role: isLeader ? leaderRole : syncNames.has(m.name) ? 'sync_standby' : 'replica',
        state: !isLeader && m.data.replication_state ? m.data.replication_state : m.data.state,
        api_url: m.data.api_url,
      };
      const hp = memberHostPort(m);
      if (hp) {
        out['host'] = hp.host;
        out['port'] = hp.port;
      }
      if (m.data.timeline !== undefined) out['timeline'] = m.data.timeline;
      if (m.data.pending_restart) out['pending_restart'] = true;
      if (m.data.scheduled_restart) out['scheduled_restart'] = m.data.scheduled_restart;
      if (m.data.tags && Object.keys(m.data.tags).length > 0) out['tags'] = m.data.tags;
      if (!isLeader) {
        const x = m.data.xlog_location;
        out['lag'] = typeof x === 'number' ? Math.max(0, optime - x) : 'unknown';
      }
      return out;
    });
  const doc: Record<string, unknown> = { members, scope };
  if (isPaused(view)) doc['pause'] = true;
  const fo = view.failover;
  if (fo?.scheduled_at) {
    const s: Record<string, unknown> = { at: fo.scheduled_at };
    if (fo.leader) s['from'] = fo.leader;
    if (fo.member) s['to'] = fo.member;
    doc['scheduled_switchover'] = s;
  }
  return doc;
}
