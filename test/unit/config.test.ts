import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASEBACKUP_ONLY } from '../../src/cluster/replica-methods.ts';
import {
  ConfigError,
  dynamicConfigFrom,
  environmentConfig,
  loadConfig,
  normaliseNamespace,
  parseBool,
  parseConfigText,
} from '../../src/config/load.ts';
import { dynamicDefaults, type NodeConfig } from '../../src/config/types.ts';
import { nodeSettingsFrom } from '../../src/runtime/dynamic-config.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

// Patroni's postgres0.yml, trimmed to what pgwarden reads plus a few extras.
const POSTGRES0 = `
scope: batman
#namespace: /service/
name: postgresql0

restapi:
  listen: 127.0.0.1:8008
  connect_address: 127.0.0.1:8008
#  cafile: /etc/ssl/certs/ssl-cacert-snakeoil.pem
  authentication:
    username: patroni
    password: patroni

etcd3:
  host: 127.0.0.1:2379

bootstrap:
  dcs:
    ttl: 30
    loop_wait: 10
    retry_timeout: 10
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_level: replica
        max_connections: 100
  initdb:
  - encoding: UTF8
  - data-checksums
  pg_hba:
  - host replication replicator 127.0.0.1/32 md5
  - host all all 0.0.0.0/0 md5

postgresql:
  listen: 127.0.0.1:5432
  connect_address: 127.0.0.1:5432
  data_dir: data/postgresql0
  pgpass: /tmp/pgpass0
  authentication:
    replication:
      username: replicator
      password: rep-pass
    superuser:
      username: postgres
      password: zalando
    rewind:
      username: rewind_user
      password: rewind_password
  parameters:
    unix_socket_directories: '..'
    work_mem: 8MB
    max_connections: 50
  pg_hba:
  - local all all trust

tags:
    nofailover: false
    noloadbalance: false
    clonefrom: false
    nosync: false
    datacenter: east
`;

const MINIMAL = MINIMAL_CONFIG;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** MINIMAL with one dotted key replaced (undefined deletes it). */
function variant(path: string, value: unknown): string {
  const doc = structuredClone(parseConfigText(MINIMAL).raw) as Record<string, unknown>;
  const parts = path.split('.');
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    cur[p] ??= {};
    cur = cur[p] as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return JSON.stringify(doc); // JSON is YAML
}

describe('parseConfigText: postgres0.yml', () => {
  const cfg = parseConfigText(POSTGRES0, {}, '/etc/postgres0.yml');

  it('reads the global keys', () => {
    expect(cfg.source).toBe('/etc/postgres0.yml');
    expect(cfg.name).toBe('postgresql0');
    expect(cfg.scope).toBe('batman');
    expect(cfg.namespace).toBe('/service/');
  });

  it('reads restapi', () => {
    expect(cfg.restapi).toEqual({
      listen: { host: '127.0.0.1', port: 8008 },
      connect_address: '127.0.0.1:8008',
      authentication: { username: 'patroni', password: 'patroni' },
    });
  });

  it('reads etcd3', () => {
    expect(cfg.etcd3).toEqual({ hosts: ['127.0.0.1:2379'], protocol: 'http' });
  });

  it('keeps bootstrap.dcs verbatim and parses initdb/pg_hba', () => {
    expect(cfg.bootstrap).toEqual({
      dcs: {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        maximum_lag_on_failover: 1048576,
        postgresql: { use_pg_rewind: true, parameters: { wal_level: 'replica', max_connections: 100 } },
      },
      initdb: [{ encoding: 'UTF8' }, 'data-checksums'],
      pg_hba: ['host replication replicator 127.0.0.1/32 md5', 'host all all 0.0.0.0/0 md5'],
      method: null,
    });
  });

  it('reads postgresql with defaults filled in', () => {
    expect(cfg.postgresql).toEqual({
      listen: { hosts: ['127.0.0.1'], port: 5432 },
      connect_address: '127.0.0.1:5432',
      data_dir: 'data/postgresql0',
      bin_dir: '/usr/lib/postgresql/15/bin',
      pgpass: '/tmp/pgpass0',
      authentication: {
        superuser: { username: 'postgres', password: 'zalando' },
        replication: { username: 'replicator', password: 'rep-pass' },
        rewind: { username: 'rewind_user', password: 'rewind_password' },
      },
      parameters: { unix_socket_directories: '..', work_mem: '8MB', max_connections: 50 },
      pg_hba: ['local all all trust'],
      pg_ctl_timeout: 60,
      remove_data_directory_on_rewind_failure: false,
      remove_data_directory_on_diverged_timelines: false,
      create_replica_methods: BASEBACKUP_ONLY,
    });
  });

  it('reads tags and drops false booleans from published', () => {
    expect(cfg.tags).toEqual({
      nofailover: false,
      noloadbalance: false,
      clonefrom: false,
      nosync: false,
      nostream: false,
      failover_priority: 1,
      published: { datacenter: 'east' },
    });
  });

  it('keeps the whole document in raw', () => {
    expect((cfg.raw['tags'] as Record<string, unknown>)['datacenter']).toBe('east');
    expect(Object.keys(cfg.raw).sort()).toEqual(
      ['bootstrap', 'etcd3', 'name', 'postgresql', 'restapi', 'scope', 'tags'].sort(),
    );
  });
});

