/**
 * What the runtime parts of one node share: its I/O objects, its clock, the node machine, and
 * readings of what it last saw. Each part declares the slice it uses (`Pick<NodeCore, …>`), so a
 * part's dependencies read at a glance and tests can hand it just those.
 */
import type { Clock } from '../actors/clock.ts';
import type { Dcs } from '../actors/dcs.ts';
import type { Postgres, PostgresStatus } from '../actors/postgres.ts';
import type { Watchdog } from '../actors/watchdog.ts';
import type { ClusterView } from '../cluster/view.ts';
import type { NodeConfig } from '../config/types.ts';
import type { NodeActor, NodeSettings } from '../machines/node/index.ts';
import type { ServerParameters } from './server-parameters.ts';

export interface NodeCore {
  readonly pg: Postgres;
  readonly dcs: Dcs;
  readonly watchdog: Watchdog;
  readonly clock: Clock;
  readonly params: ServerParameters;
  readonly actor: NodeActor;
  /** The local configuration (replaced by a reload). */
  config(): NodeConfig;
  /** The settings in force (local configuration and /config). */
  settings(): NodeSettings;
  /** The last DCS view (null before the first). */
  view(): ClusterView | null;
  /** The last PostgreSQL status sample delivered. */
  pgStatus(): PostgresStatus | null;
  /** When the DCS last answered (seconds since epoch). */
  dcsLastSeen(): number | null;
  /** The agent is closed: nothing more is written. */
  closed(): boolean;
  log(msg: string): void;
  /** The member key (and the leader's /status) written now; force: even if unchanged. */
  publish(force: boolean): Promise<void>;
  /** One PostgreSQL status sample, taken after any change under way. */
  pollPostgres(): Promise<void>;
}
