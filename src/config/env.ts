/** PATRONI_* environment variables → the partial config document they stand for. */
import { ConfigError } from './error.ts';
import { type Dict, isDict, parseBool, toInt } from './scalars.ts';
import { parseYaml } from './yaml.ts';

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
