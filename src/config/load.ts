/**
 * Config loader: Patroni-style YAML (+ PATRONI_* environment overrides) → validated NodeConfig,
 * and `/config` data → DynamicConfig. Reference: patroni-behaviour.md §6.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYamlText, type Tags, YAMLParseError } from 'yaml';
import { type DynamicConfig, dynamicDefaults, type NodeConfig, type RoleCredentials } from './types.ts';

type Dict = Record<string, unknown>;

export class ConfigError extends Error {
  readonly key: string;
  constructor(key: string, problem: string) {
    super(`${key}: ${problem}`);
    this.name = 'ConfigError';
    this.key = key;
  }
}

// ---------------------------------------------------------------------------------------------
// Scalars

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1']);
const FALSE_WORDS = new Set(['off', 'false', 'no', '0']);

/** Patroni's parse_bool: undefined when the value is not recognisably boolean. */
export function parseBool(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const word = String(value).trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return undefined;
}

/** Like Python's int() on YAML/JSON values: integral strings and numbers (truncated); no booleans. */
function toInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : undefined;
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Splits `host:port` / `[v6]:port`; brackets are dropped from the host. */
function splitHostPort(value: string, key: string, defaultPort?: number): { host: string; port: number } {
  const text = value.trim();
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw new ConfigError(key, `unbalanced [ in ${JSON.stringify(value)}`);
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw new ConfigError(key, `expected host:port, got ${JSON.stringify(value)}`);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const colon = text.lastIndexOf(':');
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  if (portText === undefined) {
    if (defaultPort === undefined)
      throw new ConfigError(key, `expected host:port, got ${JSON.stringify(value)}`);
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(portText, key) };
}

function parsePort(text: string, key: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65535))
    throw new ConfigError(key, `port must be a number 0-65535, got ${JSON.stringify(text)}`);
  return port;
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `/` + namespace + `/` with runs of slashes collapsed, as the DCS layer builds its base path. */
export function normaliseNamespace(namespace: string): string {
  return `/${namespace}/`.replace(/\/+/g, '/');
}

// ---------------------------------------------------------------------------------------------
// YAML

// PyYAML (YAML 1.1) is what Patroni reads with, so `on`/`yes` are booleans and 0700 is octal; dates
// and binaries stay strings because they would not survive a round-trip through `/config` JSON.
const DROPPED_TAGS = new Set(['tag:yaml.org,2002:timestamp', 'tag:yaml.org,2002:binary']);
// The yaml package's 1.1 resolvers are looser than PyYAML's: they read `n` as false, `e1` and `.`
// as floats, `0:30` as 30. Hostnames such as `e1` must stay strings, so PyYAML's patterns replace them.
const PYYAML_TRUE = /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const PYYAML_FALSE = /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const PYYAML_FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)$/;
const PYYAML_FLOAT_EXP = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)[eE][-+][0-9]+$/;
const PYYAML_INT_TIME = /^[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+$/;

function pyyamlPattern(tag: string, format: string | undefined, test: RegExp): RegExp {
  if (tag === 'tag:yaml.org,2002:bool') return test.test('true') ? PYYAML_TRUE : PYYAML_FALSE;
  if (tag === 'tag:yaml.org,2002:int' && format === 'TIME') return PYYAML_INT_TIME;
  if (tag === 'tag:yaml.org,2002:float' && format === 'EXP') return PYYAML_FLOAT_EXP;
  if (tag === 'tag:yaml.org,2002:float' && format === undefined && test.test('1.5')) return PYYAML_FLOAT;
  return test;
}

function pyyamlTags(tags: Tags): Tags {
  return tags
    .filter((t) => typeof t === 'string' || !DROPPED_TAGS.has(t.tag))
    .map((t) => {
      if (typeof t === 'string' || !('test' in t) || !t.test) return t;
      return { ...t, test: pyyamlPattern(t.tag, t.format, t.test) };
    });
}

const YAML_OPTIONS = { version: '1.1' as const, uniqueKeys: false, customTags: pyyamlTags };

function parseYaml(text: string, origin: string): unknown {
  try {
    return parseYamlText(text, YAML_OPTIONS);
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const where = err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      const what = err.message.split(' at line ')[0]?.split('\n')[0];
      throw new ConfigError('config', `YAML syntax error in ${origin}${where}: ${what}`);
    }
    throw err;
  }
}

