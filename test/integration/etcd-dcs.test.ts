import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DcsError } from '../../src/actors/dcs.ts';
import { EtcdDcs } from '../../src/actors/etcd-dcs.ts';
import { EtcdGatewayKv } from '../../src/actors/etcd-gateway.ts';
import { KvDcs, type KvDcsOptions } from '../../src/actors/kv-dcs/index.ts';
import type { ClusterView, MemberData } from '../../src/cluster/view.ts';
import { type EtcdHandle, startEtcd } from '../helpers/etcd.ts';
import { itWith, program } from '../helpers/prerequisites.ts';

const run = promisify(execFile);
const SCOPE = 'batman';
const P = `/service/${SCOPE}/`;

let etcd: EtcdHandle;
let raw: Etcd3;
const clients: KvDcs[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

// The same semantics over both ways to speak to etcd: gRPC (the agent) and the JSON gateway (the CLI).
const BACKENDS: Array<[string, (hosts: string[], opts: KvDcsOptions) => KvDcs]> = [
  ['EtcdDcs (gRPC)', (hosts, opts) => new EtcdDcs({ hosts, ...opts })],
  ['KvDcs over the JSON gateway', (hosts, opts) => new KvDcs(new EtcdGatewayKv({ hosts }), opts)],
];

async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// etcdctl reads back what we wrote, as another etcd v3 client (Patroni's, an operator's) sees it.
const ETCDCTL = '/usr/bin/etcdctl';
const withEtcdctl = [program(ETCDCTL, 'etcd-client')];

async function etcdctl(...args: string[]): Promise<string> {
  const { stdout } = await run(ETCDCTL, ['--endpoints', etcd.endpoint, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 10_000,
  });
  return stdout;
}

const rawGet = async (rel: string) => (await raw.kv.range({ key: Buffer.from(P + rel) })).kvs[0];

const member: MemberData = {
  conn_url: 'postgres://127.0.0.1:5432/postgres',
  api_url: 'http://127.0.0.1:8008/patroni',
  state: 'running',
  role: 'master',
  version: '3.0.2',
  xlog_location: 50331968,
  timeline: 1,
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  etcd = await startEtcd();
  raw = new Etcd3({ hosts: [etcd.endpoint] });
});

// Each test starts from an empty scope: a failing one leaves no leader key for the next to trip on.
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await raw.delete().prefix(P);
});

afterAll(async () => {
  raw?.close();
  await etcd?.stop();
  process.off('unhandledRejection', onUnhandled);
});

