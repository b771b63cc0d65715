/** `flush … restart|switchover`: cancel scheduled restarts (DELETE /restart) or a scheduled switchover. */
import { CliError } from '../errors.ts';
import type { FLUSH_TARGETS, RoleChoice } from './choices.ts';
import type { CtlContext } from './context.ts';
import { timestamp } from './format.ts';
import { checkResponse, membersLeaderFirst, selectMembers } from './members.ts';
import { type RestResponse, RestUnreachable } from './rest.ts';

export async function runFlush(
  ctx: CtlContext,
  cluster: string,
  names: string[],
  target: (typeof FLUSH_TARGETS)[number],
  o: { role: RoleChoice; force?: boolean },
): Promise<void> {
  const view = await ctx.cluster(cluster);
  if (target === 'restart') {
    const members = await selectMembers(ctx, view, {
      cluster,
      names,
      role: o.role,
      force: !!o.force,
      action: 'flush',
    });
    for (const m of members) {
      if (m.data.scheduled_restart) {
        const r = await ctx.rest.call(m, 'DELETE', 'restart');
        checkResponse(ctx, r, m.name, 'flush scheduled restart');
      } else ctx.echo(`No scheduled restart for member ${m.name}`);
    }
    return;
  }
  const failover = view.failover;
  if (!failover?.scheduled_at) {
    ctx.echo('No pending scheduled switchover');
    return;
  }
  for (const m of membersLeaderFirst(view)) {
    let r: RestResponse;
    try {
      r = await ctx.rest.call(m, 'DELETE', 'switchover');
    } catch (err) {
      if (!(err instanceof RestUnreachable)) throw err;
      process.stderr.write(`WARNING - ${err.message}\nWARNING - Member ${m.name} is not accessible\n`);
      continue;
    }
    if (r.status === 200 || r.status === 404) {
      ctx.echo(`${r.status === 200 ? 'Success' : 'Failed'}: ${r.text}`);
      return;
    }
    ctx.echo(`Failed: member=${m.name}, status_code=${r.status}, (${r.text})`);
  }
  ctx.echo(`${timestamp()} Could not find any accessible member of cluster ${cluster}`);
  if (!(await (await ctx.dcs(cluster)).setFailover({}, failover.index))) {
    throw new CliError('Failed to clear the scheduled switchover: /failover changed meanwhile', 1);
  }
}
