/**
 * The guards of the way in (bootstrap.ts, new-cluster.ts, recovery's new clone) and of a standby
 * cluster's leader: pure predicates over the node's context and the event, given to setup() with
 * the others (setup.ts).
 */

import type { DataDirState } from '../../cluster/postgres-state.ts';
import { keepsDataFirst } from '../../cluster/replica-methods.ts';
import { doneOutput } from '../done-output.ts';
import type { AcquireResult } from '../election/index.ts';
import { followTarget, leadsStandbyCluster, replicaPlanOf, upstreamOf } from './facts.ts';
import type { NodeContext } from './types.ts';

type Args = { context: NodeContext; event: unknown };

export const bootstrapGuards = {
  dataDirInitialized: ({ context }: Args) => context.dataDir?.initialized ?? false,
  foreignDataDir: ({ context }: Args) => {
    const mine = context.dataDir?.systemIdentifier;
    const cluster = context.view.initialize;
    return !!mine && !!cluster && cluster !== mine;
  },
  clusterHasLeader: ({ context }: Args) => context.view.leader !== null,
  /** Bootstrapped already (/initialize) or led: nothing to bootstrap, join it. */
  clusterExists: ({ context }: Args) => !!context.view.initialize || context.view.leader !== null,
  gotInitializeLock: ({ event }: Args) => doneOutput<boolean>(event),
  /** The bootstrap's create transaction took /leader. */
  tookLeaderKey: ({ event }: Args) => doneOutput<AcquireResult>(event).won,
  dataDirEmpty: ({ event }: Args) => !doneOutput<DataDirState>(event).initialized,
  /** Nobody to copy and no method that needs nobody (replicaPlanOf): no replica can be made now. */
  noWayToClone: ({ context }: Args) => replicaPlanOf(context).methods.length === 0,
  /**
   * No leader, the cluster initialized (not a bootstrap under way), and a method that needs
   * nobody to copy (no_leader: a restore from a backup): Patroni's "bootstrap (without leader)".
   */
  mayCloneWithoutLeader: ({ context }: Args) =>
    context.view.leader === null &&
    context.view.initialize !== '' &&
    replicaPlanOf(context).methods.length > 0,
  /** reinitialize's first method keeps the data directory (keep_data: a delta restore): not removed first. */
  replicaPlanKeepsData: ({ context }: Args) => keepsDataFirst(replicaPlanOf(context)),
  /** The lock is ours in a standby cluster: lead it as a standby of the remote primary. */
  leadsStandbyCluster: ({ context }: Args) => leadsStandbyCluster(context),
  /** The same, found with PostgreSQL running (after the bootstrap, after an agent restart). */
  leadsStandbyClusterRunning: ({ context }: Args) =>
    leadsStandbyCluster(context) && (context.pg?.running ?? false),
  /**
   * Another remote primary to stream from (/config moved it): not while the section names none
   * pgwarden can use — then the standby leader stays as it is.
   */
  remoteChanged: ({ context }: Args) =>
    followTarget(context) !== context.following && upstreamOf(context) !== null,
  /** The standby leader, and standby_cluster is gone from /config: it becomes a primary. */
  standbyClusterRemoved: ({ context }: Args) => context.isLeader && !context.settings.standby_cluster,
  /** This node won /initialize of a standby cluster: it copies the remote primary. */
  wonInitializeForStandbyCluster: ({ context, event }: Args) =>
    doneOutput<boolean>(event) && !!context.settings.standby_cluster,
  /** This node won /initialize and bootstrap.method names a command: it restores, not initdb. */
  wonInitializeToRestore: ({ context, event }: Args) =>
    doneOutput<boolean>(event) && !!context.settings.bootstrap_method,
  mayBootstrap: ({ context }: Args) => context.view.initialize === null && !context.tags.nofailover,
};
