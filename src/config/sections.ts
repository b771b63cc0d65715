/** The validated static document: each section of the YAML checked into its NodeConfig shape. */

import { CALLBACK_ACTIONS, type CallbackAction } from '../cluster/callbacks.ts';
import { DEFAULT_SHORT_LEASE_S, MAX_SHORT_LEASE_S, MIN_SHORT_LEASE_S } from '../cluster/short-lease.ts';
import { DEFAULT_WATCHDOG, parseWatchdogMode } from '../cluster/watchdog.ts';
import { splitCommandLine } from './command-line.ts';
import { checkDynamic } from './dynamic.ts';
import { ConfigError } from './error.ts';
import { optBool, optInt, optString, parameters, reqString, section, stringList } from './readers.ts';
import { readBootstrapMethod, readReplicaMethods } from './replica-methods.ts';
import {
  type Dict,
  describe,
  isDict,
  isScalar,
  joinHostPort,
  normaliseNamespace,
  parsePort,
  splitHostPort,
} from './scalars.ts';
import { isSslMode, type NodeConfig, type RoleCredentials, SSL_MODES } from './types.ts';

function readRestapi(doc: Dict): NodeConfig['restapi'] {
  const sec = section(doc, 'restapi', 'restapi', true)!;
  const listenText = reqString(sec, 'listen', 'restapi.listen');
  const listen = splitHostPort(listenText, 'restapi.listen');
  // Empty host and `*` mean every interface, as Python's http.server treats them.
  if (listen.host === '' || listen.host === '*') listen.host = '0.0.0.0';
  const connect = reqString(sec, 'connect_address', 'restapi.connect_address');
  splitHostPort(connect, 'restapi.connect_address');
  const out: NodeConfig['restapi'] = { listen, connect_address: connect };
  const auth = section(sec, 'authentication', 'restapi.authentication', false);
  if (auth) {
    out.authentication = {
      username: reqString(auth, 'username', 'restapi.authentication.username'),
      password: reqString(auth, 'password', 'restapi.authentication.password'),
    };
  }
  for (const file of ['certfile', 'keyfile', 'cafile'] as const) {
    const v = optString(sec, file, `restapi.${file}`);
    if (v !== undefined) out[file] = v;
  }
  const verify = optString(sec, 'verify_client', 'restapi.verify_client');
  if (verify !== undefined) {
    if (verify !== 'none' && verify !== 'optional' && verify !== 'required') {
      throw new ConfigError(
        'restapi.verify_client',
        `must be none, optional or required, got ${JSON.stringify(verify)}`,
      );
    }
    out.verify_client = verify;
  }
  const allowlist = stringList(sec, 'allowlist', 'restapi.allowlist');
  if (allowlist) out.allowlist = allowlist;
  const members = optBool(sec, 'allowlist_include_members', 'restapi.allowlist_include_members');
  if (members !== undefined) out.allowlist_include_members = members;
  const ui = optBool(sec, 'ui', 'restapi.ui');
  if (ui !== undefined) out.ui = ui;
  return out;
}

const ETCD_DEFAULT_PORT = 2379;

