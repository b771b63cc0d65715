/**
 * A simulated cluster of production Agents in virtual time (cluster.ts), its nodes (node.ts),
 * the failures it can inject into their PostgreSQL (gated-postgres.ts) and its vocabulary
 * (types.ts).
 */
export { createSimulatedCluster, SimulatedCluster } from './cluster.ts';
export { FAILING_OPERATIONS, type FailingOperation } from './gated-postgres.ts';
export { SimulatedNode } from './node.ts';
export type * from './types.ts';
