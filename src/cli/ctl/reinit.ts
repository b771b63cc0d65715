/** `reinit`: POST /reinitialize to replicas, optionally waiting until they leave "creating replica". */
import type { Member } from '../../cluster/view.ts';
import type { CtlContext } from './context.ts';
import { checkResponse, selectMembers } from './members.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runReinit(
  ctx: CtlContext,
  cluster: string,
  names: string[],
  o: { force?: boolean; wait?: boolean; pollMs?: number },
): Promise<void> {
  const view = await ctx.cluster(cluster);
  const force = !!o.force;
  const members = await selectMembers(ctx, view, {
    cluster,
    names,
    role: 'replica',
    force,
    action: 'reinitialize',
  });
  const waiting: Member[] = [];
  for (const m of members) {
    const body = { force };
    let started = false;
    for (;;) {
      const r = await ctx.rest.call(m, 'POST', 'reinitialize', body);
      started = checkResponse(ctx, r, m.name, 'reinitialize');
      if (
        !started &&
        r.text.endsWith(' already in progress') &&
        !force &&
        (await ctx.prompter.confirm('Do you want to cancel it and reinitialize anyway?'))
      ) {
        body.force = true;
        continue;
      }
      break;
    }
    if (started && o.wait) waiting.push(m);
  }
  let shown = '';
  while (waiting.length > 0) {
    const names = waiting.map((m) => m.name).join(', ');
    if (names !== shown) {
      ctx.echo(`Waiting for reinitialize to complete on: ${names}`);
      shown = names;
    }
    await sleep(o.pollMs ?? 2000);
    for (const m of [...waiting]) {
      let state: unknown = 'creating replica';
      try {
        const r = await ctx.rest.call(m, 'GET', 'patroni');
        state = (JSON.parse(r.text) as { state?: unknown }).state;
      } catch {
        // Not answering yet: still busy.
      }
      if (state !== 'creating replica') {
        ctx.echo(`Reinitialize is completed on: ${m.name}`);
        waiting.splice(waiting.indexOf(m), 1);
      }
    }
  }
}
