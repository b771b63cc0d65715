/**
 * A simulated PostgreSQL for whole-cluster tests in virtual time: data directories with a
 * system identifier, timelines and WAL positions; promotion (timeline + 1 with a history
 * line), pg_basebackup, pg_rewind, streaming replication that stalls on diverged timelines,
 * physical slots, synchronous_standby_names and commit acknowledgement, crashes and slow
 * operations. Every instance of one cluster lives in one `SimulatedWorld` (world.ts); the WAL
 * model is wal.ts, synchronous replication's rules synchronous.ts, a server's state and
 * streaming server.ts, the Postgres contract on top of it postgres.ts.
 */
export { SimulatedPostgres } from './postgres.ts';
export { parseSynchronousStandbyNames, type SyncNames } from './synchronous.ts';
export {
  type Commit,
  type CommitState,
  defaultDurations,
  type SimulatedDurations,
  type SimulatedWorldOptions,
} from './types.ts';
export { SimulatedWorld } from './world.ts';