function parseDocument(text: string, origin: string): Dict {
  const doc = parseYaml(text, origin);
  if (!isDict(doc) || Object.keys(doc).length === 0) {
    throw new ConfigError('config', `${origin} must contain a non-empty mapping, got ${describe(doc)}`);
  }
  return doc;
}

/** Deep merge, `patch` wins; mappings merge key by key, anything else replaces. */
function patchConfig(target: Dict, patch: Dict): Dict {
  for (const [key, value] of Object.entries(patch)) {
    const current = target[key];
    target[key] = isDict(value) && isDict(current) ? patchConfig({ ...current }, value) : value;
  }
  return target;
}

// ---------------------------------------------------------------------------------------------
// Environment (PATRONI_*)

type EnvKind = 'str' | 'list' | 'bool' | 'int' | 'dict';

const RESTAPI_ENV: Record<string, EnvKind> = {
  LISTEN: 'str',
  CONNECT_ADDRESS: 'str',
  CERTFILE: 'str',
  KEYFILE: 'str',
  KEYFILE_PASSWORD: 'str',
  CAFILE: 'str',
  CIPHERS: 'str',
  VERIFY_CLIENT: 'str',
  HTTP_EXTRA_HEADERS: 'dict',
  HTTPS_EXTRA_HEADERS: 'dict',
  ALLOWLIST: 'list',
  ALLOWLIST_INCLUDE_MEMBERS: 'bool',
  REQUEST_QUEUE_SIZE: 'int',
};
const POSTGRESQL_ENV = [
  'LISTEN',
  'CONNECT_ADDRESS',
  'PROXY_ADDRESS',
  'CONFIG_DIR',
  'DATA_DIR',
  'PGPASS',
  'BIN_DIR',
];
const ETCD3_ENV: Record<string, EnvKind> = {
  HOST: 'str',
  HOSTS: 'list',
  PORT: 'int',
  URL: 'str',
  PROXY: 'str',
  USE_PROXIES: 'bool',
  SRV: 'str',
  SRV_SUFFIX: 'str',
  PROTOCOL: 'str',
  CACERT: 'str',
  CERT: 'str',
  KEY: 'str',
  KEY_PASSWORD: 'str',
  USERNAME: 'str',
  PASSWORD: 'str',
};
const AUTH_PARAMS = [
  'username',
  'password',
  'sslmode',
  'sslkey',
  'sslpassword',
  'sslcert',
  'sslrootcert',
  'sslcrl',
  'sslcrldir',
  'gssencmode',
  'channel_binding',
];

/** Lists come as YAML (`[a, b]` or `- a`) or as plain comma-separated text. */
function parseEnvList(text: string, key: string, variable: string): string[] {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') && !trimmed.startsWith('-')) {
    return trimmed
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }
  const list = parseYaml(trimmed, variable);
  if (!Array.isArray(list) || list.some((item) => isDict(item) || Array.isArray(item))) {
    throw new ConfigError(key, `${variable} must be a list, got ${JSON.stringify(text)}`);
  }
  return list.map(String);
}

function convertEnv(text: string, kind: EnvKind, key: string, variable: string): unknown {
  switch (kind) {
    case 'str':
      return text;
    case 'list':
      return parseEnvList(text, key, variable);
    case 'bool': {
      const b = parseBool(text);
      if (b === undefined)
        throw new ConfigError(key, `${variable} must be a boolean, got ${JSON.stringify(text)}`);
      return b;
    }
    case 'int': {
      const n = toInt(text);
      if (n === undefined)
        throw new ConfigError(key, `${variable} must be an integer, got ${JSON.stringify(text)}`);
      return n;
    }
    case 'dict': {
      const d = parseYaml(text, variable);
      if (!isDict(d))
        throw new ConfigError(key, `${variable} must be a mapping, got ${JSON.stringify(text)}`);
      return d;
    }
  }
}

