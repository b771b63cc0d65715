/**
 * etcd with TLS and client certificates, and with users (`etcd3.protocol: https`, `cacert`,
 * `cert`, `key`, `username`, `password`), on a real etcd 3.4: both ways pgwarden speaks to etcd
 * (gRPC, the agent's; the JSON gateway, the CLI's) read and write with the right files and
 * password, and fail with a clear error — writing nothing — with a certificate from another CA or
 * a wrong password. Then agents on such an etcd: one with the right password bootstraps and
 * pgwarden's and the real patronictl's `list` show it alike; one with a wrong password says why
 * in its log, keeps trying, and writes nothing.
 */
import { execFile } from 'node:child_process';
import { chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DcsError } from '../../src/actors/dcs.ts';
import { EtcdDcs } from '../../src/actors/etcd-dcs.ts';
import { EtcdGatewayKv } from '../../src/actors/etcd-gateway.ts';
import { KvDcs } from '../../src/actors/kv-dcs/index.ts';
import { etcdClientOptions } from '../../src/config/etcd-access.ts';
import { readEtcd3 } from '../../src/config/sections.ts';
import { LocalCluster } from '../../src/local/cluster.ts';
import { lookupUser } from '../../src/local/os-user.ts';
import { type EtcdHandle, startEtcd } from '../helpers/etcd.ts';
import { makeTestCerts } from '../helpers/tls-certs.ts';

vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

const run = promisify(execFile);
const ETCDCTL = '/usr/bin/etcdctl';
const PATRONICTL = '/usr/bin/patronictl';
const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/pgwarden.js');
const PASSWORD = 'etcd-root-pw';

