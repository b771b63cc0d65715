/** The shapes a local cluster is described and reported in (options, nodes, their status). */

export interface LocalClusterOptions {
  dir: string;
  nodes: number;
  scope?: string;
  /** bootstrap.dcs overrides (ttl, loop_wait, retry_timeout, ...). */
  dcs?: Record<string, unknown>;
  /** Extra tags per node index. */
  tags?: (index: number) => Record<string, unknown>;
  /** Prefer the well-known ports (etcd 2379, REST 8008+, PostgreSQL 5432+) when free. */
  preferDefaultPorts?: boolean;
  log?: (msg: string) => void;
  /** Write a decision journal per node next to its log. */
  journal?: boolean;
  /**
   * An etcd the caller runs (e.g. a 3-member cluster, one member per network namespace): the
   * agents get these endpoints as `etcd3.hosts`, and the cluster neither starts nor stops etcd.
   */
  etcdEndpoints?: string[];
  /** Where etcd and the agents live on the network; loopback when absent. */
  network?: LocalNetwork;
  /** Local `postgresql` section overrides (use_pg_rewind, remove_data_directory_on_*, ...). */
  postgresql?: Record<string, unknown>;
  /** The agent's command line (default: pgwarden); the benchmarks run Patroni on the same YAML. */
  agentArgv?: (node: ClusterNode) => string[];
  /**
   * Serve the REST API over https and require client certificates: a CA, and one certificate
   * (serverAuth and clientAuth, for the nodes' address) every agent uses both ways, as Patroni's
   * restapi.certfile is; copied under the cluster's dir.
   */
  restapiTls?: { cafile: string; certfile: string; keyfile: string };
  /** Edits each node's YAML document before it is written (e.g. its own etcd endpoint). */
  editConfig?: (node: ClusterNode, doc: Record<string, unknown>) => Record<string, unknown>;
}

/**
 * A network other than loopback, e.g. one network namespace per node that a test creates to
 * make one node refuse connections while it stays alive.
 */
export interface LocalNetwork {
  /** The address etcd listens on. */
  etcdHost: string;
  /** The address node `index` listens on and is reached at (REST and PostgreSQL). */
  nodeHost: (index: number) => string;
  /** The CIDR that nodes and clients connect from, for pg_hba. */
  clients: string;
  /** Argument vectors that etcd's and node `index`'s command lines are appended to (`ip netns exec NS`); they must exec in place. */
  etcdPrefix?: string[];
  nodePrefix?: (index: number) => string[];
}

export interface StatusDoc {
  state: string;
  role: string;
  timeline?: number;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  replication?: Array<{ application_name: string; state: string }>;
  replication_state?: string;
  database_system_identifier?: string;
  pgwarden?: { is_leader: boolean };
  [k: string]: unknown;
}

export interface ClusterNode {
  name: string;
  index: number;
  /** The address REST and PostgreSQL listen on. */
  host: string;
  apiPort: number;
  apiUrl: string;
  pgPort: number;
  dataDir: string;
  configFile: string;
  logFile: string;
  /** Where the agent's journal goes with LocalClusterOptions.journal (`<name>.journal` beside the log). */
  journalFile: string;
  /** Last GET /patroni answer (null: no answer). */
  status: StatusDoc | null;
}
