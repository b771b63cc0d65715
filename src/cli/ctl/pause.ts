/** `pause` / `resume`: PATCH /config {"pause": true|null} on the first reachable member, leader first. */
import { type ClusterView, isPaused } from '../../cluster/view.ts';
import { CliError } from '../errors.ts';
import type { CtlContext } from './context.ts';
import { membersLeaderFirst } from './members.ts';
import { RestUnreachable } from './rest.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the member keys once a second for loop_wait + 1 seconds until every member reports the state. */
async function waitUntilApplied(
  ctx: CtlContext,
  cluster: string,
  paused: boolean,
  old: ClusterView,
): Promise<void> {
  ctx.echo(`'${paused ? 'pause' : 'resume'}' request sent, waiting until it is recognized by all nodes`);
  const before = new Map(old.members.filter((m) => m.data.api_url).map((m) => [m.name, m.index]));
  const loopWait = Number(old.config?.data['loop_wait'] ?? 10);
  const deadline = Date.now() + (loopWait + 1) * 1000;
  let view = old;
  for (;;) {
    view = await ctx.cluster(cluster);
    const tracked = view.members.filter((m) => before.has(m.name));
    if (tracked.every((m) => !!m.data.pause === paused)) break;
    if (Date.now() >= deadline) {
      const remaining = tracked.filter((m) => !!m.data.pause !== paused && before.get(m.name) !== m.index);
      if (remaining.length > 0) {
        ctx.echo(
          `${remaining.map((m) => m.name).join(', ')} members didn't recognized pause state after ${loopWait} seconds`,
        );
        return;
      }
      break;
    }
    await sleep(1000);
  }
  ctx.echo(`Success: cluster management is ${paused ? 'paused' : 'resumed'}`);
}

export async function runTogglePause(
  ctx: CtlContext,
  cluster: string,
  paused: boolean,
  o: { wait?: boolean },
): Promise<void> {
  const view = await ctx.cluster(cluster);
  if (isPaused(view) === paused) throw new CliError(`Cluster is ${paused ? 'already' : 'not'} paused`, 1);
  for (const m of membersLeaderFirst(view)) {
    let r: { status: number; text: string };
    try {
      r = await ctx.rest.call(m, 'PATCH', 'config', { pause: paused || null });
    } catch (err) {
      if (!(err instanceof RestUnreachable)) throw err;
      process.stderr.write(`WARNING - ${err.message}\nWARNING - Member ${m.name} is not accessible\n`);
      continue;
    }
    if (r.status === 200) {
      if (o.wait) await waitUntilApplied(ctx, cluster, paused, view);
      else ctx.echo(`Success: cluster management is ${paused ? 'paused' : 'resumed'}`);
    } else {
      ctx.echo(
        `Failed: ${paused ? 'pause' : 'resume'} cluster management status code=${r.status}, (${r.text})`,
      );
    }
    return;
  }
  throw new CliError('Can not find accessible cluster member', 1);
}
