/** `switchover` and `failover`: pre-checks, confirmation, POST to the leader (or candidate), DCS fallback. */

import { title } from '../../cluster/manual-failover.ts';
import { isPaused, leaderMember, memberByName } from '../../cluster/view.ts';
import { CliError } from '../errors.ts';
import type { CtlContext } from './context.ts';
import { timestamp } from './format.ts';
import { outputMembers } from './list.ts';
import { hasNoFailover, isStandbyCluster } from './members.ts';
import { RestUnreachable } from './rest.ts';
import { parseScheduled } from './schedule.ts';

export interface FailoverOptions {
  leader?: string;
  candidate?: string;
  force?: boolean;
  scheduled?: string;
}

export async function runFailover(
  ctx: CtlContext,
  action: 'switchover' | 'failover',
  clusterName: string,
  o: FailoverOptions,
): Promise<void> {
  const force = !!o.force;
  let view = await ctx.cluster(clusterName);
  ctx.echo('Current cluster topology');
  outputMembers(ctx, view, clusterName);

  if (action === 'switchover' && !view.leader?.name) throw new CliError('This cluster has no leader', 1);

  let leader = o.leader;
  if (leader === undefined) {
    if (force || action === 'failover') leader = view.leader?.name;
    else {
      const prompt = isStandbyCluster(view) ? 'Standby Leader' : 'Primary';
      leader = await ctx.prompter.prompt(prompt, view.leader!.name);
    }
  }
  if (leader !== undefined && view.leader && view.leader.name !== leader) {
    throw new CliError(`Member ${leader} is not the leader of cluster ${clusterName}`, 1);
  }
  const candidates = view.members
    .filter((m) => m.name !== leader && !hasNoFailover(m))
    .map((m) => m.name)
    .sort();
  if (candidates.length === 0) throw new CliError(`No candidates found to ${action} to`, 1);

  let candidate = o.candidate;
  if (candidate === undefined && !force) {
    candidate = await ctx.prompter.prompt(`Candidate [${candidates.map((c) => `'${c}'`).join(', ')}]`, '');
  }
  if (action === 'failover' && !candidate) {
    throw new CliError('Failover could be performed only to a specific candidate', 1);
  }
  if (candidate === leader) throw new CliError(`${title(action)} target and source are the same.`, 1);
  if (candidate && !candidates.includes(candidate)) {
    throw new CliError(`Member ${candidate} does not exist in cluster ${clusterName}`, 1);
  }

  let scheduled: ReturnType<typeof parseScheduled> = null;
  if (action === 'switchover') {
    let text = o.scheduled;
    if (text === undefined && !force) {
      text = await ctx.prompter.prompt(
        'When should the switchover take place (e.g. now or 2030-01-01T12:00 ) ',
        'now',
      );
    }
    scheduled = parseScheduled(text);
    if (scheduled && isPaused(view)) throw new CliError("Can't schedule switchover in the paused state", 1);
  }
  const body = { leader: leader ?? null, candidate: candidate || null, scheduled_at: scheduled?.iso ?? null };

  if (!force) {
    const demote = leader ? `, demoting current leader ${leader}` : '';
    const question = scheduled
      ? `Are you sure you want to schedule ${action} of cluster ${clusterName} at ${scheduled.iso}${demote}?`
      : `Are you sure you want to ${action} cluster ${clusterName}${demote}?`;
    if (!(await ctx.prompter.confirm(question))) {
      throw new CliError(scheduled ? `Aborting scheduled ${action}` : `Aborting ${action}`, 1);
    }
  }

  const target = leaderMember(view) ?? (candidate ? memberByName(view, candidate) : undefined);
  try {
    if (!target) throw new RestUnreachable('no member to send the request to');
    let r = await ctx.rest.call(target, 'POST', action, body);
    if (
      r.status === 501 &&
      action === 'switchover' &&
      r.text.includes('Server does not support this operation')
    ) {
      r = await ctx.rest.call(target, 'POST', 'failover', body);
    }
    if (r.status !== 200 && r.status !== 202) {
      ctx.echo(`${title(action)} failed, details: ${r.status}, ${r.text}`);
      return;
    }
    view = await ctx.cluster(clusterName);
    ctx.echo(`${timestamp()} ${r.text}`);
  } catch (err) {
    if (!(err instanceof RestUnreachable)) throw err;
    ctx.echo(`${timestamp()} Could not ${action} using Patroni api, falling back to DCS`);
    const value: Record<string, unknown> = {};
    if (leader) value['leader'] = leader;
    if (candidate) value['member'] = candidate;
    if (scheduled) value['scheduled_at'] = scheduled.iso;
    await (await ctx.dcs(clusterName)).setFailover(value);
  }
  outputMembers(ctx, view, clusterName);
}