describe.each(BACKENDS)('%s against a real etcd', (_name, make) => {
  function dcs(retryTimeoutSeconds = 3): KvDcs {
    const d = make([etcd.endpoint], { namespace: 'service', scope: SCOPE, retryTimeoutSeconds });
    clients.push(d);
    return d;
  }

  itWith(withEtcdctl, 'lets exactly one of two racing nodes take the leader key, on its lease', async () => {
    const a = dcs();
    const b = dcs();
    const la = await a.ensureLease(10);
    const lb = await b.ensureLease(10);
    const [wa, wb] = await Promise.all([a.attemptToAcquireLeader('a'), b.attemptToAcquireLeader('b')]);
    expect([wa, wb].filter(Boolean)).toHaveLength(1);
    const [winner, lease] = wa ? ['a', la] : ['b', lb];
    const leader = await rawGet('leader');
    expect(leader?.value.toString()).toBe(winner);
    expect(String(leader?.lease)).toBe(lease);
    expect(await etcdctl('get', `${P}leader`, '--print-value-only')).toBe(`${winner}\n`);

    const owner = wa ? a : b;
    expect(await owner.touchMember(winner, { ...member })).toBe(true);
    const m = await rawGet(`members/${winner}`);
    expect(String(m?.lease)).toBe(lease);
    expect(await etcdctl('get', `${P}members/${winner}`, '--print-value-only')).toBe(
      '{"conn_url":"postgres://127.0.0.1:5432/postgres","api_url":"http://127.0.0.1:8008/patroni","state":"running","role":"master","version":"3.0.2","xlog_location":50331968,"timeline":1}\n',
    );

    expect(await owner.updateLeader(winner)).toBe(true);
    expect(owner.lastLeaseRefresh()).not.toBeNull();
    expect(await (wa ? b : a).updateLeader(wa ? 'b' : 'a')).toBe(false);
    expect(await owner.deleteLeader(winner, 67395656)).toBe(true);
    expect(await rawGet('leader')).toBeUndefined();
    expect(await etcdctl('get', `${P}status`, '--print-value-only')).toBe('{"optime":67395656}\n');
  });

  it('drops the keys of a node that stops refreshing within ttl plus a margin', async () => {
    const c = dcs();
    await c.ensureLease(3);
    expect(await c.attemptToAcquireLeader('c')).toBe(true);
    await c.touchMember('c', { ...member });
    const t0 = Date.now();
    await waitFor('leader key expiry', async () => !(await rawGet('leader')), 3_000 + 3_000);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(await rawGet('members/c')).toBeUndefined();
    expect(await c.refreshLease()).toBe(false);
    expect(await c.updateLeader('c')).toBe(false);
  });

  itWith(withEtcdctl, 'refuses a config write whose index is stale', async () => {
    const a = dcs();
    const b = dcs();
    await a.setConfig({ ttl: 30, loop_wait: 10 });
    const index = (await a.getCluster()).config!.index;
    expect(await a.setConfig({ ttl: 20 }, index)).toBe(true);
    expect(await b.setConfig({ ttl: 40 }, index)).toBe(false);
    expect(await etcdctl('get', `${P}config`, '--print-value-only')).toBe('{"ttl":20}\n');
  });

  // The short lease's early takeover removes the key only if it is still the one its proof is
  // about (the leader renews through etcd by writing it: a new mod revision), and revokes its lease.
  it('removes a stale leader only as proven: same holder, same mod revision; its lease revoked', async () => {
    const d = dcs();
    const lease = await d.ensureLease(30);
    expect(await d.attemptToAcquireLeader('d')).toBe(true);
    await d.touchMember('d', { ...member });
    const stale = (await d.getCluster()).leader!;
    // The key written again since (another mod revision, same holder and lease): not the key
    // the proof is about.
    await raw.kv.put({ key: Buffer.from(`${P}leader`), value: Buffer.from('d'), lease });
    const rewritten = (await d.getCluster()).leader!;
    expect(rewritten.index).not.toBe(stale.index);
    const other = dcs();
    expect(await other.removeStaleLeader(stale)).toBe(false);
    expect(await rawGet('leader')).toBeDefined();
    expect(await other.removeStaleLeader({ ...rewritten, name: 'someone-else' })).toBe(false);
    expect(await other.removeStaleLeader(rewritten)).toBe(true);
    expect(await rawGet('leader')).toBeUndefined();
    // Revoked with it: the member key is gone, and the old holder cannot keep the lease alive.
    expect(await rawGet('members/d')).toBeUndefined();
    expect(await d.refreshLease()).toBe(false);
  });

  it('watches: delivers new leaders, survives an etcd outage and recovers', async () => {
    const w = dcs(2);
    const l = dcs(2);
    const views: ClusterView[] = [];
    const errors: Error[] = [];
    const stop = w.watch(
      (v) => views.push(v),
      (e) => errors.push(e),
    );
    await waitFor('first view', () => views.length > 0, 5_000);
    await l.ensureLease(10);
    expect(await l.attemptToAcquireLeader('l')).toBe(true);
    await waitFor('view with leader l', () => views.at(-1)?.leader?.name === 'l', 5_000);

    const port = Number(new URL(etcd.endpoint).port);
    const dataDir = etcd.dataDir;
    await etcd.stop({ keepData: true });
    const t0 = Date.now();
    await expect(w.getCluster()).rejects.toBeInstanceOf(DcsError);
    await expect(l.updateLeader('l')).rejects.toBeInstanceOf(DcsError);
    expect(Date.now() - t0).toBeLessThan(2 * 2_000 + 1_000);
    await waitFor('watch error', () => errors.length > 0, 5_000);

    const restarted = await startEtcd({ dataDir, clientPort: port });
    const oldStop = etcd.stop;
    etcd = {
      ...restarted,
      // Both handles hear keepData: the first owns the data dir, and would remove it otherwise.
      stop: async (opts) => {
        await restarted.stop(opts);
        await oldStop(opts);
      },
    };
    await waitFor(
      'leader key back after restart',
      async () => (await rawGet('leader'))?.value.toString() === 'l',
      10_000,
    );
    await l.deleteLeader('l');
    const q = dcs(2);
    await q.ensureLease(10);
    expect(await q.attemptToAcquireLeader('q')).toBe(true);
    await waitFor('watch recovered with leader q', () => views.at(-1)?.leader?.name === 'q', 10_000);
    stop();
    expect(unhandled).toEqual([]);
  });
});