describe('defaults and normalisation', () => {
  const cfg = parseConfigText(MINIMAL);

  it('fills defaults for a minimal document', () => {
    expect(cfg.source).toBeNull();
    expect(cfg.namespace).toBe('/service/');
    expect(cfg.restapi).toEqual({
      listen: { host: '0.0.0.0', port: 8008 },
      connect_address: '10.0.0.1:8008',
    });
    expect(cfg.etcd3).toEqual({ hosts: ['e1:2379'], protocol: 'http' });
    expect(cfg.bootstrap).toEqual({ dcs: {}, initdb: [], pg_hba: [], method: null });
    expect(cfg.postgresql.listen).toEqual({ hosts: ['*'], port: 5432 });
    expect(cfg.postgresql.bin_dir).toBe('/usr/lib/postgresql/15/bin');
    expect(cfg.postgresql.pgpass).toBe('/tmp/pgpass_n');
    expect(cfg.postgresql.pg_ctl_timeout).toBe(60);
    expect(cfg.postgresql.parameters).toEqual({});
    expect(cfg.postgresql.pg_hba).toEqual([]);
    expect(cfg.postgresql.authentication).toEqual({
      superuser: { username: 'su' },
      replication: { username: 'rep' },
    });
    expect(cfg.postgresql.use_pg_rewind).toBeUndefined();
    expect(cfg.postgresql.use_slots).toBeUndefined();
    expect(cfg.tags).toEqual({
      nofailover: false,
      noloadbalance: false,
      clonefrom: false,
      nosync: false,
      nostream: false,
      failover_priority: 1,
      published: {},
    });
  });

  it.each([
    ['service', '/service/'],
    ['/service', '/service/'],
    ['/service/', '/service/'],
    ['//a///b//', '/a/b/'],
    ['x/y', '/x/y/'],
    ['', '/'],
  ])('namespace %j → %j', (input, expected) => {
    expect(normaliseNamespace(input)).toBe(expected);
    expect(parseConfigText(variant('namespace', input)).namespace).toBe(expected);
  });

  it('sanitises the name in the default pgpass path', () => {
    expect(parseConfigText(variant('name', 'pg node/1')).postgresql.pgpass).toBe('/tmp/pgpass_pg_node_1');
  });

  it('treats * in restapi.listen as all interfaces and strips IPv6 brackets', () => {
    expect(parseConfigText(variant('restapi.listen', '*:8009')).restapi.listen).toEqual({
      host: '0.0.0.0',
      port: 8009,
    });
    expect(parseConfigText(variant('restapi.listen', '[::1]:8010')).restapi.listen).toEqual({
      host: '::1',
      port: 8010,
    });
  });

  it('parses postgresql.listen host lists and a missing port', () => {
    expect(
      parseConfigText(variant('postgresql.listen', '127.0.0.1, 10.0.0.1:5433')).postgresql.listen,
    ).toEqual({
      hosts: ['127.0.0.1', '10.0.0.1'],
      port: 5433,
    });
    expect(parseConfigText(variant('postgresql.listen', '[::1],127.0.0.1:5434')).postgresql.listen).toEqual({
      hosts: ['::1', '127.0.0.1'],
      port: 5434,
    });
    expect(parseConfigText(variant('postgresql.listen', '0.0.0.0')).postgresql.listen).toEqual({
      hosts: ['0.0.0.0'],
      port: 5432,
    });
  });

  it('restapi.ui (pgwarden only): on unless false; not a boolean is refused with the key named', () => {
    expect(parseConfigText(MINIMAL).restapi.ui).toBeUndefined();
    const off = parseConfigText(`${MINIMAL}\nrestapi: {listen: ':1', connect_address: 'h:1', ui: false}\n`);
    expect(off.restapi.ui).toBe(false);
    expect(() =>
      parseConfigText(`${MINIMAL}\nrestapi: {listen: ':1', connect_address: 'h:1', ui: sometimes}\n`),
    ).toThrow(/restapi\.ui/);
  });

  it('gossip (pgwarden only): on, every 5 s, unless told; a bad interval is refused with the key named', () => {
    expect(parseConfigText(MINIMAL).gossip).toEqual({ enabled: true, intervalMs: 5000, shortLeaseMs: 3000 });
    expect(parseConfigText(`${MINIMAL}\ngossip: {enabled: false, interval: 0.5}\n`).gossip).toEqual({
      enabled: false,
      intervalMs: 500,
      shortLeaseMs: null,
    });
    expect(parseConfigText(`${MINIMAL}\ngossip: {interval: '1'}\n`).gossip.intervalMs).toBe(1000);
    for (const bad of ['0', '0.01', '6', 'fast', "''"]) {
      expect(() => parseConfigText(`${MINIMAL}\ngossip: {interval: ${bad}}\n`)).toThrow(
        /gossip\.interval: must be a number of seconds from 0\.05 to 5/,
      );
    }
    expect(() => parseConfigText(`${MINIMAL}\ngossip: {enabled: sometimes}\n`)).toThrow(/gossip\.enabled/);
    expect(() => parseConfigText(`${MINIMAL}\ngossip: every second\n`)).toThrow(/gossip/);
  });

  it('fast failover (pgwarden only): on with gossip unless turned off; a 3 s short lease by default; needs gossip', () => {
    const gossip = (text: string) => parseConfigText(`${MINIMAL}\ngossip: ${text}\n`).gossip;
    expect(gossip('{short_lease: 2}').shortLeaseMs).toBe(2000);
    expect(gossip('{fast_failover: false, short_lease: 2}').shortLeaseMs).toBeNull();
    expect(gossip('{enabled: false}').shortLeaseMs).toBeNull();
    expect(gossip('{fast_failover: true}').shortLeaseMs).toBe(3000);
    expect(gossip('{fast_failover: yes, short_lease: 1.5}').shortLeaseMs).toBe(1500);
    for (const bad of ['0.5', '31', 'soon', "''"]) {
      expect(() => gossip(`{fast_failover: true, short_lease: ${bad}}`)).toThrow(
        /gossip\.short_lease: must be a number of seconds from 1 to 30/,
      );
    }
    expect(() => gossip('{enabled: false, fast_failover: true}')).toThrow(
      /gossip\.fast_failover: needs gossip \(gossip\.enabled is false\)/,
    );
    expect(() => gossip('{fast_failover: maybe}')).toThrow(/gossip\.fast_failover/);
  });

  it('reads YAML 1.1 booleans and octals the way PyYAML does', () => {
    const cfg = parseConfigText(
      `${MINIMAL}\ntags: {nofailover: yes, nosync: on}\nbootstrap: {dcs: {pause: off}}\n` +
        `restapi: {listen: ':1', connect_address: 'h:1', allowlist_include_members: 'Yes'}\n`,
    );
    expect(cfg.tags.nofailover).toBe(true);
    expect(cfg.tags.nosync).toBe(true);
    expect(cfg.bootstrap.dcs).toEqual({ pause: false });
    expect(cfg.restapi.allowlist_include_members).toBe(true);
    const octal = parseConfigText(
      `${MINIMAL.replace('data_dir: /d', 'data_dir: /d\n  parameters: {m: 0700}')}`,
    );
    expect(octal.postgresql.parameters).toEqual({ m: 448 });
  });

  it('resolves plain scalars like PyYAML, not like YAML 1.1 to the letter', () => {
    const cfg = parseConfigText(
      `${MINIMAL}\ntags: {a: e1, b: n, c: 1e5, d: 1.5e+3, e: '0:30', f: 1:30, g: ., h: 1.5, i: .5, j: 0x1F, k: .inf, l: Y, m: 0:30}\n`,
    );
    expect(cfg.tags.published).toEqual({
      a: 'e1',
      b: 'n',
      c: '1e5',
      d: 1500,
      e: '0:30',
      f: 90,
      g: '.',
      h: 1.5,
      i: 0.5,
      j: 31,
      k: Number.POSITIVE_INFINITY,
      l: 'Y',
      m: '0:30',
    });
  });

  it('keeps YAML dates as strings', () => {
    const cfg = parseConfigText(`${MINIMAL}\ntags: {since: 2020-01-02}\n`);
    expect(cfg.tags.published).toEqual({ since: '2020-01-02' });
  });

  it('stringifies numeric credentials', () => {
    const cfg = parseConfigText(
      variant('postgresql.authentication.superuser', { username: 'su', password: 12345 }),
    );
    expect(cfg.postgresql.authentication.superuser).toEqual({ username: 'su', password: '12345' });
  });

  it("a role's sslmode is one libpq knows, or the configuration is refused with the key named", () => {
    const su = (sslmode: string) =>
      variant('postgresql.authentication.superuser', { username: 'su', password: 'p', sslmode });
    expect(parseConfigText(su('verify-full')).postgresql.authentication.superuser['sslmode']).toBe(
      'verify-full',
    );
    const err = errorOf(() => parseConfigText(su('sometimes')));
    expect(err.key).toBe('postgresql.authentication.superuser.sslmode');
    expect(err.message).toMatch(
      /must be one of disable, allow, prefer, require, verify-ca, verify-full, got "sometimes"/,
    );
  });
});

