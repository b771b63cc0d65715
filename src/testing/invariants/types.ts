/**
 * What an invariant is: a named check over a simulated cluster that answers null (holds) or what
 * it saw, given the step being played and what the runner knows beyond the cluster (writes an
 * operator gave up, what may move leadership). Every invariant module speaks this.
 */
import type { LeadershipCauses } from '../causes.ts';
import type { SimulatedCluster } from '../cluster/index.ts';
import type { Commit } from '../simulated-postgres/index.ts';

export interface InvariantContext {
  cluster: SimulatedCluster;
  /** The schedule step being played (0-based; the heal phase is `steps`). */
  step: number;
  synchronousMode: boolean;
  /**
   * Writes an operator gave up: a manual failover to a member /sync does not name may lose
   * those acknowledged or in flight until it is answered (as in Patroni, the operator's call).
   */
  givenUp?: ReadonlySet<Commit>;
  /** What may move leadership so far (faults and requests played); absent: not checked. */
  causes?: LeadershipCauses;
}

export interface Invariant {
  name: string;
  /** null when the invariant holds, else what was seen. */
  check(ctx: InvariantContext): string | null;
}
