/** Who a node streams from and which slots the leader keeps: pure answers from the cluster view. */
import { slotNameFromMemberName, type UpstreamTarget } from '../actors/postgres.ts';
import { type ClusterView, leaderMember, type Member, memberByName } from './view.ts';

/** host and port of a member's `conn_url` (`postgres://host:port/db`), IPv6 brackets removed. */
export function memberHostPort(member: Member): { host: string; port: number } | null {
  try {
    const url = new URL(member.data.conn_url);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return { host, port: url.port ? Number(url.port) : 5432 };
  } catch {
    return null;
  }
}

function targetOf(member: Member | undefined, me: string, useSlots: boolean): UpstreamTarget | null {
  if (!member || member.name === me) return null;
  const hp = memberHostPort(member);
  if (!hp) return null;
  return { ...hp, applicationName: me, slotName: useSlots ? slotNameFromMemberName(me) : null };
}

/** The member to stream from: a running `replicatefrom` member, else the leader. */
export function upstreamFor(
  view: ClusterView,
  me: string,
  replicatefrom: string | undefined,
  useSlots: boolean,
): UpstreamTarget | null {
  if (replicatefrom) {
    const cascade = memberByName(view, replicatefrom);
    if (cascade && cascade.data.state === 'running') return targetOf(cascade, me, useSlots);
  }
  return targetOf(leaderMember(view), me, useSlots);
}

/** Where a new replica takes its base backup: a running member tagged clonefrom, else the leader. */
export function cloneSourceFor(view: ClusterView, me: string, pick = 0): UpstreamTarget | null {
  const donors = view.members.filter(
    (m) => m.name !== me && m.data.tags?.clonefrom === true && m.data.state === 'running',
  );
  const donor = donors.length > 0 ? donors[pick % donors.length] : leaderMember(view);
  return targetOf(donor, me, false);
}

/** Physical slots the leader keeps: one per other member, except cascading replicas of another member. */
export function desiredSlots(view: ClusterView, me: string): string[] {
  const names = new Set(view.members.map((m) => m.name));
  return view.members
    .filter((m) => m.name !== me)
    .filter((m) => {
      const from = m.data.tags?.replicatefrom;
      return !(typeof from === 'string' && from !== me && names.has(from));
    })
    .map((m) => slotNameFromMemberName(m.name))
    .sort();
}