describe('restapi options', () => {
  it('reads TLS, verify_client and allowlist', () => {
    const cfg = parseConfigText(
      variant('restapi', {
        listen: '0.0.0.0:8443',
        connect_address: 'node1:8443',
        certfile: '/c.pem',
        keyfile: '/k.pem',
        cafile: '/ca.pem',
        verify_client: 'required',
        allowlist: ['10.0.0.0/8', '127.0.0.1'],
        allowlist_include_members: false,
      }),
    );
    expect(cfg.restapi).toEqual({
      listen: { host: '0.0.0.0', port: 8443 },
      connect_address: 'node1:8443',
      certfile: '/c.pem',
      keyfile: '/k.pem',
      cafile: '/ca.pem',
      verify_client: 'required',
      allowlist: ['10.0.0.0/8', '127.0.0.1'],
      allowlist_include_members: false,
    });
  });
});

describe('etcd3 hosts', () => {
  it.each([
    [{ host: 'e1' }, ['e1:2379'], 'http'],
    [{ host: 'e1:2380' }, ['e1:2380'], 'http'],
    [{ hosts: 'a:1,b:2, c' }, ['a:1', 'b:2', 'c:2379'], 'http'],
    [{ hosts: ['a:1', 'b'] }, ['a:1', 'b:2379'], 'http'],
    [{ hosts: ['https://a:1', 'https://b:2/'] }, ['a:1', 'b:2'], 'https'],
    [{ hosts: 'a:1', host: 'ignored:9' }, ['a:1'], 'http'],
    [{ host: 'e1', protocol: 'https' }, ['e1:2379'], 'https'],
    [{ url: 'https://user:pw@e9:2390' }, ['e9:2390'], 'https'],
    [{ url: 'http://e9' }, ['e9:2379'], 'http'],
    [{ host: '[::1]:2379' }, ['[::1]:2379'], 'http'],
  ])('%j → %j %s', (etcd3, hosts, protocol) => {
    const cfg = parseConfigText(variant('etcd3', etcd3));
    expect(cfg.etcd3.hosts).toEqual(hosts);
    expect(cfg.etcd3.protocol).toBe(protocol);
  });

  it('keeps credentials and TLS files', () => {
    const cfg = parseConfigText(
      variant('etcd3', { host: 'e', username: 'u', password: 'p', cacert: '/ca', cert: '/c', key: '/k' }),
    );
    expect(cfg.etcd3).toEqual({
      hosts: ['e:2379'],
      protocol: 'http',
      username: 'u',
      password: 'p',
      cacert: '/ca',
      cert: '/c',
      key: '/k',
    });
  });
});