/** The `etcd3` section (the agent's and the CLI's one reading of it). */
export function readEtcd3(doc: Dict): NodeConfig['etcd3'] {
  const sec = section(doc, 'etcd3', 'etcd3', true)!;
  let protocol = optString(sec, 'protocol', 'etcd3.protocol');
  const url = optString(sec, 'url', 'etcd3.url');
  let urlHost: string | undefined;
  if (url !== undefined) {
    const m = /^(https?):\/\/([^/]+)/.exec(url);
    if (!m) throw new ConfigError('etcd3.url', `must be http(s)://host[:port], got ${JSON.stringify(url)}`);
    protocol ??= m[1];
    urlHost = m[2]!.replace(/^.*@/, '');
  }
  // A scheme on a host entry also decides the protocol when nothing more explicit did.
  const entry = (text: string, key: string): string => {
    const m = /^(https?):\/\/(.*?)\/?$/.exec(text.trim());
    if (m) protocol ??= m[1];
    const { host, port } = splitHostPort(m ? m[2]! : text, key, ETCD_DEFAULT_PORT);
    if (host === '') throw new ConfigError(key, `missing host in ${JSON.stringify(text)}`);
    return joinHostPort(host, port);
  };
  let hosts: string[];
  // Same precedence as Patroni: `hosts`, then `host`, then `url`.
  const rawHosts = sec['hosts'];
  if (rawHosts !== undefined && rawHosts !== null) {
    const list =
      typeof rawHosts === 'string' ? rawHosts.split(',') : stringList(sec, 'hosts', 'etcd3.hosts')!;
    hosts = list
      .map((s) => s.trim())
      .filter((s) => s !== '')
      .map((s) => entry(s, 'etcd3.hosts'));
    if (hosts.length === 0) throw new ConfigError('etcd3.hosts', 'must name at least one host');
  } else if (optString(sec, 'host', 'etcd3.host') !== undefined) {
    hosts = [entry(reqString(sec, 'host', 'etcd3.host'), 'etcd3.host')];
  } else if (urlHost !== undefined) {
    hosts = [entry(urlHost, 'etcd3.url')];
  } else {
    throw new ConfigError('etcd3.host', 'required (etcd3 needs host, hosts or url)');
  }
  protocol ??= 'http';
  if (protocol !== 'http' && protocol !== 'https') {
    throw new ConfigError('etcd3.protocol', `must be http or https, got ${JSON.stringify(protocol)}`);
  }
  const out: NodeConfig['etcd3'] = { hosts, protocol };
  for (const key of ['username', 'password', 'cacert', 'cert', 'key'] as const) {
    const v = optString(sec, key, `etcd3.${key}`);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function readRole(auth: Dict, role: string, required: boolean): RoleCredentials | undefined {
  const path = `postgresql.authentication.${role}`;
  const sec = section(auth, role, path, required);
  if (!sec) return undefined;
  const out: RoleCredentials = { username: '' };
  for (const [param, value] of Object.entries(sec)) {
    if (value === null || value === undefined) continue;
    // Unquoted numeric passwords are common in YAML; libpq receives them as text anyway.
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`${path}.${param}`, `must be a string, got ${describe(value)}`);
    }
    out[param] = String(value);
  }
  if (!out.username) throw new ConfigError(`${path}.username`, 'required');
  // libpq would refuse it at the first connection (a clone, a rewind, the fence): said at start.
  const mode = out['sslmode'];
  if (mode !== undefined && !isSslMode(mode))
    throw new ConfigError(`${path}.sslmode`, `must be one of ${SSL_MODES.join(', ')}, got "${mode}"`);
  return out;
}

