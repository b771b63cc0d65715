/** An idle cluster's agents measured over a window: CPU (% of a core) and RSS (MB) per agent. */
import type { LocalCluster } from '../../src/local/cluster.ts';
import { agentProcesses, cpuTicks, rssMb, TICKS_PER_S } from './procs.ts';
import { sleep } from './time.ts';

/**
 * After `settleS` (an agent's first minute is not idle: V8's memory reducer, code still being
 * compiled), each agent's CPU over `windowS` and its RSS at the end; PostgreSQL's processes left
 * out (they are the database's cost).
 */
export async function idleWindow(
  cluster: LocalCluster,
  settleS: number,
  windowS: number,
): Promise<{ cpuPercent: number[]; rssMb: number[] }> {
  await sleep(settleS * 1000);
  const trees = cluster.nodes.map((n) => agentProcesses(cluster.agentPid(n.name)!));
  const before = trees.map(cpuTicks);
  await sleep(windowS * 1000);
  const after = trees.map(cpuTicks);
  return {
    cpuPercent: trees.map((_, i) => ((after[i]! - before[i]!) / TICKS_PER_S / windowS) * 100),
    rssMb: trees.map(rssMb),
  };
}