describe('tags', () => {
  it('publishes true booleans, custom tags and replicatefrom', () => {
    const cfg = parseConfigText(
      variant('tags', {
        nofailover: 'true',
        noloadbalance: 0,
        clonefrom: 'ON',
        replicatefrom: 'pg1',
        zone: 3,
      }),
    );
    expect(cfg.tags).toEqual({
      nofailover: true,
      noloadbalance: false,
      clonefrom: true,
      nosync: false,
      nostream: false,
      failover_priority: 0,
      replicatefrom: 'pg1',
      published: { nofailover: true, clonefrom: true, replicatefrom: 'pg1', zone: 3 },
    });
  });
});

describe('environment overrides', () => {
  it('overrides global, restapi and postgresql keys', () => {
    const cfg = parseConfigText(POSTGRES0, {
      PATRONI_NAME: 'pg9',
      PATRONI_SCOPE: 'robin',
      PATRONI_NAMESPACE: 'ns',
      PATRONI_RESTAPI_LISTEN: '0.0.0.0:9008',
      PATRONI_RESTAPI_CONNECT_ADDRESS: 'pg9:9008',
      PATRONI_RESTAPI_CERTFILE: '/cert',
      PATRONI_RESTAPI_KEYFILE: '/key',
      PATRONI_RESTAPI_CAFILE: '/ca',
      PATRONI_RESTAPI_VERIFY_CLIENT: 'optional',
      PATRONI_RESTAPI_ALLOWLIST: '10.0.0.1, 10.0.0.2',
      PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'TRUE',
      PATRONI_POSTGRESQL_LISTEN: '0.0.0.0:6432',
      PATRONI_POSTGRESQL_CONNECT_ADDRESS: 'pg9:6432',
      PATRONI_POSTGRESQL_DATA_DIR: '/var/lib/pg9',
      PATRONI_POSTGRESQL_PGPASS: '/tmp/pp9',
      PATRONI_POSTGRESQL_BIN_DIR: '/opt/pg/bin',
      PATRONI_POSTGRESQL_CONFIG_DIR: '/etc/pg9',
    });
    expect(cfg.name).toBe('pg9');
    expect(cfg.scope).toBe('robin');
    expect(cfg.namespace).toBe('/ns/');
    expect(cfg.restapi).toEqual({
      listen: { host: '0.0.0.0', port: 9008 },
      connect_address: 'pg9:9008',
      authentication: { username: 'patroni', password: 'patroni' },
      certfile: '/cert',
      keyfile: '/key',
      cafile: '/ca',
      verify_client: 'optional',
      allowlist: ['10.0.0.1', '10.0.0.2'],
      allowlist_include_members: true,
    });
    expect(cfg.postgresql.listen).toEqual({ hosts: ['0.0.0.0'], port: 6432 });
    expect(cfg.postgresql.connect_address).toBe('pg9:6432');
    expect(cfg.postgresql.data_dir).toBe('/var/lib/pg9');
    expect(cfg.postgresql.pgpass).toBe('/tmp/pp9');
    expect(cfg.postgresql.bin_dir).toBe('/opt/pg/bin');
    expect((cfg.raw['postgresql'] as Record<string, unknown>)['config_dir']).toBe('/etc/pg9');
    // untouched keys survive the patch
    expect(cfg.postgresql.parameters['work_mem']).toBe('8MB');
  });

  it('merges RESTAPI_USERNAME/PASSWORD into restapi.authentication', () => {
    expect(parseConfigText(POSTGRES0, { PATRONI_RESTAPI_PASSWORD: 'new' }).restapi.authentication).toEqual({
      username: 'patroni',
      password: 'new',
    });
    expect(
      parseConfigText(MINIMAL, { PATRONI_RESTAPI_USERNAME: 'a', PATRONI_RESTAPI_PASSWORD: 'b' }).restapi
        .authentication,
    ).toEqual({ username: 'a', password: 'b' });
  });

  it('sets role credentials including libpq options', () => {
    const cfg = parseConfigText(POSTGRES0, {
      PATRONI_SUPERUSER_USERNAME: 'admin',
      PATRONI_SUPERUSER_PASSWORD: 'secret',
      PATRONI_SUPERUSER_SSLMODE: 'verify-full',
      PATRONI_REPLICATION_SSLROOTCERT: '/root.crt',
      PATRONI_REPLICATION_CHANNEL_BINDING: 'require',
      PATRONI_REWIND_USERNAME: 'rw',
      PATRONI_REWIND_SSLCERT: '/rw.crt',
      PATRONI_REWIND_SSLKEY: '/rw.key',
      PATRONI_REWIND_GSSENCMODE: 'disable',
    });
    expect(cfg.postgresql.authentication).toEqual({
      superuser: { username: 'admin', password: 'secret', sslmode: 'verify-full' },
      replication: {
        username: 'replicator',
        password: 'rep-pass',
        sslrootcert: '/root.crt',
        channel_binding: 'require',
      },
      rewind: {
        username: 'rw',
        password: 'rewind_password',
        sslcert: '/rw.crt',
        sslkey: '/rw.key',
        gssencmode: 'disable',
      },
    });
  });

  it('overrides etcd3 settings', () => {
    const cfg = parseConfigText(POSTGRES0, {
      PATRONI_ETCD3_HOSTS: "['e1:2379', 'e2:2379']",
      PATRONI_ETCD3_PROTOCOL: 'https',
      PATRONI_ETCD3_USERNAME: 'root',
      PATRONI_ETCD3_PASSWORD: 'pw',
      PATRONI_ETCD3_CACERT: '/ca',
      PATRONI_ETCD3_CERT: '/c',
      PATRONI_ETCD3_KEY: '/k',
    });
    expect(cfg.etcd3).toEqual({
      hosts: ['e1:2379', 'e2:2379'],
      protocol: 'https',
      username: 'root',
      password: 'pw',
      cacert: '/ca',
      cert: '/c',
      key: '/k',
    });
    expect(parseConfigText(POSTGRES0, { PATRONI_ETCD3_HOST: 'e5:2381' }).etcd3.hosts).toEqual(['e5:2381']);
  });

  it.each([
    ['a,b , c', ['a', 'b', 'c']],
    ['[a, b]', ['a', 'b']],
    ['- a\n- b', ['a', 'b']],
    ['a', ['a']],
    [',a,,', ['a']],
  ])('list %j → %j', (text, list) => {
    expect(environmentConfig({ PATRONI_RESTAPI_ALLOWLIST: text })).toEqual({ restapi: { allowlist: list } });
  });

  it('ignores empty variables and unrelated ones', () => {
    expect(environmentConfig({ PATRONI_NAME: '', PATRONI_TAGS_NOFAILOVER: 'true', HOME: '/root' })).toEqual(
      {},
    );
  });

  it('rejects malformed typed variables naming the key', () => {
    const e1 = errorOf(() => environmentConfig({ PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS: 'maybe' }));
    expect(e1.key).toBe('restapi.allowlist_include_members');
    expect(e1.message).toContain('PATRONI_RESTAPI_ALLOWLIST_INCLUDE_MEMBERS');
    expect(errorOf(() => environmentConfig({ PATRONI_ETCD3_HOSTS: '[a, {b: 1}]' })).key).toBe('etcd3.hosts');
    expect(errorOf(() => environmentConfig({ PATRONI_ETCD3_PORT: 'x' })).key).toBe('etcd3.port');
  });
});