/** The partial config the PATRONI_* variables describe; empty values count as unset, like Patroni. */
export function environmentConfig(env: NodeJS.ProcessEnv): Dict {
  const get = (name: string): string | undefined => {
    const value = env[`PATRONI_${name}`];
    return value === undefined || value === '' ? undefined : value;
  };
  const out: Dict = {};
  const put = (section: string, key: string, value: unknown) => {
    const target = (out[section] ?? {}) as Dict;
    target[key] = value;
    out[section] = target;
  };
  for (const key of ['name', 'namespace', 'scope']) {
    const value = get(key.toUpperCase());
    if (value !== undefined) out[key] = value;
  }
  const sections: Array<[string, Record<string, EnvKind>]> = [
    ['restapi', RESTAPI_ENV],
    ['postgresql', Object.fromEntries(POSTGRESQL_ENV.map((s) => [s, 'str' as const]))],
    ['etcd3', ETCD3_ENV],
  ];
  for (const [section, table] of sections) {
    for (const [suffix, kind] of Object.entries(table)) {
      const variable = `${section.toUpperCase()}_${suffix}`;
      const text = get(variable);
      const key = `${section}.${suffix.toLowerCase()}`;
      if (text !== undefined)
        put(section, suffix.toLowerCase(), convertEnv(text, kind, key, `PATRONI_${variable}`));
    }
  }
  const restAuth = roleFromEnv(get, 'RESTAPI', ['username', 'password']);
  if (restAuth) put('restapi', 'authentication', restAuth);
  const roles: Dict = {};
  for (const role of ['superuser', 'replication', 'rewind']) {
    const creds = roleFromEnv(get, role.toUpperCase(), AUTH_PARAMS);
    if (creds) roles[role] = creds;
  }
  if (Object.keys(roles).length > 0) put('postgresql', 'authentication', roles);
  return out;
}

function roleFromEnv(get: (n: string) => string | undefined, prefix: string, params: string[]): Dict | null {
  const out: Dict = {};
  for (const param of params) {
    const value = get(`${prefix}_${param.toUpperCase()}`);
    if (value !== undefined) out[param] = value;
  }
  return Object.keys(out).length > 0 ? out : null;
}

// ---------------------------------------------------------------------------------------------
// Typed readers: each names the full key path in its error

function section(d: Dict, key: string, path: string, required: boolean): Dict | undefined {
  const v = d[key];
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(path, 'required');
    return undefined;
  }
  if (!isDict(v)) throw new ConfigError(path, `must be a mapping, got ${describe(v)}`);
  return v;
}

function optString(d: Dict, key: string, path: string): string | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(path, `must be a string, got ${describe(v)}`);
  return v;
}

function reqString(d: Dict, key: string, path: string): string {
  const v = optString(d, key, path);
  if (v === undefined || v.trim() === '') throw new ConfigError(path, 'required');
  return v;
}

function optBool(d: Dict, key: string, path: string): boolean | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  const b = parseBool(v);
  if (b === undefined) throw new ConfigError(path, `must be a boolean, got ${describe(v)}`);
  return b;
}

function optInt(d: Dict, key: string, path: string): number | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  const n = toInt(v);
  if (n === undefined || n < 0)
    throw new ConfigError(path, `must be a non-negative integer, got ${describe(v)}`);
  return n;
}

function stringList(d: Dict, key: string, path: string): string[] | undefined {
  const v = d[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(path, `must be a list, got ${describe(v)}`);
  return v.map((item, i) => {
    if (typeof item !== 'string')
      throw new ConfigError(`${path}[${i}]`, `must be a string, got ${describe(item)}`);
    return item;
  });
}

type Scalar = string | number | boolean;
function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function parameters(d: Dict, key: string, path: string): Record<string, Scalar> {
  const params = section(d, key, path, false) ?? {};
  for (const [name, value] of Object.entries(params)) {
    if (!isScalar(value))
      throw new ConfigError(`${path}.${name}`, `must be a scalar, got ${describe(value)}`);
  }
  return { ...(params as Record<string, Scalar>) };
}

// ---------------------------------------------------------------------------------------------
// Sections

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
  return out;
}

