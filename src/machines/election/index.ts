/**
 * Leader election: who holds `/leader`, and for how long this node may believe it does.
 *
 * The lock is an etcd key on the node's lease. Acquisition is a create_revision == 0
 * transaction (the `acquireLeader` actor); holding it means refreshing the lease every
 * loop_wait. The machine keeps its own deadline — the start of the last successful refresh
 * plus ttl minus a safety margin — and declares the lock lost when it passes, instead of
 * trusting the client library's late `lost` notification. The parent (node machine) hears
 * LEADERSHIP_ACQUIRED / LEADERSHIP_LOST / LEADERSHIP_RELEASED and acts on PostgreSQL.
 *
 * Nobody takes the lock before the holder's own deadline has passed: a follower races only once
 * etcd has expired the holder's lease (its deadline comes at least the margin before that, see
 * trustedMs). Evidence that the leader is gone — a broken stream, ports that refuse connections
 * — does not shorten that: a live leader behind a REJECT rule, or cut off from etcd, answers
 * the same way, and revoking its lease once made two writable primaries.
 */
import type { ActorRefFrom } from 'xstate';
import type { electionMachine } from './machine.ts';

export { electionMachine } from './machine.ts';
export { leaseMarginMs, refreshIntervalMs, retryStepMs, trustedMs } from './timing.ts';
export type * from './types.ts';

export type ElectionActor = ActorRefFrom<typeof electionMachine>;
