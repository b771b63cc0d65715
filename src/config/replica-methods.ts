/**
 * Reading `postgresql.create_replica_methods` with each method's section, `postgresql.basebackup`,
 * and `bootstrap.method` with its section, into the plain data of cluster/replica-methods.ts.
 * Where Patroni logs an error and goes on without an option (or silently runs initdb for a
 * `bootstrap.method` without a command), pgwarden refuses the configuration, saying which key:
 * a restore that quietly becomes an empty new cluster is worse than an agent that will not start.
 */
import {
  BASEBACKUP_ONLY,
  BASEBACKUP_RESERVED,
  type BootstrapCommand,
  type CommandMethod,
  pythonText,
  type ReplicaMethod,
} from '../cluster/replica-methods.ts';
import { splitCommandLine } from './command-line.ts';
import { ConfigError } from './error.ts';
import { optBool, optString, section } from './readers.ts';
import { type Dict, describe, isDict, isScalar } from './scalars.ts';

/** A command line that shlex can split, else the key's error. */
function commandLine(text: string, key: string): string {
  if (text.trim() === '') throw new ConfigError(key, 'must not be empty');
  try {
    splitCommandLine(text);
  } catch (err) {
    throw new ConfigError(key, `${(err as Error).message} in ${JSON.stringify(text)}`);
  }
  return text;
}

/**
 * pg_basebackup's extra options, in Patroni's two forms: a list of `option` or `{option: value}`
 * items, or a mapping (an empty value leaves the option out, as Patroni does).
 */
function basebackupOptions(raw: unknown): string[] {
  const key = 'postgresql.basebackup';
  if (raw === undefined || raw === null) return [];
  const allowed = (name: string, at: string): string => {
    if ((BASEBACKUP_RESERVED as readonly string[]).includes(name))
      throw new ConfigError(at, `${name} is set by pgwarden and may not be given for pg_basebackup`);
    return name;
  };
  if (isDict(raw))
    return Object.entries(raw)
      .filter(([k, v]) => k !== '' && v !== null && v !== undefined && v !== '' && v !== false && v !== 0)
      .map(([k, v]) => {
        if (!isScalar(v)) throw new ConfigError(`${key}.${k}`, `must be a scalar, got ${describe(v)}`);
        return `--${allowed(k, `${key}.${k}`)}=${pythonText(v)}`;
      });
  if (!Array.isArray(raw)) throw new ConfigError(key, `must be a list or a mapping, got ${describe(raw)}`);
  return raw.map((opt, i) => {
    const at = `${key}[${i}]`;
    if (typeof opt === 'string') return `--${allowed(opt, at)}`;
    if (isDict(opt)) {
      const entries = Object.entries(opt);
      const [name, value] = entries[0] ?? [];
      if (entries.length !== 1 || name === undefined || typeof value !== 'string')
        throw new ConfigError(at, 'must be a single key with a string value');
      return `--${allowed(name, at)}=${value}`;
    }
    throw new ConfigError(at, `must be a string or a single-key mapping, got ${describe(opt)}`);
  });
}

function commandMethod(pg: Dict, name: string): CommandMethod {
  const key = `postgresql.${name}`;
  const sec = section(pg, name, key, false) ?? {};
  const command = commandLine(optString(sec, 'command', `${key}.command`) ?? name, `${key}.command`);
  const options: Array<readonly [string, string]> = [];
  for (const [k, v] of Object.entries(sec)) {
    if (k === 'command') continue;
    if (v !== null && !isScalar(v))
      throw new ConfigError(`${key}.${k}`, `must be a scalar, got ${describe(v)}`);
    options.push([k, pythonText(v)]);
  }
  return {
    kind: 'command',
    name,
    command,
    options,
    noParams: optBool(sec, 'no_params', `${key}.no_params`) ?? false,
    noLeader:
      (optBool(sec, 'no_leader', `${key}.no_leader`) ?? false) ||
      (optBool(sec, 'no_master', `${key}.no_master`) ?? false),
    keepData: optBool(sec, 'keep_data', `${key}.keep_data`) ?? false,
  };
}

/**
 * `postgresql.create_replica_methods` (or the older `create_replica_method`): the methods in order,
 * each with its section; pg_basebackup alone when none is given.
 */
export function readReplicaMethods(pg: Dict): readonly ReplicaMethod[] {
  const field = pg['create_replica_methods'] ?? pg['create_replica_method'];
  const key = pg['create_replica_methods'] !== undefined ? 'create_replica_methods' : 'create_replica_method';
  const options = basebackupOptions(pg['basebackup']);
  const basebackup: ReplicaMethod = { kind: 'basebackup', name: 'basebackup', options };
  if (field === undefined || field === null || (Array.isArray(field) && field.length === 0))
    return options.length === 0 ? BASEBACKUP_ONLY : [basebackup];
  if (!Array.isArray(field))
    throw new ConfigError(`postgresql.${key}`, `must be a list of method names, got ${describe(field)}`);
  const seen = new Set<string>();
  return field.map((name, i) => {
    if (typeof name !== 'string' || name.trim() === '')
      throw new ConfigError(`postgresql.${key}[${i}]`, `must be a method name, got ${describe(name)}`);
    if (seen.has(name)) throw new ConfigError(`postgresql.${key}[${i}]`, `${name} is listed twice`);
    seen.add(name);
    return name === 'basebackup' ? basebackup : commandMethod(pg, name);
  });
}

/**
 * The methods `names` with their local sections (a standby cluster's create_replica_methods, from
 * /config): read by the same rules; throws a ConfigError for a section that cannot be used.
 */
export function replicaMethodsNamed(pg: Dict, names: readonly string[]): readonly ReplicaMethod[] {
  const { create_replica_method: _, ...rest } = pg;
  return readReplicaMethods({ ...rest, create_replica_methods: [...names] });
}

/**
 * `bootstrap.method`: null for initdb (the default), else the command of `bootstrap.<method>`
 * with its `recovery_conf` (a mapping of recovery settings) and flags.
 */
export function readBootstrapMethod(sec: Dict): BootstrapCommand | null {
  const name = optString(sec, 'method', 'bootstrap.method');
  if (name === undefined || name === 'initdb') return null;
  if (name.trim() === '') throw new ConfigError('bootstrap.method', 'must not be empty');
  const key = `bootstrap.${name}`;
  const method = section(sec, name, key, false);
  const command = method ? optString(method, 'command', `${key}.command`) : undefined;
  if (!method || command === undefined)
    throw new ConfigError(
      `${key}.command`,
      `required: bootstrap.method is ${name} (Patroni would run initdb instead; pgwarden will not bootstrap an empty cluster in place of a restore)`,
    );
  const recovery = section(method, 'recovery_conf', `${key}.recovery_conf`, false);
  let recoveryConf: Record<string, string> | null = null;
  if (recovery) {
    recoveryConf = {};
    for (const [k, v] of Object.entries(recovery)) {
      if (v === null || v === undefined) continue;
      if (!isScalar(v))
        throw new ConfigError(`${key}.recovery_conf.${k}`, `must be a scalar, got ${describe(v)}`);
      recoveryConf[k] = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
    }
  }
  return {
    name,
    command: commandLine(command, `${key}.command`),
    noParams: optBool(method, 'no_params', `${key}.no_params`) ?? false,
    recoveryConf,
    keepExistingRecoveryConf:
      optBool(method, 'keep_existing_recovery_conf', `${key}.keep_existing_recovery_conf`) ?? false,
  };
}
