/**
 * The ctl configuration: a patronictl.yaml or any Patroni YAML (only scope, namespace, the etcd3
 * section, restapi/ctl TLS and authentication are read), patched with PATRONI_* variables, and
 * `--dcs-url etcd3://host:port` replacing the DCS section as patronictl ≥ 3.0.3 does.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../config/error.ts';
import { environmentConfig, normaliseNamespace } from '../../config/load.ts';
import { peerTlsFiles } from '../../config/peer-tls.ts';
import { isDict } from '../../config/scalars.ts';
import { readEtcd3 } from '../../config/sections.ts';
import type { NodeConfig } from '../../config/types.ts';
import { parseYaml } from '../../config/yaml.ts';
import { CliError } from '../errors.ts';

type Dict = Record<string, unknown>;
type EtcdSection = NodeConfig['etcd3'];

export interface TlsFiles {
  cafile?: string;
  certfile?: string;
  keyfile?: string;
}

export interface CtlConfig {
  scope?: string;
  namespace: string;
  /** The etcd3 section (hosts, protocol, TLS files, user); null when the configuration has none. */
  etcd: EtcdSection | null;
  retryTimeout: number;
  rest: TlsFiles & { auth?: { username: string; password: string }; insecure: boolean };
}

export function defaultConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['XDG_CONFIG_HOME'] || join(env['HOME'] || homedir(), '.config');
  return join(base, 'patroni', 'patronictl.yaml');
}

function merge(target: Dict, patch: Dict): Dict {
  for (const [k, v] of Object.entries(patch)) {
    const cur = target[k];
    target[k] = isDict(v) && isDict(cur) ? merge({ ...cur }, v) : v;
  }
  return target;
}

const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined;
const dict = (v: unknown): Dict => (isDict(v) ? v : {});

/** `etcd3://host:port` (or `host:port`, port 2379 by default) → the etcd3 section. */
export function parseDcsUrl(url: string): Dict {
  const m = /^(?:([A-Za-z0-9]+):)?(?:\/\/)?([^/:]*|\[[^\]]*\])(?::(\d+))?\/?$/.exec(url.trim());
  if (!m) throw new CliError(`Invalid dcs url: ${url}`, 1);
  const scheme = m[1] ?? 'etcd3';
  if (scheme !== 'etcd3') {
    if (['etcd', 'consul', 'zookeeper', 'exhibitor'].includes(scheme)) {
      throw new CliError(`Unsupported dcs scheme: ${scheme} (pgwarden speaks etcd3 only)`, 1);
    }
    throw new CliError(`Unknown dcs scheme: ${scheme}`, 1);
  }
  return { etcd3: { host: `${m[2] || 'localhost'}:${m[3] ?? '2379'}` } };
}

/** The etcd3 section by the agent's own rule; null without one. A bad one is the user's error. */
function etcdSection(doc: Dict): EtcdSection | null {
  if (!isDict(doc['etcd3'])) return null;
  try {
    return readEtcd3(doc);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 1);
    throw err;
  }
}

function readFileConfig(path: string, explicit: boolean): Dict {
  let readable = existsSync(path);
  if (readable) {
    try {
      accessSync(path, constants.R_OK);
    } catch {
      readable = false;
    }
  }
  if (!readable) {
    if (explicit) {
      throw new CliError(
        `Provided config file ${path} not existing or no read rights. Check the -c/--config-file parameter`,
        1,
      );
    }
    return {};
  }
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'), path);
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  return isDict(doc) ? doc : {};
}

export interface CtlConfigOptions {
  configFile?: string;
  dcsUrl?: string;
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function loadCtlConfig(o: CtlConfigOptions): CtlConfig {
  const env = o.env ?? process.env;
  const fallback = defaultConfigPath(env);
  const file = o.configFile || env['PATRONICTL_CONFIG_FILE'] || fallback;
  const doc = merge(readFileConfig(file, file !== fallback), environmentConfig(env));
  const dcsUrl = o.dcsUrl || env['DCS_URL'];
  if (dcsUrl) {
    for (const k of ['etcd', 'etcd3', 'consul', 'zookeeper', 'exhibitor']) delete doc[k];
    Object.assign(doc, parseDcsUrl(dcsUrl));
  }
  const restapi = dict(doc['restapi']);
  const ctl = dict(doc['ctl']);
  const auth = dict(ctl['authentication'])['username']
    ? dict(ctl['authentication'])
    : dict(restapi['authentication']);
  // The same files as an agent's own requests to its peers.
  const tls = peerTlsFiles(doc);
  const cfg: CtlConfig = {
    namespace: normaliseNamespace(str(doc['namespace']) ?? 'service'),
    etcd: etcdSection(doc),
    retryTimeout: Number(doc['retry_timeout'] ?? 10) || 10,
    rest: { ...tls, insecure: !!o.insecure || tls.insecure },
  };
  const scope = str(doc['scope']);
  if (scope) cfg.scope = scope;
  if (str(auth['username'])) {
    cfg.rest.auth = { username: str(auth['username'])!, password: str(auth['password']) ?? '' };
  }
  return cfg;
}
