/**
 * The files the agent owns in a data directory, rendered from NodeConfig.
 *
 * Layout (why): initdb's postgresql.conf is kept as postgresql.base.conf and included first,
 * so operator edits there survive; postgresql.conf is regenerated on every start. Recovery
 * settings (primary_conninfo, primary_slot_name, ...) live in a separate included file so
 * that follow() rewrites only that small file before a reload, and a primary simply gets an
 * empty one. postgresql.auto.conf (ALTER SYSTEM) is still read last and wins over both.
 */
import path from 'node:path';
import type { NodeConfig, RoleCredentials } from '../../config/types.ts';
import type { UpstreamTarget } from '../postgres.ts';

export const BASE_CONF = 'postgresql.base.conf';
export const RECOVERY_CONF = 'pgwarden.recovery.conf';
export const MANAGED_HEADER =
  '# Written by pgwarden; regenerated on every start. Local edits: postgresql.base.conf.';

type ParamValue = string | number | boolean;

/** Value for postgresql.conf: quoted string, with `\` and `'` escaped the way the GUC lexer expects. */
export function quoteGuc(value: ParamValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

function conninfoValue(v: string): string {
  // Quoted only when needed, so pg_stat_wal_receiver.conninfo stays readable.
  return v !== '' && /^[^\s'\\]+$/.test(v) ? v : `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** libpq `key=value` list. */
export function conninfo(parts: Record<string, string | number | undefined>): string {
  return Object.entries(parts)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${conninfoValue(String(v))}`)
    .join(' ');
}

/** Extra libpq options (sslmode, sslrootcert, ...) that come with role credentials. */
function libpqExtras(cred: RoleCredentials): Record<string, string | undefined> {
  const { username: _u, password: _p, ...rest } = cred;
  return rest;
}

export function socketDirFor(config: NodeConfig): string {
  const configured = config.postgresql.parameters['unix_socket_directories'];
  if (typeof configured === 'string' && configured.trim()) return configured.split(',')[0]!.trim();
  // Not the data dir's parent: that may be shared or root-owned; one dir per port never clashes.
  return `/tmp/pgwarden-${config.postgresql.listen.port}`;
}

/** Where pg_ctl sends the server log: next to the data dir, so basebackup/rewind never copy it. */
export function logFileFor(config: NodeConfig): string {
  const dir = path.resolve(config.postgresql.data_dir);
  return `${dir}.log`;
}

export function rewindCredentials(config: NodeConfig): RoleCredentials {
  return config.postgresql.authentication.rewind ?? config.postgresql.authentication.superuser;
}

function atLeast(value: ParamValue | undefined, floor: number): number {
  const n = typeof value === 'number' ? value : Number.parseInt(String(value ?? ''), 10);
  return Number.isFinite(n) && n > floor ? n : floor;
}

/** Server parameters in the order: HA defaults < configured parameters < what HA requires. */
export function serverParameters(
  config: NodeConfig,
  overrides: Record<string, ParamValue> = {},
): Record<string, ParamValue> {
  const pgc = config.postgresql;
  const configured = pgc.parameters;
  const out: Record<string, ParamValue> = {
    wal_keep_size: '128MB',
    wal_log_hints: true,
    // After a failover, replicas retry their stream this often: PostgreSQL's 5 s default adds
    // up to 5 s before they follow the new leader.
    wal_retrieve_retry_interval: '1s',
    ...configured,
  };
  out['wal_level'] = configured['wal_level'] === 'logical' ? 'logical' : 'replica';
  out['hot_standby'] = true;
  out['max_wal_senders'] = atLeast(configured['max_wal_senders'], 10);
  out['max_replication_slots'] = atLeast(configured['max_replication_slots'], 10);
  if (pgc.use_pg_rewind) out['wal_log_hints'] = true;
  out['listen_addresses'] = pgc.listen.hosts.join(',');
  out['port'] = pgc.listen.port;
  out['unix_socket_directories'] = socketDirFor(config);
  out['cluster_name'] = config.scope;
  out['hba_file'] = path.join(path.resolve(pgc.data_dir), 'pg_hba.conf');
  return { ...out, ...overrides };
}

export function renderPostgresqlConf(params: Record<string, ParamValue>, includeBase: boolean): string {
  const lines = [MANAGED_HEADER];
  if (includeBase) lines.push(`include '${BASE_CONF}'`);
  for (const key of Object.keys(params).sort()) lines.push(`${key} = ${quoteGuc(params[key]!)}`);
  lines.push(`include_if_exists '${RECOVERY_CONF}'`);
  return `${lines.join('\n')}\n`;
}

export function primaryConninfo(config: NodeConfig, upstream: UpstreamTarget): string {
  const repl = config.postgresql.authentication.replication;
  return conninfo({
    host: upstream.host,
    port: upstream.port,
    user: repl.username,
    password: repl.password,
    application_name: upstream.applicationName,
    sslmode: 'prefer',
    ...libpqExtras(repl),
  });
}

/**
 * Empty for a primary: primary_conninfo is ignored without standby.signal anyway. `recovery`: a
 * custom bootstrap's recovery_conf (restore_command, recovery_target_*), for its one start.
 */
export function renderRecoveryConf(
  config: NodeConfig,
  upstream: UpstreamTarget | null,
  recovery?: Readonly<Record<string, string>> | null,
): string {
  const lines = [MANAGED_HEADER];
  for (const [k, v] of Object.entries(recovery ?? {})) lines.push(`${k} = ${quoteGuc(v)}`);
  if (upstream) {
    lines.push(`primary_conninfo = ${quoteGuc(primaryConninfo(config, upstream))}`);
    if (upstream.slotName) lines.push(`primary_slot_name = ${quoteGuc(upstream.slotName)}`);
    for (const [k, v] of Object.entries(upstream.recovery ?? {})) lines.push(`${k} = ${quoteGuc(v)}`);
    lines.push(`recovery_target_timeline = 'latest'`);
  }
  return `${lines.join('\n')}\n`;
}

function hbaUser(name: string): string {
  return /^[A-Za-z0-9_]+$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** The agent's own socket connection comes first so no configured line can lock it out. */
export function renderPgHba(config: NodeConfig): string {
  const su = config.postgresql.authentication.superuser;
  const configured = config.postgresql.pg_hba.length ? config.postgresql.pg_hba : config.bootstrap.pg_hba;
  // md5 also accepts SCRAM-stored passwords; without a password only peer makes sense.
  const method = su.password ? 'md5' : 'peer';
  // `all` does not match replication connections: the agent's IDENTIFY_SYSTEM needs its own line.
  const agent = [
    `local all ${hbaUser(su.username)} ${method}`,
    `local replication ${hbaUser(su.username)} ${method}`,
  ];
  return `${[MANAGED_HEADER, ...agent, ...configured].join('\n')}\n`;
}

function pgpassField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** For pg_basebackup and pg_rewind (PGPASSFILE), so passwords never show up in argv. */
export function renderPgpass(config: NodeConfig): string {
  const roles = [config.postgresql.authentication.replication, rewindCredentials(config)];
  return roles
    .filter((r) => r.password !== undefined)
    .map((r) => `*:*:*:${pgpassField(r.username)}:${pgpassField(r.password!)}\n`)
    .join('');
}

/** bootstrap.initdb: `- data-checksums` → `--data-checksums`, `- encoding: UTF8` → `--encoding=UTF8`. */
export function initdbArgs(options: NodeConfig['bootstrap']['initdb']): string[] {
  const out: string[] = [];
  for (const opt of options) {
    if (typeof opt === 'string') out.push(`--${opt}`);
    else for (const [k, v] of Object.entries(opt)) out.push(`--${k}=${v}`);
  }
  return out;
}