function readPostgresql(doc: Dict, name: string): NodeConfig['postgresql'] {
  const sec = section(doc, 'postgresql', 'postgresql', true)!;
  const listenText = reqString(sec, 'listen', 'postgresql.listen');
  const listen = splitPgListen(listenText);
  const connect = reqString(sec, 'connect_address', 'postgresql.connect_address');
  splitHostPort(connect, 'postgresql.connect_address');
  const auth = section(sec, 'authentication', 'postgresql.authentication', true)!;
  const rewind = readRole(auth, 'rewind', false);
  const out: NodeConfig['postgresql'] = {
    listen,
    connect_address: connect,
    data_dir: reqString(sec, 'data_dir', 'postgresql.data_dir'),
    bin_dir: optString(sec, 'bin_dir', 'postgresql.bin_dir') || '/usr/lib/postgresql/15/bin',
    pgpass:
      optString(sec, 'pgpass', 'postgresql.pgpass') || `/tmp/pgpass_${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`,
    authentication: {
      superuser: readRole(auth, 'superuser', true)!,
      replication: readRole(auth, 'replication', true)!,
      ...(rewind ? { rewind } : {}),
    },
    parameters: parameters(sec, 'parameters', 'postgresql.parameters'),
    pg_hba: stringList(sec, 'pg_hba', 'postgresql.pg_hba') ?? [],
    pg_ctl_timeout: optInt(sec, 'pg_ctl_timeout', 'postgresql.pg_ctl_timeout') ?? 60,
    remove_data_directory_on_rewind_failure:
      optBool(
        sec,
        'remove_data_directory_on_rewind_failure',
        'postgresql.remove_data_directory_on_rewind_failure',
      ) ?? false,
    remove_data_directory_on_diverged_timelines:
      optBool(
        sec,
        'remove_data_directory_on_diverged_timelines',
        'postgresql.remove_data_directory_on_diverged_timelines',
      ) ?? false,
    create_replica_methods: readReplicaMethods(sec),
  };
  const rewindFlag = optBool(sec, 'use_pg_rewind', 'postgresql.use_pg_rewind');
  if (rewindFlag !== undefined) out.use_pg_rewind = rewindFlag;
  const callbacks = readCallbacks(sec);
  if (callbacks) out.callbacks = callbacks;
  const prePromote = optString(sec, 'pre_promote', 'postgresql.pre_promote');
  if (prePromote !== undefined && prePromote.trim() !== '') {
    try {
      splitCommandLine(prePromote);
    } catch (err) {
      throw new ConfigError(
        'postgresql.pre_promote',
        `${(err as Error).message} in ${JSON.stringify(prePromote)}`,
      );
    }
    out.pre_promote = prePromote;
  }
  const recovery = parameters(sec, 'recovery_conf', 'postgresql.recovery_conf');
  if (Object.keys(recovery).length > 0)
    out.recovery_conf = Object.fromEntries(
      Object.entries(recovery).map(([k, v]) => [k, typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v)]),
    );
  const slots = optBool(sec, 'use_slots', 'postgresql.use_slots');
  if (slots !== undefined) out.use_slots = slots;
  return out;
}

/** `postgresql.callbacks`: a command line per action Patroni knows; any other key is an error. */
function readCallbacks(sec: Dict): NodeConfig['postgresql']['callbacks'] {
  const cbs = section(sec, 'callbacks', 'postgresql.callbacks', false);
  if (!cbs) return undefined;
  const out: NonNullable<NodeConfig['postgresql']['callbacks']> = {};
  for (const key of Object.keys(cbs)) {
    if (!(CALLBACK_ACTIONS as readonly string[]).includes(key))
      throw new ConfigError(`postgresql.callbacks.${key}`, `not a callback (${CALLBACK_ACTIONS.join(', ')})`);
    const command = optString(cbs, key, `postgresql.callbacks.${key}`);
    if (command === undefined || command.trim() === '') continue;
    try {
      splitCommandLine(command);
    } catch (err) {
      throw new ConfigError(
        `postgresql.callbacks.${key}`,
        `${(err as Error).message} in ${JSON.stringify(command)}`,
      );
    }
    out[key as CallbackAction] = command;
  }
  return out;
}

/** `host[,host2]:port`; the port defaults to 5432 as in Patroni, hosts feed listen_addresses. */
function splitPgListen(text: string): { hosts: string[]; port: number } {
  const key = 'postgresql.listen';
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(':');
  const hasPort = colon >= 0 && !trimmed.endsWith(']');
  const hostPart = hasPort ? trimmed.slice(0, colon) : trimmed;
  const port = hasPort ? parsePort(trimmed.slice(colon + 1), key) : 5432;
  const hosts = hostPart
    .split(',')
    .map((h) => h.trim().replace(/^\[(.*)\]$/, '$1'))
    .filter((h) => h !== '');
  if (hosts.length === 0) throw new ConfigError(key, `missing host in ${JSON.stringify(text)}`);
  return { hosts, port };
}