const certs = makeTestCerts();
// etcd's JSON gateway refuses a client certificate with a CommonName while users are on
// (CVE-2018-16886): a gateway client, patronictl's kind, needs one without.
// etcd's gateway dials etcd's own gRPC port with the server certificate: with client
// certificates required, that one must be good for clients too (etcd's security guide).
certs.issue(
  'etcd',
  'ca',
  'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
);
certs.issue('anon', 'ca', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n', '/O=pgwarden');
/** etcd over https only, requiring a client certificate from our CA, with users on. */
let secure: EtcdHandle;
/** etcd over http with users on. */
let users: EtcdHandle;

const tlsFlags = (client: 'client' | 'rogue' = 'client') => [
  '--cacert',
  certs.file('ca.crt'),
  '--cert',
  certs.file(`${client}.crt`),
  '--key',
  certs.file(`${client}.key`),
];

async function etcdctl(endpoint: string, args: string[], tls: boolean): Promise<string> {
  const { stdout } = await run(ETCDCTL, ['--endpoints', endpoint, ...(tls ? tlsFlags() : []), ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 10_000,
  });
  return stdout;
}

/** A root user with PASSWORD, and authentication on (etcd's own way, as an operator does it). */
async function enableUsers(endpoint: string, tls: boolean): Promise<void> {
  await etcdctl(endpoint, ['user', 'add', `root:${PASSWORD}`], tls);
  await etcdctl(endpoint, ['role', 'add', 'root'], tls);
  await etcdctl(endpoint, ['user', 'grant-role', 'root', 'root'], tls);
  await etcdctl(endpoint, ['auth', 'enable'], tls);
}

/** Every key under /service/ as root sees it. */
const keysOn = async (endpoint: string, tls: boolean) =>
  (
    await etcdctl(
      endpoint,
      ['--user', `root:${PASSWORD}`, 'get', '--prefix', '--keys-only', '/service/'],
      tls,
    )
  )
    .split('\n')
    .filter(Boolean);

beforeAll(async () => {
  secure = await startEtcd({
    tls: {
      cafile: certs.file('ca.crt'),
      certfile: certs.file('etcd.crt'),
      keyfile: certs.file('etcd.key'),
      client: { certfile: certs.file('client.crt'), keyfile: certs.file('client.key') },
    },
  });
  users = await startEtcd();
  await enableUsers(secure.endpoint, true);
  await enableUsers(users.endpoint, false);
});

afterAll(async () => {
  await secure?.stop();
  await users?.stop();
  certs.remove();
});

/** The etcd3 section a user writes, through the agent's own reading of it. */
function section(endpoint: string, extra: Record<string, unknown>) {
  const url = new URL(endpoint);
  return etcdClientOptions(
    readEtcd3({ etcd3: { host: url.host, protocol: url.protocol.slice(0, -1), ...extra } }),
  );
}

const BACKENDS: Array<
  [string, 'client' | 'anon', (access: ReturnType<typeof section>, scope: string) => KvDcs]
> = [
  [
    'gRPC (the agent)',
    'client',
    (access, scope) => new EtcdDcs({ ...access, namespace: 'service', scope, retryTimeoutSeconds: 2 }),
  ],
  [
    'JSON gateway (the CLI)',
    'anon',
    (access, scope) =>
      new KvDcs(new EtcdGatewayKv(access), { namespace: 'service', scope, retryTimeoutSeconds: 2 }),
  ],
];

describe.each(BACKENDS)('%s', (name, certificate, make) => {
  const scope = name.startsWith('gRPC') ? 'grpc' : 'gateway';
  const files = (client: 'client' | 'anon' | 'rogue' = certificate) => ({
    cacert: certs.file('ca.crt'),
    cert: certs.file(`${client}.crt`),
    key: certs.file(`${client}.key`),
  });
  const writeConfig = async (dcs: KvDcs) => {
    try {
      return await dcs.setConfig({ ttl: 30 });
    } finally {
      await dcs.close();
    }
  };

  it('https with a client certificate and a password: writes and reads', async () => {
    const dcs = make(
      section(secure.endpoint, { ...files(), username: 'root', password: PASSWORD }),
      `${scope}-tls`,
    );
    try {
      expect(await dcs.setConfig({ ttl: 30 })).toBe(true);
      expect((await dcs.getCluster()).config?.data).toEqual({ ttl: 30 });
    } finally {
      await dcs.close();
    }
    expect(await keysOn(secure.endpoint, true)).toContain(`/service/${scope}-tls/config`);
  });

  it('a certificate from another CA, no CA file, or a wrong password: a clear error and nothing written', async () => {
    const rogue = make(
      section(secure.endpoint, { ...files('rogue'), username: 'root', password: PASSWORD }),
      `${scope}-rogue`,
    );
    await expect(writeConfig(rogue)).rejects.toBeInstanceOf(DcsError);
    const noCa = make(
      section(secure.endpoint, {
        cert: certs.file(`${certificate}.crt`),
        key: certs.file(`${certificate}.key`),
        username: 'root',
        password: PASSWORD,
      }),
      `${scope}-noca`,
    );
    await expect(writeConfig(noCa)).rejects.toThrow();
    const wrong = make(
      section(secure.endpoint, { ...files(), username: 'root', password: 'wrong' }),
      `${scope}-wrong`,
    );
    await expect(writeConfig(wrong)).rejects.toThrow(/authentication failed, invalid user ID or password/);
    const keys = await keysOn(secure.endpoint, true);
    expect(keys.filter((k) => /-(rogue|noca|wrong)\//.test(k))).toEqual([]);
  });

  it('http with users: the right password writes, a wrong one is refused and writes nothing', async () => {
    expect(
      await writeConfig(
        make(section(users.endpoint, { username: 'root', password: PASSWORD }), `${scope}-users`),
      ),
    ).toBe(true);
    await expect(
      writeConfig(
        make(section(users.endpoint, { username: 'root', password: 'wrong' }), `${scope}-users-wrong`),
      ),
    ).rejects.toThrow(/authentication failed, invalid user ID or password/);
    await expect(writeConfig(make(section(users.endpoint, {}), `${scope}-users-none`))).rejects.toThrow(
      /user name is empty|permission denied/,
    );
    const keys = await keysOn(users.endpoint, false);
    expect(keys).toContain(`/service/${scope}-users/config`);
    expect(keys.filter((k) => /-users-(wrong|none)\//.test(k))).toEqual([]);
  });
});

describe('agents on an etcd with TLS, client certificates and users', () => {
  const SCOPE = 'etcdsec';
  let dir: string;
  let cluster: LocalCluster;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgwarden-etcdsec-'));
    // The agents run as the postgres OS user: their copies of the files are theirs.
    const pgUser = lookupUser('postgres');
    const own = (path: string) => {
      if (pgUser && process.getuid?.() === 0) chownSync(path, pgUser.uid, pgUser.gid);
    };
    const copy = (name: string) => {
      const to = join(dir, name);
      copyFileSync(certs.file(name), to);
      own(to);
      return to;
    };
    const files = { cacert: copy('ca.crt'), cert: copy('client.crt'), key: copy('client.key') };
    own(dir);
    cluster = new LocalCluster({
      dir,
      nodes: 2,
      scope: SCOPE,
      dcs: { ttl: 10, loop_wait: 2, retry_timeout: 4 },
      etcdEndpoints: [secure.endpoint],
      editConfig: (node, doc) => ({
        ...doc,
        etcd3: {
          hosts: new URL(secure.endpoint).host,
          protocol: 'https',
          ...files,
          username: 'root',
          // node2's password is wrong.
          password: node.index === 0 ? PASSWORD : 'wrong',
        },
      }),
    });
    await cluster.init();
    await cluster.startAll();
  });

  afterAll(async () => {
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the agent with the right password leads; pgwarden list reaches etcd as it does (a certificate with a CommonName: over gRPC)', async () => {
    const ok = await cluster.waitFor(
      (nodes) => nodes[0]!.status?.role === 'master' && nodes[0]!.status.state === 'running',
      90_000,
    );
    expect(ok).toBe(true);
    const ours = await run(process.execPath, [BIN, 'list', '-c', cluster.nodes[0]!.configFile], {
      timeout: 30_000,
    });
    expect(ours.stdout).toMatch(/\| node1 +\| 127\.0\.0\.1:\d+ \| Leader \| running \|/);
    expect(ours.stdout).not.toContain('node2');
  });

  it('against etcd with users, pgwarden list prints what the real patronictl 3.0.2 prints', async () => {
    const file = join(dir, 'ctl-users.yml');
    writeFileSync(
      file,
      `scope: gateway-users\netcd3:\n  host: ${new URL(users.endpoint).host}\n  username: root\n  password: ${PASSWORD}\n`,
    );
    const ours = await run(process.execPath, [BIN, 'list', '-c', file], { timeout: 30_000 });
    const theirs = await run(PATRONICTL, ['-c', file, 'list'], { timeout: 30_000 });
    expect(ours.stdout).toContain('Cluster: gateway-users');
    expect(ours.stdout).toBe(theirs.stdout);
  });

  it('the agent with a wrong password says why, keeps trying, and writes nothing', async () => {
    const log = () => readFileSync(cluster.nodes[1]!.logFile, 'utf8');
    const lines = (text: string) =>
      text.split('\n').filter((l) => l.includes('authentication failed')).length;
    expect(lines(log())).toBeGreaterThan(0);
    const before = lines(log());
    await new Promise((r) => setTimeout(r, 5000));
    expect(lines(log())).toBeGreaterThan(before);
    expect(cluster.isRunning('node2')).toBe(true);
    const keys = await keysOn(secure.endpoint, true);
    expect(keys).toContain(`/service/${SCOPE}/members/node1`);
    expect(keys.filter((k) => k.includes('node2'))).toEqual([]);
  });
});