const ETCD_DEFAULT_PORT = 2379;

function readEtcd3(doc: Dict): NodeConfig['etcd3'] {
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
  };
  const rewindFlag = optBool(sec, 'use_pg_rewind', 'postgresql.use_pg_rewind');
  if (rewindFlag !== undefined) out.use_pg_rewind = rewindFlag;
  const slots = optBool(sec, 'use_slots', 'postgresql.use_slots');
  if (slots !== undefined) out.use_slots = slots;
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
  return { dcs, initdb, pg_hba: stringList(sec, 'pg_hba', 'bootstrap.pg_hba') ?? [] };
}

const BOOL_TAGS = ['nofailover', 'noloadbalance', 'clonefrom', 'nosync'] as const;

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
  const out: NodeConfig['tags'] = { ...flags, published };
  const from = optString(sec, 'replicatefrom', 'tags.replicatefrom');
  if (from !== undefined) out.replicatefrom = from;
  return out;
}

function buildNodeConfig(doc: Dict, source: string | null): NodeConfig {
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
    raw: doc,
  };
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** Parses one YAML document, patches the PATRONI_* overrides from `env` over it and validates. */
export function parseConfigText(
  yamlText: string,
  env: NodeJS.ProcessEnv = {},
  source: string | null = null,
): NodeConfig {
  const doc = parseDocument(yamlText, source ?? 'configuration');
  return buildNodeConfig(patchConfig(doc, environmentConfig(env)), source);
}

/**
 * Precedence follows Patroni: a config file (or directory of *.yml/*.yaml, merged alphabetically)
 * patched with PATRONI_* variables; without a file, PATRONI_CONFIGURATION alone; else the variables alone.
 */
export function loadConfig(opts: { file?: string | null; env?: NodeJS.ProcessEnv }): NodeConfig {
  const env = opts.env ?? process.env;
  if (opts.file) {
    const doc = readConfigPath(opts.file);
    return buildNodeConfig(patchConfig(doc, environmentConfig(env)), opts.file);
  }
  const whole = env['PATRONI_CONFIGURATION'];
  if (whole) return buildNodeConfig(parseDocument(whole, 'PATRONI_CONFIGURATION'), null);
  const fromEnv = environmentConfig(env);
  if (Object.keys(fromEnv).length === 0) {
    throw new ConfigError('config', 'no configuration file given and no PATRONI_* variables set');
  }
  return buildNodeConfig(fromEnv, null);
}

