/** Which members a command acts on: patronictl's role filters, member selection and confirmations. */
import { isStandbySection } from '../../cluster/standby-cluster.ts';
import { nofailoverOf } from '../../cluster/tags.ts';
import type { ClusterView, Member } from '../../cluster/view.ts';
import { leaderMember } from '../../cluster/view.ts';
import { CliError } from '../errors.ts';
import type { RoleChoice } from './choices.ts';
import type { CtlContext } from './context.ts';
import { outputMembers } from './list.ts';

/** patronictl's reading: a standby_cluster section with a host, a port or a restore_command. */
export function isStandbyCluster(view: ClusterView): boolean {
  return isStandbySection(view.config?.data['standby_cluster']);
}

export function hasNoFailover(m: Member): boolean {
  return nofailoverOf(m.data.tags);
}

/** get_all_members: the leader for leader-ish roles (by its published role), else the non-leaders or everyone. */
export function membersWithRole(view: ClusterView, role: RoleChoice): Member[] {
  if (role === 'leader' || role === 'master' || role === 'primary' || role === 'standby-leader') {
    const leader = leaderMember(view);
    if (!leader) return [];
    const published = leader.data.role;
    const ok =
      role === 'leader' ||
      (role === 'standby-leader' && published !== 'master') ||
      ((role === 'master' || role === 'primary') && published !== 'standby_leader');
    return ok ? [leader] : [];
  }
  const leaderName = view.leader?.name ?? null;
  return view.members.filter((m) => role === 'any' || m.name !== leaderName);
}

export function anyMember(view: ClusterView, role: RoleChoice, member?: string): Member | undefined {
  return membersWithRole(view, role).find((m) => member === undefined || m.name === member);
}

/** The leader first (when it has an api_url), then every other member with one. */
export function membersLeaderFirst(view: ClusterView): Member[] {
  const leader = leaderMember(view);
  const first = leader?.data.api_url ? [leader] : [];
  return [...first, ...view.members.filter((m) => m.data.api_url && m !== leader)];
}

export async function confirmMembersAction(
  ctx: CtlContext,
  members: readonly Member[],
  force: boolean,
  action: string,
  scheduledAt?: string,
): Promise<void> {
  if (force) return;
  const names = members.map((m) => m.name).join(', ');
  if (scheduledAt) {
    if (
      !(await ctx.prompter.confirm(
        `Are you sure you want to schedule ${action} of members ${names} at ${scheduledAt}?`,
      ))
    ) {
      throw new CliError(`Aborted scheduled ${action}`, 1);
    }
  } else if (!(await ctx.prompter.confirm(`Are you sure you want to ${action} members ${names}?`))) {
    throw new CliError(`Aborted ${action}`, 1);
  }
}

export interface MemberSelection {
  cluster: string;
  names: readonly string[];
  role: RoleChoice;
  force: boolean;
  action: string;
  confirm?: boolean;
}

/** patronictl's get_members: shows the cluster, narrows to the named members, asks when needed. */
export async function selectMembers(
  ctx: CtlContext,
  view: ClusterView,
  s: MemberSelection,
): Promise<Member[]> {
  const pool = membersWithRole(view, s.role);
  const candidates = new Set(pool.map((m) => m.name));
  if (!s.force || s.role) {
    if (s.names.length === 0 && candidates.size === 0) {
      throw new CliError(`${s.cluster} cluster doesn't have any members`, 1);
    }
    outputMembers(ctx, view, s.cluster);
  }
  let names: string[] = [];
  if (s.names.length > 0) {
    names = s.names.filter((n, i) => candidates.has(n) && s.names.indexOf(n) === i);
    if (names.length === 0) throw new CliError(`No ${s.role} among provided members`, 1);
  } else if (s.action !== 'reinitialize') {
    names = [...candidates];
  }
  if (names.length === 0 && !s.force) {
    names = [
      await ctx.prompter.prompt(
        `Which member do you want to ${s.action} [${[...candidates].join(', ')}]?`,
        '',
      ),
    ];
  }
  for (const n of names) {
    if (!candidates.has(n)) throw new CliError(`${n} is not a member of cluster`, 1);
  }
  const chosen = pool.filter((m) => names.includes(m.name));
  if (s.confirm !== false) await confirmMembersAction(ctx, chosen, s.force, s.action);
  return chosen;
}

/** patronictl's check_response: "Failed: …" for ≥ 400, "Success: …" otherwise (unless silent). */
export function checkResponse(
  ctx: CtlContext,
  r: { status: number; text: string },
  member: string,
  action: string,
  silentSuccess = false,
): boolean {
  if (r.status >= 400) {
    ctx.echo(`Failed: ${action} for member ${member}, status code=${r.status}, (${r.text})`);
    return false;
  }
  if (!silentSuccess) ctx.echo(`Success: ${action} for member ${member}`);
  return true;
}
