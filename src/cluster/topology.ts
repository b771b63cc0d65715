/** Who a node streams from and which slots the leader keeps: pure answers from the cluster view. */
import { slotNameFromMemberName, type UpstreamTarget } from './postgres-state.ts';
import { remoteMemberName, remoteTarget, type StandbyCluster } from './standby-cluster.ts';
import { nostreamOf } from './tags.ts';
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

/** A member we can stream from: present, not ourselves, with a usable `conn_url`. */
function streamable(member: Member | undefined, me: string): member is Member {
  return !!member && member.name !== me && memberHostPort(member) !== null;
}

/**
 * The name of the member to stream from (Patroni `_get_node_to_follow`): in a standby cluster the
 * remote primary (remoteMemberName) for the leader, and for everyone while there is no leader; else a
 * running `replicatefrom` member unless the tag names ourselves, else the leader; null when we hold
 * the leader key of a cluster of our own or there is nobody usable. The single answer for both the
 * upstream address and the node's `following`.
 */
export function memberToFollow(
  view: ClusterView,
  me: string,
  replicatefrom: string | undefined,
  standby: StandbyCluster | null = null,
): string | null {
  if (standby && (view.leader === null || view.leader.name === me))
    return standby.host === null ? null : remoteMemberName(standby);
  if (view.leader?.name === me) return null;
  if (replicatefrom && replicatefrom !== me) {
    const cascade = memberByName(view, replicatefrom);
    if (cascade && cascade.data.state === 'running' && streamable(cascade, me)) return cascade.name;
  }
  const leader = leaderMember(view);
  return streamable(leader, me) ? leader.name : null;
}

/** The member to stream from (see `memberToFollow`) as an address with our application_name and slot. */
export function upstreamFor(
  view: ClusterView,
  me: string,
  replicatefrom: string | undefined,
  useSlots: boolean,
  standby: StandbyCluster | null = null,
): UpstreamTarget | null {
  const name = memberToFollow(view, me, replicatefrom, standby);
  if (standby && name === remoteMemberName(standby)) return remoteTarget(standby, me);
  return name === null ? null : targetOf(memberByName(view, name), me, useSlots);
}

/** Where a new replica takes its base backup: a running member tagged clonefrom, else the leader. */
export function cloneSourceFor(view: ClusterView, me: string, pick = 0): UpstreamTarget | null {
  const donors = view.members.filter(
    (m) => m.name !== me && m.data.tags?.clonefrom === true && m.data.state === 'running',
  );
  const donor = donors.length > 0 ? donors[pick % donors.length] : leaderMember(view);
  return targetOf(donor, me, false);
}

/**
 * Physical slots a replica keeps: one per member that replicates from it (`replicatefrom`), the
 * leader excepted (Patroni 3.0's get_replication_slots for a replica).
 */
export function cascadeSlots(view: ClusterView, me: string): string[] {
  const leader = view.leader?.name;
  return view.members
    .filter((m) => m.name !== me && m.name !== leader && m.data.tags?.replicatefrom === me)
    .filter((m) => !nostreamOf(m.data.tags))
    .map((m) => slotNameFromMemberName(m.name))
    .sort();
}

/**
 * Physical slots the leader keeps: one per other member, except cascading replicas of another
 * member and members that do not stream (nostream).
 */
export function desiredSlots(view: ClusterView, me: string): string[] {
  const names = new Set(view.members.map((m) => m.name));
  return view.members
    .filter((m) => m.name !== me && !nostreamOf(m.data.tags))
    .filter((m) => {
      const from = m.data.tags?.replicatefrom;
      return !(typeof from === 'string' && from !== me && names.has(from));
    })
    .map((m) => slotNameFromMemberName(m.name))
    .sort();
}