describe('parseBool', () => {
  it.each([
    ['on', true],
    ['TRUE', true],
    ['Yes', true],
    ['1', true],
    [1, true],
    [true, true],
    ['off', false],
    ['False', false],
    ['NO', false],
    ['0', false],
    [0, false],
    [false, false],
    [' yes ', undefined], // Patroni's parse_bool does not strip
    ['y', undefined],
    ['2', undefined],
    ['', undefined],
    [null, undefined],
    [{}, undefined],
  ])('%j → %j', (input, expected) => {
    expect(parseBool(input)).toBe(expected);
  });
});

describe('validation errors name the key', () => {
  it.each([
    ['name', undefined, 'name', 'name: required'],
    ['name', 42, 'name', 'name: must be a string'],
    ['scope', '', 'scope', 'scope: required'],
    ['namespace', 5, 'namespace', 'must be a string'],
    ['restapi', undefined, 'restapi', 'restapi: required'],
    ['restapi.listen', undefined, 'restapi.listen', 'required'],
    ['restapi.listen', 'localhost', 'restapi.listen', 'expected host:port'],
    ['restapi.listen', 'h:http', 'restapi.listen', 'port must be a number'],
    ['restapi.listen', 'h:70000', 'restapi.listen', 'port must be a number'],
    ['restapi.listen', 8008, 'restapi.listen', 'must be a string'],
    ['restapi.connect_address', undefined, 'restapi.connect_address', 'required'],
    ['restapi.connect_address', 'h', 'restapi.connect_address', 'expected host:port'],
    ['restapi.verify_client', 'always', 'restapi.verify_client', 'none, optional or required'],
    ['restapi.authentication', { username: 'u' }, 'restapi.authentication.password', 'required'],
    ['restapi.allowlist', 'x', 'restapi.allowlist', 'must be a list'],
    ['restapi.allowlist', ['a', 1], 'restapi.allowlist[1]', 'must be a string'],
    ['restapi.allowlist_include_members', 'sure', 'restapi.allowlist_include_members', 'boolean'],
    ['etcd3', undefined, 'etcd3', 'etcd3: required'],
    ['etcd3', 'e:2379', 'etcd3', 'must be a mapping'],
    ['etcd3.host', undefined, 'etcd3.host', 'required'],
    ['etcd3.host', 'e:x', 'etcd3.host', 'port must be a number'],
    ['etcd3.hosts', 'a:1,b:x', 'etcd3.hosts', 'port must be a number'],
    ['etcd3.hosts', [], 'etcd3.hosts', 'at least one'],
    ['etcd3.protocol', 'grpc', 'etcd3.protocol', 'http or https'],
    ['etcd3.url', 'e1:2379', 'etcd3.url', 'http(s)://'],
    ['postgresql', undefined, 'postgresql', 'postgresql: required'],
    ['postgresql.listen', undefined, 'postgresql.listen', 'required'],
    ['postgresql.listen', 'h:x', 'postgresql.listen', 'port must be a number'],
    ['postgresql.listen', ':5432', 'postgresql.listen', 'missing host'],
    ['postgresql.connect_address', undefined, 'postgresql.connect_address', 'required'],
    ['postgresql.data_dir', undefined, 'postgresql.data_dir', 'postgresql.data_dir: required'],
    ['postgresql.data_dir', ['/d'], 'postgresql.data_dir', 'must be a string, got a list'],
    ['postgresql.bin_dir', 15, 'postgresql.bin_dir', 'must be a string'],
    ['postgresql.authentication', undefined, 'postgresql.authentication', 'required'],
    ['postgresql.authentication.superuser', undefined, 'postgresql.authentication.superuser', 'required'],
    [
      'postgresql.authentication.replication',
      { password: 'x' },
      'postgresql.authentication.replication.username',
      'required',
    ],
    [
      'postgresql.authentication.rewind',
      { password: 'x' },
      'postgresql.authentication.rewind.username',
      'required',
    ],
    [
      'postgresql.authentication.superuser',
      { username: 'su', sslmode: ['a'] },
      'postgresql.authentication.superuser.sslmode',
      'must be a string',
    ],
    ['postgresql.parameters', ['a'], 'postgresql.parameters', 'must be a mapping'],
    ['postgresql.parameters', { work_mem: { a: 1 } }, 'postgresql.parameters.work_mem', 'scalar'],
    ['postgresql.pg_hba', 'local all all trust', 'postgresql.pg_hba', 'must be a list'],
    ['postgresql.pg_ctl_timeout', 'soon', 'postgresql.pg_ctl_timeout', 'integer'],
    ['postgresql.use_pg_rewind', 'perhaps', 'postgresql.use_pg_rewind', 'boolean'],
    ['bootstrap.dcs', 'x', 'bootstrap.dcs', 'must be a mapping'],
    ['bootstrap.dcs.ttl', 'thirty', 'bootstrap.dcs.ttl', 'integer'],
    ['bootstrap.dcs.loop_wait', '10s', 'bootstrap.dcs.loop_wait', 'integer'],
    ['bootstrap.dcs.retry_timeout', -3, 'bootstrap.dcs.retry_timeout', 'integer'],
    ['bootstrap.dcs.master_start_timeout', 'x', 'bootstrap.dcs.master_start_timeout', 'integer'],
    ['bootstrap.dcs.synchronous_mode', 'sometimes', 'bootstrap.dcs.synchronous_mode', 'boolean'],
    ['bootstrap.dcs.postgresql', { use_slots: 'x' }, 'bootstrap.dcs.postgresql.use_slots', 'boolean'],
    ['bootstrap.dcs.postgresql', { parameters: [1] }, 'bootstrap.dcs.postgresql.parameters', 'mapping'],
    ['bootstrap.initdb', 'data-checksums', 'bootstrap.initdb', 'must be a list'],
    ['bootstrap.initdb', ['a', { x: 1, y: 2 }], 'bootstrap.initdb[1]', 'single-key'],
    ['bootstrap.initdb', [7], 'bootstrap.initdb[0]', 'must be a string'],
    ['bootstrap.pg_hba', [1], 'bootstrap.pg_hba[0]', 'must be a string'],
    ['tags', ['a'], 'tags', 'must be a mapping'],
    ['tags.nofailover', 'definitely', 'tags.nofailover', 'boolean'],
    ['tags.replicatefrom', 5, 'tags.replicatefrom', 'must be a string'],
  ])('%s = %j → %s', (path, value, key, message) => {
    const err = errorOf(() => parseConfigText(variant(path, value)));
    expect(err.key).toBe(key);
    expect(err.message.startsWith(`${key}: `)).toBe(true);
    expect(err.message).toContain(message);
    expect(err.name).toBe('ConfigError');
  });

  it.each([
    ['', 'null'],
    ['# only a comment\n', 'null'],
    ['- a\n- b\n', 'a list'],
    ['just text', 'string'],
    ['{}', 'a mapping'],
  ])('rejects a non-mapping or empty document %j', (text, got) => {
    const err = errorOf(() => parseConfigText(text, {}, 'x.yml'));
    expect(err.key).toBe('config');
    expect(err.message).toContain('x.yml must contain a non-empty mapping');
    expect(err.message).toContain(got);
  });

  it('reports YAML syntax errors with the line number', () => {
    const err = errorOf(() => parseConfigText('scope: s\nname: n\nrestapi: [1\nfoo: 2\n', {}, 'bad.yml'));
    expect(err.key).toBe('config');
    expect(err.message).toMatch(/^config: YAML syntax error in bad\.yml at line 4, column \d+: /);
    const err2 = errorOf(() => parseConfigText('a: 1\n  b: 2\n'));
    expect(err2.message).toContain('at line 1');
  });

  it('validation errors after env patching still name the config key', () => {
    const err = errorOf(() => parseConfigText(MINIMAL, { PATRONI_POSTGRESQL_LISTEN: 'h:abc' }));
    expect(err.key).toBe('postgresql.listen');
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgwarden-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and applies env overrides', () => {
    const file = join(dir, 'postgres0.yml');
    writeFileSync(file, POSTGRES0);
    const cfg = loadConfig({ file, env: { PATRONI_NAME: 'other', PATRONI_CONFIGURATION: MINIMAL } });
    expect(cfg.source).toBe(file);
    expect(cfg.name).toBe('other');
    expect(cfg.scope).toBe('batman');
  });

  it('reports a missing file with key config and the path', () => {
    const file = join(dir, 'nope.yml');
    const err = errorOf(() => loadConfig({ file, env: {} }));
    expect(err.key).toBe('config');
    expect(err.message).toBe(`config: cannot read ${file}: ENOENT`);
  });

  it('merges a directory of yml files alphabetically', () => {
    const d = mkdtempSync(join(dir, 'confdir-'));
    writeFileSync(join(d, '10-base.yml'), MINIMAL);
    writeFileSync(join(d, '20-name.yaml'), 'name: second\npostgresql: {data_dir: /other}\n');
    writeFileSync(join(d, 'README.txt'), 'not: yaml: at: all:');
    const cfg = loadConfig({ file: d, env: {} });
    expect(cfg.name).toBe('second');
    expect(cfg.postgresql.data_dir).toBe('/other');
    expect(cfg.postgresql.connect_address).toBe('10.0.0.1:5432');
  });

  it('uses PATRONI_CONFIGURATION when no file is given and ignores other variables', () => {
    const cfg = loadConfig({ env: { PATRONI_CONFIGURATION: MINIMAL, PATRONI_NAME: 'ignored' } });
    expect(cfg.source).toBeNull();
    expect(cfg.name).toBe('n');
  });

  it('reports YAML errors in PATRONI_CONFIGURATION', () => {
    const err = errorOf(() => loadConfig({ env: { PATRONI_CONFIGURATION: 'a: [\n' } }));
    expect(err.key).toBe('config');
    expect(err.message).toContain('PATRONI_CONFIGURATION');
  });

  it('builds the whole config from variables when there is neither', () => {
    const cfg = loadConfig({
      file: null,
      env: {
        PATRONI_NAME: 'e1',
        PATRONI_SCOPE: 'envscope',
        PATRONI_RESTAPI_LISTEN: ':8008',
        PATRONI_RESTAPI_CONNECT_ADDRESS: 'e1:8008',
        PATRONI_ETCD3_HOSTS: 'etcd1:2379,etcd2:2379',
        PATRONI_POSTGRESQL_LISTEN: '*:5432',
        PATRONI_POSTGRESQL_CONNECT_ADDRESS: 'e1:5432',
        PATRONI_POSTGRESQL_DATA_DIR: '/data',
        PATRONI_SUPERUSER_USERNAME: 'postgres',
        PATRONI_REPLICATION_USERNAME: 'replicator',
      },
    });
    expect(cfg.source).toBeNull();
    expect(cfg.name).toBe('e1');
    expect(cfg.etcd3.hosts).toEqual(['etcd1:2379', 'etcd2:2379']);
    expect(cfg.postgresql.authentication.replication).toEqual({ username: 'replicator' });
  });

  it('rejects an empty environment with no file', () => {
    expect(errorOf(() => loadConfig({ env: {} })).key).toBe('config');
  });
});

