/**
 * pgwarden's embedding API for tests: whole clusters of production Agents on an in-memory
 * DCS, simulated PostgreSQL and one virtual clock. See docs/testing.md.
 */

export {
  type ClusterEvent,
  createSimulatedCluster,
  type NodeSummary,
  type RestMethod,
  type RestResponse,
  SimulatedCluster,
  type SimulatedClusterOptions,
  SimulatedNode,
  type WriteOutcome,
} from './cluster/index.ts';
export { NodeClock } from './node-clock.ts';
export { seededRandom } from './random.ts';
export {
  type Commit,
  type CommitState,
  defaultDurations,
  parseSynchronousStandbyNames,
  type SimulatedDurations,
  SimulatedPostgres,
  SimulatedWorld,
  type SimulatedWorldOptions,
} from './simulated-postgres/index.ts';