function readBootstrap(doc: Dict): NodeConfig['bootstrap'] {
  const sec = section(doc, 'bootstrap', 'bootstrap', false) ?? {};
  const dcs = section(sec, 'dcs', 'bootstrap.dcs', false) ?? {};
  checkDynamic(dcs, 'bootstrap.dcs');
  const initdbRaw = sec['initdb'] ?? [];
  if (!Array.isArray(initdbRaw))
    throw new ConfigError('bootstrap.initdb', `must be a list, got ${describe(initdbRaw)}`);
  const initdb = initdbRaw.map((opt, i): string | Record<string, string> => {
    const key = `bootstrap.initdb[${i}]`;
    if (typeof opt === 'string') return opt;
    if (isDict(opt)) {
      const entries = Object.entries(opt);
      const [name, value] = entries[0] ?? [];
      if (entries.length !== 1 || name === undefined || !isScalar(value)) {
        throw new ConfigError(key, 'must be a string or a single-key mapping to a scalar');
      }
      return { [name]: String(value) };
    }
    throw new ConfigError(key, `must be a string or a single-key mapping, got ${describe(opt)}`);
  });
  return {
    dcs,
    initdb,
    pg_hba: stringList(sec, 'pg_hba', 'bootstrap.pg_hba') ?? [],
    method: readBootstrapMethod(sec),
  };
}

const BOOL_TAGS = ['nofailover', 'noloadbalance', 'clonefrom', 'nosync', 'nostream'] as const;

/** An integer that may be negative (failover_priority), as Patroni's parse_int reads it. */
function optSignedInt(d: Dict, key: string, path: string): number | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isInteger(n)) throw new ConfigError(path, `must be an integer, got ${describe(v)}`);
  return n;
}

function readTags(doc: Dict): NodeConfig['tags'] {
  const sec = section(doc, 'tags', 'tags', false) ?? {};
  const published: Dict = { ...sec };
  const flags = {} as Record<(typeof BOOL_TAGS)[number], boolean>;
  for (const tag of BOOL_TAGS) {
    flags[tag] = optBool(sec, tag, `tags.${tag}`) ?? false;
    // Peers test these tags for presence/truthiness, so a false one is not published at all.
    if (flags[tag]) published[tag] = true;
    else delete published[tag];
  }
  // Patroni 3.2's failover_priority: nofailover when it is 0 or less (and nofailover is not given).
  const priority = optSignedInt(sec, 'failover_priority', 'tags.failover_priority');
  const nofailoverGiven = sec['nofailover'] !== undefined && sec['nofailover'] !== null;
  if (priority !== undefined) {
    published['failover_priority'] = priority;
    if (!nofailoverGiven && priority <= 0) flags.nofailover = true;
    // Patroni publishes nofailover beside a failover_priority even when false: peers read both.
    if (nofailoverGiven) published['nofailover'] = flags.nofailover;
  }
  const out: NodeConfig['tags'] = {
    ...flags,
    failover_priority: flags.nofailover ? 0 : (priority ?? 1),
    published,
  };
  const from = optString(sec, 'replicatefrom', 'tags.replicatefrom');
  if (from !== undefined) out.replicatefrom = from;
  return out;
}

/** pgwarden's gossip channel (Patroni has no such section): on unless `enabled: false`. */
function readGossip(doc: Dict): NodeConfig['gossip'] {
  const sec = section(doc, 'gossip', 'gossip', false) ?? {};
  const enabled = optBool(sec, 'enabled', 'gossip.enabled') ?? true;
  const raw = sec['interval'];
  // Every 5 s: the race and failsafe mode ask and get an answer at once (built from the status as
  // it is then), so periodic frames carry nothing anyone reads — they only keep the links known
  // alive, and a frame goes out at once when state, role, timeline or leadership change. Measured
  // idle, per agent (session 15, 2 runs of 60 s each, 3 agents): every 1 s 0.57–0.70 % of a core,
  // every 5 s 0.40–0.60 %, gossip off 0.38–0.57 %: at 5 s gossip costs nothing measurable.
  let interval = 5;
  if (raw !== undefined && raw !== null) {
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || n < 0.05 || n > 5)
      throw new ConfigError(
        'gossip.interval',
        `must be a number of seconds from 0.05 to 5, got ${describe(raw)}`,
      );
    interval = n;
  }
  return { enabled, intervalMs: Math.round(interval * 1000), shortLeaseMs: readShortLease(sec, enabled) };
}

