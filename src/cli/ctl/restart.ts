/** `restart` and `reload`: POST /restart (optionally scheduled/conditional) or POST /reload per member. */
import { postgresVersionToInt, VersionFormatError } from '../../cluster/versions.ts';
import { isPaused } from '../../cluster/view.ts';
import { CliError } from '../errors.ts';
import type { RoleChoice } from './choices.ts';
import type { CtlContext } from './context.ts';
import { checkResponse, confirmMembersAction, selectMembers } from './members.ts';
import { parseScheduled } from './schedule.ts';

export interface RestartOptions {
  role: RoleChoice;
  any?: boolean;
  scheduled?: string;
  pgVersion?: string;
  pending?: boolean;
  timeout?: string;
  force?: boolean;
}

/** The POST /restart body; validates the version before anything is sent. */
export function restartBody(o: {
  pending?: boolean;
  pgVersion?: string;
  schedule?: string;
  timeout?: string;
}): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (o.pending) body['restart_pending'] = true;
  if (o.pgVersion) {
    try {
      postgresVersionToInt(o.pgVersion);
    } catch (err) {
      if (err instanceof VersionFormatError) throw new CliError(err.message, 1);
      throw err;
    }
    body['postgres_version'] = o.pgVersion;
  }
  if (o.schedule) body['schedule'] = o.schedule;
  if (o.timeout !== undefined) body['timeout'] = o.timeout;
  return body;
}

export async function runRestart(
  ctx: CtlContext,
  cluster: string,
  names: string[],
  o: RestartOptions,
): Promise<void> {
  const force = !!o.force;
  const view = await ctx.cluster(cluster);
  let members = await selectMembers(ctx, view, {
    cluster,
    names,
    role: o.role,
    force,
    action: 'restart',
    confirm: false,
  });
  let scheduledText = o.scheduled;
  if (scheduledText === undefined && !force) {
    scheduledText = await ctx.prompter.prompt(
      'When should the restart take place (e.g. now or 2030-01-01T12:00) ',
      'now',
    );
  }
  const scheduled = parseScheduled(scheduledText);
  await confirmMembersAction(ctx, members, force, 'restart', scheduled?.iso);
  if (o.any) members = [members[Math.floor(Math.random() * members.length)]!].filter(Boolean);
  let pgVersion = o.pgVersion;
  if (pgVersion === undefined && !force) {
    pgVersion = await ctx.prompter.prompt(
      'Restart if the PostgreSQL version is less than provided (e.g. 9.5.2) ',
      '',
    );
  }
  if (scheduled && isPaused(view)) throw new CliError("Can't schedule restart in the paused state", 1);
  const body = restartBody({ pending: !!o.pending, pgVersion, schedule: scheduled?.iso, timeout: o.timeout });

  for (const m of members) {
    if ('schedule' in body && force && m.data.scheduled_restart) {
      const r = await ctx.rest.call(m, 'DELETE', 'restart');
      checkResponse(ctx, r, m.name, 'flush scheduled restart', true);
    }
    const r = await ctx.rest.call(m, 'POST', 'restart', body);
    if (r.status === 200) ctx.echo(`Success: restart on member ${m.name}`);
    else if (r.status === 202) ctx.echo(`Success: restart scheduled on member ${m.name}`);
    else if (r.status === 409) ctx.echo(`Failed: another restart is already scheduled on member ${m.name}`);
    else ctx.echo(`Failed: restart for member ${m.name}, status code=${r.status}, (${r.text})`);
  }
}

export async function runReload(
  ctx: CtlContext,
  cluster: string,
  names: string[],
  o: { role: RoleChoice; force?: boolean },
): Promise<void> {
  const view = await ctx.cluster(cluster);
  const members = await selectMembers(ctx, view, {
    cluster,
    names,
    role: o.role,
    force: !!o.force,
    action: 'reload',
  });
  for (const m of members) {
    const r = await ctx.rest.call(m, 'POST', 'reload');
    if (r.status === 200) ctx.echo(`No changes to apply on member ${m.name}`);
    else if (r.status === 202) {
      const loopWait = view.config?.data['loop_wait'];
      ctx.echo(
        `Reload request received for member ${m.name} and will be processed within ${loopWait ?? 'None'} seconds`,
      );
    } else ctx.echo(`Failed: reload for member ${m.name}, status code=${r.status}, (${r.text})`);
  }
}