describe('dynamicConfigFrom', () => {
  const local: NodeConfig = parseConfigText(POSTGRES0);

  it('returns the defaults for nothing', () => {
    expect(dynamicConfigFrom(null)).toEqual(dynamicDefaults);
    expect(dynamicConfigFrom(undefined)).toEqual(dynamicDefaults);
    expect(dynamicConfigFrom({})).toEqual(dynamicDefaults);
  });

  it('merges and int-converts values', () => {
    const cfg = dynamicConfigFrom({
      ttl: '40',
      loop_wait: 5.9,
      retry_timeout: 12,
      maximum_lag_on_failover: '2048',
      primary_stop_timeout: 7,
      synchronous_mode: 'on',
      synchronous_mode_strict: true,
      synchronous_node_count: 2,
      check_timeline: 'yes',
      pause: true,
      postgresql: { use_pg_rewind: true, use_slots: false, parameters: { max_connections: 200 } },
      unknown_key: 'kept out',
    });
    expect(cfg).toEqual({
      ttl: 40,
      loop_wait: 5,
      retry_timeout: 12,
      maximum_lag_on_failover: 2048,
      primary_start_timeout: 300,
      primary_stop_timeout: 7,
      synchronous_mode: true,
      synchronous_mode_strict: true,
      synchronous_node_count: 2,
      check_timeline: true,
      pause: true,
      failsafe_mode: false,
      standby_cluster: null,
      postgresql: { use_pg_rewind: true, use_slots: false, parameters: { max_connections: 200 } },
    });
  });

  it('accepts master_start_timeout as an alias, primary_start_timeout winning', () => {
    expect(dynamicConfigFrom({ master_start_timeout: 20 }).primary_start_timeout).toBe(20);
    expect(
      dynamicConfigFrom({ master_start_timeout: 20, primary_start_timeout: 30 }).primary_start_timeout,
    ).toBe(30);
  });

  it('falls back to defaults on invalid values instead of throwing', () => {
    const cfg = dynamicConfigFrom({
      ttl: 'thirty',
      loop_wait: -1,
      retry_timeout: true,
      maximum_lag_on_failover: null,
      primary_start_timeout: [1],
      synchronous_mode: 'sometimes',
      pause: { a: 1 },
      postgresql: {
        use_pg_rewind: 'x',
        use_slots: 7,
        parameters: { a: { nested: 1 }, b: 'ok' },
        pg_hba: [1],
      },
    });
    expect(cfg).toEqual({
      ...dynamicDefaults,
      postgresql: { use_pg_rewind: false, use_slots: true, parameters: { b: 'ok' } },
    });
    expect(dynamicConfigFrom({ postgresql: 'garbage' } as Record<string, unknown>)).toEqual(dynamicDefaults);
    expect(dynamicConfigFrom([1, 2] as unknown as Record<string, unknown>)).toEqual(dynamicDefaults);
  });

  it('lets local parameters win except restart-only ones', () => {
    const cfg = dynamicConfigFrom(
      {
        postgresql: {
          parameters: { max_connections: 100, work_mem: '4MB', wal_level: 'logical', shared_buffers: '1GB' },
        },
      },
      local,
    );
    expect(cfg.postgresql.parameters).toEqual({
      max_connections: 100, // local 50 ignored: restart-only
      work_mem: '8MB',
      wal_level: 'logical',
      shared_buffers: '1GB',
      unix_socket_directories: '..',
    });
  });

  it('compares parameter names case-insensitively when overriding', () => {
    const withUpper = parseConfigText(
      variant('postgresql.parameters', { Work_Mem: '16MB', Max_Connections: 9 }),
    );
    const cfg = dynamicConfigFrom({ postgresql: { parameters: { work_mem: '4MB' } } }, withUpper);
    expect(cfg.postgresql.parameters).toEqual({ Work_Mem: '16MB' });
  });

  it('takes use_pg_rewind from local config when set there', () => {
    const localOff = parseConfigText(variant('postgresql.use_pg_rewind', false));
    expect(
      dynamicConfigFrom({ postgresql: { use_pg_rewind: true } }, localOff).postgresql.use_pg_rewind,
    ).toBe(false);
    const localOn = parseConfigText(variant('postgresql.use_pg_rewind', 'on'));
    expect(dynamicConfigFrom({}, localOn).postgresql.use_pg_rewind).toBe(true);
    expect(dynamicConfigFrom({ postgresql: { use_pg_rewind: true } }, local).postgresql.use_pg_rewind).toBe(
      true,
    );
  });

  it('passes both remove_data_directory_on_* flags of the local postgresql section to the node machine', () => {
    const off = nodeSettingsFrom(local, dynamicConfigFrom({}, local));
    expect(off.remove_data_directory_on_rewind_failure).toBe(false);
    expect(off.remove_data_directory_on_diverged_timelines).toBe(false);
    const diverged = parseConfigText(variant('postgresql.remove_data_directory_on_diverged_timelines', 'on'));
    expect(diverged.postgresql.remove_data_directory_on_diverged_timelines).toBe(true);
    const s = nodeSettingsFrom(diverged, dynamicConfigFrom({}, diverged));
    expect(s.remove_data_directory_on_diverged_timelines).toBe(true);
    expect(s.remove_data_directory_on_rewind_failure).toBe(false);
    const failure = parseConfigText(variant('postgresql.remove_data_directory_on_rewind_failure', true));
    expect(
      nodeSettingsFrom(failure, dynamicConfigFrom({}, failure)).remove_data_directory_on_rewind_failure,
    ).toBe(true);
    expect(() =>
      parseConfigText(variant('postgresql.remove_data_directory_on_diverged_timelines', 'perhaps')),
    ).toThrow(/postgresql\.remove_data_directory_on_diverged_timelines/);
  });

  it('keeps use_slots cluster-wide, ignoring a local value as Patroni does', () => {
    const localNoSlots = parseConfigText(variant('postgresql.use_slots', false));
    expect(localNoSlots.postgresql.use_slots).toBe(false);
    expect(dynamicConfigFrom({}, localNoSlots).postgresql.use_slots).toBe(true);
    expect(dynamicConfigFrom({ postgresql: { use_slots: 'off' } }, localNoSlots).postgresql.use_slots).toBe(
      false,
    );
  });

  it('takes pg_hba from local config when set there, else from dynamic', () => {
    const dyn = { postgresql: { pg_hba: ['host all all 0.0.0.0/0 md5'] } };
    expect(dynamicConfigFrom(dyn).postgresql.pg_hba).toEqual(['host all all 0.0.0.0/0 md5']);
    expect(dynamicConfigFrom(dyn, local).postgresql.pg_hba).toEqual(['local all all trust']);
    expect(dynamicConfigFrom({}).postgresql.pg_hba).toBeUndefined();
  });

  it('turns bootstrap.dcs of postgres0.yml into the expected settings', () => {
    const cfg = dynamicConfigFrom(local.bootstrap.dcs, local);
    expect(cfg.ttl).toBe(30);
    expect(cfg.loop_wait).toBe(10);
    expect(cfg.retry_timeout).toBe(10);
    expect(cfg.maximum_lag_on_failover).toBe(1048576);
    expect(cfg.postgresql.use_pg_rewind).toBe(true);
    expect(cfg.postgresql.parameters).toEqual({
      wal_level: 'replica',
      max_connections: 100,
      unix_socket_directories: '..',
      work_mem: '8MB',
    });
  });

  it('does not mutate the defaults or its input', () => {
    const data = { postgresql: { parameters: { a: 1 } } };
    dynamicConfigFrom(data, local);
    expect(data).toEqual({ postgresql: { parameters: { a: 1 } } });
    expect(dynamicDefaults.postgresql.parameters).toEqual({});
    expect(dynamicDefaults.ttl).toBe(30);
  });
});
