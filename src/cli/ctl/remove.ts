/**
 * `remove <cluster>`: every key of the cluster removed from etcd, after patronictl's three
 * questions — the cluster's name, the exact phrase, and the leader's name when there is one —
 * with its words; a wrong answer removes nothing. The members' table is shown first, as there.
 */
import { CliError } from '../errors.ts';
import type { Format } from './choices.ts';
import type { CtlContext } from './context.ts';
import { outputMembers } from './list.ts';

const AWARE = 'Yes I am aware';

export async function runRemove(ctx: CtlContext, cluster: string, fmt: Format): Promise<void> {
  const view = await ctx.cluster(cluster);
  outputMembers(ctx, view, cluster, false, fmt);
  if ((await ctx.prompter.prompt('Please confirm the cluster name to remove')) !== cluster)
    throw new CliError('Cluster names specified do not match', 1);
  const phrase = await ctx.prompter.prompt(
    `You are about to remove all information in DCS for ${cluster}, please type: "${AWARE}"`,
  );
  if (phrase !== AWARE) throw new CliError(`You did not exactly type "${AWARE}"`, 1);
  const leader = view.leader?.name;
  if (leader) {
    const named = await ctx.prompter.prompt(
      'This cluster currently is healthy. Please specify the leader name to continue',
    );
    if (named !== leader) throw new CliError('You did not specify the current leader of the cluster', 1);
  }
  await (await ctx.dcs(cluster)).deleteCluster();
}
