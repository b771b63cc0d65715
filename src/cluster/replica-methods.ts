/**
 * How a replica's data directory is made, and how a new cluster is made other than by initdb:
 * Patroni's `postgresql.create_replica_methods` and `bootstrap.method`, as plain data and the
 * pure rules over them. The actor (src/actors/postgres/replica.ts, custom-bootstrap.ts) runs
 * what these rules decide.
 *
 * Patroni 3.0.2's rules, kept: the methods are tried in the order configured, the first that
 * exits 0 wins; `basebackup` is the built-in one (pg_basebackup, with `postgresql.basebackup`'s
 * options) and the only one when none is configured; any other name is a command (its section's
 * `command`, else the name itself) called with `--scope= --role=replica --datadir= --connstring=`
 * after the section's other keys, or with only those keys under `no_params`. Without a member to
 * copy from, only methods marked `no_leader` (or the older `no_master`) are tried; `keep_data`
 * leaves the data directory as it is before the method runs (a delta restore), every other
 * method starts from an empty one.
 */
import type { UpstreamTarget } from './postgres-state.ts';

/** The built-in method: pg_basebackup from the member to copy, with the user's extra options. */
export interface BasebackupMethod {
  kind: 'basebackup';
  name: 'basebackup';
  /** `--max-rate=100M`, `--verbose`, … from `postgresql.basebackup` (Patroni's process_user_options). */
  options: readonly string[];
}

/** A user's method: a command line run in the agent's environment, as the database user. */
export interface CommandMethod {
  kind: 'command';
  name: string;
  /** The command line, split as shlex does when it runs (config/command-line.ts). */
  command: string;
  /** The section's other keys as `--key=value` pairs, in their order, values as Patroni prints them. */
  options: ReadonlyArray<readonly [string, string]>;
  noParams: boolean;
  /** `no_leader` or `no_master`: works without a member to copy from (a restore from a backup). */
  noLeader: boolean;
  keepData: boolean;
}

export type ReplicaMethod = BasebackupMethod | CommandMethod;

/** No `create_replica_methods`: pg_basebackup, without extra options. */
export const BASEBACKUP_ONLY: readonly ReplicaMethod[] = Object.freeze([
  Object.freeze({ kind: 'basebackup', name: 'basebackup', options: Object.freeze([]) }),
]);

/**
 * `bootstrap.method` other than initdb: a command that fills the empty data directory (a restore
 * from a backup), then PostgreSQL started once with `recovery_conf` to recover (and promote), as
 * Patroni's custom bootstrap does.
 */
export interface BootstrapCommand {
  name: string;
  command: string;
  noParams: boolean;
  /** Recovery settings (restore_command, recovery_target_*) for that first start; null: none. */
  recoveryConf: Readonly<Record<string, string>> | null;
  /** Keep the signal file and recovery settings the command wrote (pgBackRest writes its own). */
  keepExistingRecoveryConf: boolean;
}

/** What a new replica is made with: the member to copy (null: none), and the methods to try in order. */
export interface ReplicaPlan {
  from: UpstreamTarget | null;
  methods: readonly ReplicaMethod[];
  /**
   * The copy is of another cluster (a standby cluster's remote primary): what pgwarden keeps in
   * the data directory about that cluster (its servers, to fence) must not come with it.
   */
  foreign?: boolean;
}

/** A method that can make a replica with nobody to copy from (Patroni's replica_method_can_work_without_replication_connection). */
export function worksWithoutLeader(method: ReplicaMethod): boolean {
  return method.kind === 'command' && method.noLeader;
}

/**
 * The methods to try, in order, copying `from` (null: nobody to copy from, so only the methods
 * that work without one); empty when there is no way to make the replica now.
 */
export function replicaPlan(methods: readonly ReplicaMethod[], from: UpstreamTarget | null): ReplicaPlan {
  const configured = methods.length > 0 ? methods : BASEBACKUP_ONLY;
  return { from, methods: from ? configured : configured.filter(worksWithoutLeader) };
}

/** A plan that must not empty the data directory before its first method (its first keeps data). */
export function keepsDataFirst(plan: ReplicaPlan): boolean {
  const first = plan.methods[0];
  return first?.kind === 'command' && first.keepData;
}

/** The keys that steer a method rather than being passed to it under `no_params`. */
const STEERING_KEYS = new Set(['no_params', 'no_master', 'no_leader', 'keep_data']);

/**
 * The arguments after the command's own words, as Patroni builds them: the section's keys (but
 * `command`), then scope, role, datadir and connstring, each replacing a key of that name in
 * place; under `no_params` the section's keys only, without the four that steer the method.
 */
export function commandMethodArgs(
  method: CommandMethod,
  where: { scope: string; dataDir: string; connstring: string },
): string[] {
  const pairs = new Map<string, string>();
  for (const [k, v] of method.options) if (!(method.noParams && STEERING_KEYS.has(k))) pairs.set(k, v);
  if (!method.noParams) {
    pairs.set('scope', where.scope);
    pairs.set('role', 'replica');
    pairs.set('datadir', where.dataDir);
    pairs.set('connstring', where.connstring);
  }
  return [...pairs].map(([k, v]) => `--${k}=${v}`);
}

/** A custom bootstrap's arguments: `--scope= --datadir=`, none under `no_params`. */
export function bootstrapCommandArgs(method: BootstrapCommand, scope: string, dataDir: string): string[] {
  return method.noParams ? [] : [`--scope=${scope}`, `--datadir=${dataDir}`];
}

/**
 * A YAML scalar as Python's `str()` prints it, since Patroni formats `--key=value` with it and
 * scripts written for Patroni parse that: `True`/`False`, `None`, numbers and strings as they are.
 */
export function pythonText(value: string | number | boolean | null): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  return String(value);
}

/**
 * The `--connstring=` a command method gets: libpq keywords in Patroni's order (dbname, user,
 * host, port, then TLS options), the password left to PGPASSFILE, with ` `, `'` and `\`
 * escaped by a backslash as Patroni's format_dsn does.
 */
export function methodConnstring(
  from: UpstreamTarget | null,
  user: string,
  libpq: Readonly<Record<string, string | undefined>>,
): string {
  if (!from) return '';
  const keys: Array<[string, string | number | undefined]> = [
    ['dbname', 'postgres'],
    ['user', user],
    ['host', from.host],
    ['port', from.port],
  ];
  for (const k of DSN_KEYWORDS) keys.push([k, libpq[k]]);
  return keys
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${String(v).replace(/(['\\ ])/g, '\\$1')}`)
    .join(' ');
}

/** libpq options after dbname, user, host and port, in the order Patroni's format_dsn writes them. */
const DSN_KEYWORDS = [
  'sslmode',
  'sslcompression',
  'sslcert',
  'sslkey',
  'sslpassword',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'application_name',
  'krbsrvname',
  'gssencmode',
  'channel_binding',
  'target_session_attrs',
];

/** pg_basebackup options pgwarden sets itself (Patroni's list): refused in `postgresql.basebackup`. */
export const BASEBACKUP_RESERVED = [
  'pgdata',
  'format',
  'wal-method',
  'xlog-method',
  'gzip',
  'version',
  'compress',
  'dbname',
  'host',
  'port',
  'username',
  'password',
] as const;