/**
 * `gossip.fast_failover` (on wherever gossip is, unless false) and `gossip.short_lease` (s, 3 by
 * default): the short lease behind fast failover. Gossip must be on: the lease is renewed and
 * given up over it, so `gossip.enabled: false` turns it off too (and asking for both is an error).
 */
function readShortLease(sec: Dict, gossipOn: boolean): number | null {
  const asked = optBool(sec, 'fast_failover', 'gossip.fast_failover');
  const on = asked ?? gossipOn;
  const raw = sec['short_lease'];
  let seconds = DEFAULT_SHORT_LEASE_S;
  if (raw !== undefined && raw !== null) {
    const n =
      typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(n) || n < MIN_SHORT_LEASE_S || n > MAX_SHORT_LEASE_S)
      throw new ConfigError(
        'gossip.short_lease',
        `must be a number of seconds from ${MIN_SHORT_LEASE_S} to ${MAX_SHORT_LEASE_S}, got ${describe(raw)}`,
      );
    seconds = n;
  }
  if (!on) return null;
  if (!gossipOn) throw new ConfigError('gossip.fast_failover', 'needs gossip (gossip.enabled is false)');
  return Math.round(seconds * 1000);
}

/** Patroni's `watchdog` section; an unknown mode or driver is an error here (Patroni warns and turns it off). */
function readWatchdog(doc: Dict): NodeConfig['watchdog'] {
  const sec = section(doc, 'watchdog', 'watchdog', false) ?? {};
  const rawMode = sec['mode'];
  const mode = rawMode === undefined || rawMode === null ? DEFAULT_WATCHDOG.mode : parseWatchdogMode(rawMode);
  if (mode === null)
    throw new ConfigError('watchdog.mode', `must be off, automatic or required, got ${describe(rawMode)}`);
  const driver = optString(sec, 'driver', 'watchdog.driver') ?? DEFAULT_WATCHDOG.driver;
  if (driver !== 'default' && driver !== 'testing')
    throw new ConfigError('watchdog.driver', `must be default or testing, got ${describe(driver)}`);
  const rawMargin = sec['safety_margin'];
  let safety_margin = DEFAULT_WATCHDOG.safety_margin;
  if (rawMargin !== undefined && rawMargin !== null) {
    const n = typeof rawMargin === 'number' ? rawMargin : Number(rawMargin);
    if (!Number.isInteger(n) || n < -1)
      throw new ConfigError(
        'watchdog.safety_margin',
        `must be a whole number of seconds (-1: half the ttl), got ${describe(rawMargin)}`,
      );
    safety_margin = n;
  }
  const device = optString(sec, 'device', 'watchdog.device') ?? DEFAULT_WATCHDOG.device;
  if (device.trim() === '') throw new ConfigError('watchdog.device', 'must not be empty');
  return { mode, device, safety_margin, driver };
}

export function buildNodeConfig(doc: Dict, source: string | null): NodeConfig {
  const name = reqString(doc, 'name', 'name');
  return {
    source,
    name,
    scope: reqString(doc, 'scope', 'scope'),
    namespace: normaliseNamespace(optString(doc, 'namespace', 'namespace') ?? 'service'),
    restapi: readRestapi(doc),
    etcd3: readEtcd3(doc),
    bootstrap: readBootstrap(doc),
    postgresql: readPostgresql(doc, name),
    tags: readTags(doc),
    gossip: readGossip(doc),
    watchdog: readWatchdog(doc),
    raw: doc,
  };
}