function readConfigPath(path: string): Dict {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
          .sort()
          .map((f) => join(path, f))
          .filter((f) => statSync(f).isFile())
      : [path];
  } catch (err) {
    throw new ConfigError(
      'config',
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  if (files.length === 0) throw new ConfigError('config', `no *.yml or *.yaml files in ${path}`);
  const merged: Dict = {};
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(
        'config',
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    patchConfig(merged, parseDocument(text, file));
  }
  return merged;
}

// ---------------------------------------------------------------------------------------------
// Dynamic configuration

const DYNAMIC_INT_KEYS = [
  'ttl',
  'loop_wait',
  'retry_timeout',
  'maximum_lag_on_failover',
  'primary_start_timeout',
  'primary_stop_timeout',
  'synchronous_node_count',
] as const;
const DYNAMIC_BOOL_KEYS = ['synchronous_mode', 'synchronous_mode_strict', 'check_timeline', 'pause'] as const;

/** Passed on the postgres command line, so a local value could make nodes disagree: dynamic only. */
export const RESTART_ONLY_PARAMETERS: ReadonlySet<string> = new Set([
  'max_connections',
  'max_wal_senders',
  'max_worker_processes',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'max_replication_slots',
  'track_commit_timestamp',
  'wal_level',
  'wal_log_hints',
  'wal_keep_segments',
  'wal_keep_size',
  'hot_standby',
  'listen_addresses',
  'port',
  'cluster_name',
]);

/** Load-time check of bootstrap.dcs: a typo there would be written to `/config` for the whole cluster. */
function checkDynamic(dcs: Dict, path: string): void {
  for (const key of [...DYNAMIC_INT_KEYS, 'master_start_timeout']) optInt(dcs, key, `${path}.${key}`);
  for (const key of DYNAMIC_BOOL_KEYS) optBool(dcs, key, `${path}.${key}`);
  const pg = section(dcs, 'postgresql', `${path}.postgresql`, false);
  if (!pg) return;
  optBool(pg, 'use_pg_rewind', `${path}.postgresql.use_pg_rewind`);
  optBool(pg, 'use_slots', `${path}.postgresql.use_slots`);
  parameters(pg, 'parameters', `${path}.postgresql.parameters`);
  stringList(pg, 'pg_hba', `${path}.postgresql.pg_hba`);
}

function lenientInt(value: unknown, fallback: number): number {
  const n = toInt(value);
  return n === undefined || n < 0 ? fallback : n;
}

/**
 * Effective dynamic settings from `/config` data (or bootstrap.dcs) over the defaults. Never throws:
 * the data comes from the DCS and a bad value there must not take the node down.
 * Local config wins for use_pg_rewind, pg_hba and non-restart-only parameters. use_slots stays
 * cluster-wide as in Patroni (it ignores a local use_slots), since slots are managed by the leader.
 */
export function dynamicConfigFrom(
  data: Record<string, unknown> | null | undefined,
  local?: NodeConfig,
): DynamicConfig {
  const d: Dict = isDict(data) ? data : {};
  const out = { ...dynamicDefaults } as DynamicConfig;
  for (const key of DYNAMIC_INT_KEYS) out[key] = lenientInt(d[key], dynamicDefaults[key]);
  if (d['primary_start_timeout'] === undefined) {
    out.primary_start_timeout = lenientInt(d['master_start_timeout'], dynamicDefaults.primary_start_timeout);
  }
  for (const key of DYNAMIC_BOOL_KEYS) out[key] = parseBool(d[key]) ?? dynamicDefaults[key];

  const pg: Dict = isDict(d['postgresql']) ? d['postgresql'] : {};
  const dynParams: Record<string, Scalar> = {};
  if (isDict(pg['parameters'])) {
    for (const [name, value] of Object.entries(pg['parameters']))
      if (isScalar(value)) dynParams[name] = value;
  }
  const localPg = local?.postgresql;
  out.postgresql = {
    use_pg_rewind:
      localPg?.use_pg_rewind ?? parseBool(pg['use_pg_rewind']) ?? dynamicDefaults.postgresql.use_pg_rewind,
    use_slots: parseBool(pg['use_slots']) ?? dynamicDefaults.postgresql.use_slots,
    parameters: mergeParameters(dynParams, localPg?.parameters ?? {}),
  };
  const dynHba = pg['pg_hba'];
  if (localPg && localPg.pg_hba.length > 0) out.postgresql.pg_hba = [...localPg.pg_hba];
  else if (Array.isArray(dynHba) && dynHba.every((l) => typeof l === 'string'))
    out.postgresql.pg_hba = [...dynHba];
  return out;
}

/** Local parameters override dynamic ones (names compared case-insensitively, as PostgreSQL does). */
function mergeParameters(
  dynamic: Record<string, Scalar>,
  local: Record<string, Scalar>,
): Record<string, Scalar> {
  const out = { ...dynamic };
  for (const [name, value] of Object.entries(local)) {
    const lower = name.toLowerCase();
    if (RESTART_ONLY_PARAMETERS.has(lower)) continue;
    for (const existing of Object.keys(out)) if (existing.toLowerCase() === lower) delete out[existing];
    out[name] = value;
  }
  return out;
}
