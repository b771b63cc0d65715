import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { DcsError } from '../../src/actors/dcs.ts';
import type { ClusterView, MemberData } from '../../src/cluster/view.ts';
import { MemoryDcs, MemoryEtcd } from '../../src/testing/memory-dcs.ts';
import type { WatchEvent } from '../../src/transport/etcd-keys.ts';

const P = '/service/batman/';
/** Lets queued microtasks (watch deliveries, chained awaits) run. */
const settle = () => new Promise((r) => setTimeout(r, 0));

const member = (role: 'master' | 'replica'): MemberData => ({
  conn_url: 'postgres://127.0.0.1:5432/postgres',
  api_url: 'http://127.0.0.1:8008/patroni',
  state: 'running',
  role,
  version: '3.0.2',
});

let clock: SimulatedClock;
let store: MemoryEtcd;
const open: MemoryDcs[] = [];

function node(): MemoryDcs {
  const dcs = new MemoryDcs({ store, namespace: 'service', scope: 'batman', retryTimeoutSeconds: 10 });
  open.push(dcs);
  return dcs;
}

function setup(latencyMs = 0) {
  clock = new SimulatedClock();
  store = new MemoryEtcd({ clock, latencyMs });
}

afterEach(async () => {
  for (const d of open.splice(0)) await d.close();
});

describe('MemoryEtcd', () => {
  it('tracks revisions and compares like etcd', () => {
    setup();
    const r1 = store.put('/a', '1');
    const r2 = store.put('/a', '2');
    expect(Number(r2)).toBe(Number(r1) + 1);
    const kv = store.get('/a')!;
    expect(kv).toMatchObject({ value: '2', createRevision: r1, modRevision: r2 });
    expect(store.txn({ compare: [{ key: '/a', target: 'mod', equals: r1 }], success: [] }).succeeded).toBe(
      false,
    );
    expect(
      store.txn({ compare: [{ key: '/b', target: 'create', equals: '0' }], success: [] }).succeeded,
    ).toBe(true);
    const before = store.currentRevision();
    store.txn({
      compare: [{ key: '/a', target: 'value', equals: 'x' }],
      success: [{ delete: { key: '/a' } }],
    });
    expect(store.currentRevision()).toBe(before);
  });

  it('evaluates nested compares against the state before the txn', () => {
    setup();
    const res = store.txn({
      compare: [{ key: '/k', target: 'value', equals: 'me' }],
      success: [],
      failure: [
        { put: { key: '/k', value: 'x' } },
        {
          txn: {
            compare: [{ key: '/k', target: 'create', equals: '0' }],
            success: [{ put: { key: '/j', value: 'y' } }],
          },
        },
      ],
    });
    expect(res.succeeded).toBe(false);
    expect(res.nested[1]?.succeeded).toBe(true);
    expect(store.get('/j')?.value).toBe('y');
  });

  it('expires leases on the clock and deletes their keys in one revision', () => {
    setup();
    const lease = store.leaseGrant(10);
    store.put('/x', '1', lease);
    store.put('/y', '1', lease);
    clock.increment(9_000);
    expect(store.leaseKeepAlive(lease)).toBe(10);
    clock.increment(9_000);
    expect(store.keys()).toEqual(['/x', '/y']);
    const before = Number(store.currentRevision());
    clock.increment(1_001);
    expect(store.keys()).toEqual([]);
    expect(Number(store.currentRevision())).toBe(before + 1);
    expect(store.leaseKeepAlive(lease)).toBe(0);
  });

  it('delivers watch events in order, also with latency, and replays from a revision', async () => {
    setup(5);
    const seen: string[] = [];
    const start = store.put('/w/a', '0');
    store.watch(
      '/w/',
      start,
      (events: WatchEvent[]) => seen.push(...events.map((e) => `${e.type}:${e.kv.key}=${e.kv.value}`)),
      () => {},
    );
    store.put('/w/a', '1');
    store.put('/other', 'x');
    store.delete('/w/a');
    clock.increment(5);
    expect(seen).toEqual(['put:/w/a=0', 'put:/w/a=1', 'delete:/w/a=']);
  });
});

describe('MemoryDcs', () => {
  it('lets exactly one node win the leader race, on its lease', async () => {
    setup();
    const a = node();
    const b = node();
    const la = await a.ensureLease(30);
    await b.ensureLease(30);
    const [wa, wb] = await Promise.all([a.attemptToAcquireLeader('a'), b.attemptToAcquireLeader('b')]);
    expect([wa, wb].filter(Boolean)).toHaveLength(1);
    const winner = wa ? 'a' : 'b';
    expect(store.get(`${P}leader`)).toMatchObject({ value: winner });
    if (wa) expect(store.get(`${P}leader`)?.lease).toBe(la);
    expect(await (wa ? b : a).updateLeader(wa ? 'b' : 'a')).toBe(false);
    expect(await (wa ? a : b).updateLeader(winner)).toBe(true);
  });

  it("a new ttl: the leader's key moves onto a lease of that ttl at the leader's refresh, not before", async () => {
    setup();
    const a = node();
    const b = node();
    const la = await a.ensureLease(30);
    const lb = await b.ensureLease(30);
    expect(await a.attemptToAcquireLeader('a')).toBe(true);
    a.setTtl(10);
    b.setTtl(10);
    // Nothing behind the election's back: the key and the member key stay on the old lease.
    expect(await a.ensureLease(10)).toBe(la);
    expect(await a.touchMember('a', member('master'))).toBe(true);
    expect(store.get(`${P}members/a`)?.lease).toBe(la);
    expect(a.leaseTtlSeconds()).toBe(30);
    // The refresh grants the new lease and moves the key in the same step.
    expect(await a.updateLeader('a', { ttl: 10 })).toBe(true);
    const moved = store.get(`${P}leader`)!.lease;
    expect(moved).not.toBe(la);
    expect(store.leaseTtl(moved)).toBe(10);
    expect(a.leaseTtlSeconds()).toBe(10);
    // A replica holds no key: its next write gets a new lease at once.
    const nb = await b.ensureLease(10);
    expect(nb).not.toBe(lb);
    expect(store.leaseTtl(nb)).toBe(10);
  });

  it('loses the keys when the lease is not refreshed', async () => {
    setup();
    const a = node();
    await a.ensureLease(30);
    await a.attemptToAcquireLeader('a');
    await a.touchMember('a', member('master'));
    clock.increment(20_000);
    expect(await a.updateLeader('a')).toBe(true);
    expect(a.lastLeaseRefresh()).toBe(20_000);
    clock.increment(30_001);
    expect(store.keys(P)).toEqual([]);
    expect(await a.refreshLease()).toBe(false);
    expect(await a.updateLeader('a')).toBe(false);
    const view = await a.getCluster();
    expect(view.leader).toBeNull();
  });

  // The twin of the real etcd test (test/integration/etcd-dcs.test.ts).
  it('removes a stale leader only as proven: same holder, same mod revision; its lease revoked', async () => {
    setup();
    const a = node();
    const b = node();
    const lease = await a.ensureLease(30);
    expect(await a.attemptToAcquireLeader('a')).toBe(true);
    await a.touchMember('a', member('master'));
    const stale = (await b.getCluster()).leader!;
    store.put(`${P}leader`, 'a', lease);
    const rewritten = (await b.getCluster()).leader!;
    expect(rewritten.index).not.toBe(stale.index);
    expect(await b.removeStaleLeader(stale)).toBe(false);
    expect(await b.removeStaleLeader({ ...rewritten, name: 'b' })).toBe(false);
    expect(await b.removeStaleLeader(rewritten)).toBe(true);
    expect(store.get(`${P}leader`)).toBeUndefined();
    expect(store.get(`${P}members/a`)).toBeUndefined();
    expect(await a.refreshLease()).toBe(false);
  });

  // Found by the simulator (failsafe seed 175 with a refresh schedule of its own): a leader cut
  // from etcd past the ttl came back, and its member key never did — its replicas had no one to
  // follow. The put on the lease etcd had expired failed and was not tried on a new lease.
  it('puts the member key back on a new lease when etcd expired ours meanwhile', async () => {
    setup();
    const a = node();
    const old = await a.ensureLease(30);
    expect(await a.touchMember('a', member('master'))).toBe(true);
    clock.increment(30_001);
    expect(store.get(`${P}members/a`)).toBeUndefined();
    expect(await a.touchMember('a', member('master'))).toBe(true);
    const back = store.get(`${P}members/a`);
    expect(back?.lease).toBeDefined();
    expect(back?.lease).not.toBe(old);
    expect(store.leaseTtl(back!.lease!)).toBe(30);
  });

  // The holder's refresh (recreate) also creates an absent key; a reclaim never does.
  for (const recreate of [true, false]) {
    it(`re-attaches the leader key to a new lease (value compare)${recreate ? ' and creates it when absent' : ', a reclaim never creates it'}`, async () => {
      setup();
      const a = node();
      const old = await a.ensureLease(30);
      store.put(`${P}leader`, 'a', old);
      a.setTtl(20);
      const fresh = await a.ensureLease(20);
      expect(fresh).not.toBe(old);
      expect(store.leaseTtl(fresh)).toBe(20);
      expect(await a.updateLeader('a', { recreate })).toBe(true);
      expect(store.get(`${P}leader`)?.lease).toBe(fresh);
      store.delete(`${P}leader`);
      expect(await a.updateLeader('a', { recreate })).toBe(recreate);
      expect(store.get(`${P}leader`)?.value).toBe(recreate ? 'a' : undefined);
      if (recreate) {
        // Back on a lease granted for it, not the one it rode on: a member that removed it by a
        // proof revokes that one next, and must not take the put-back key with it.
        const back = store.get(`${P}leader`)!.lease!;
        expect(back).not.toBe(fresh);
        await store.leaseRevoke(fresh);
        expect(store.get(`${P}leader`)?.value).toBe('a');
      }
    });
  }

  it('a refresh that still sees its key never puts it back once removed: the remover revokes its lease next', async () => {
    // Fast failover: a member removes a proven-stale leader's key (a compared delete), then
    // revokes the term's lease. The old leader's refresh, sent before its watch showed the
    // delete, once put the key back on that very lease; a reclaim trusted it, the revoke deleted
    // it, the remover took the lock: two holders (found by a review).
    setup(1000);
    const a = node();
    /** Time goes by in half seconds, each call and watch delivery taking one second. */
    const pass = async (ms: number) => {
      for (let t = 0; t < ms; t += 500) {
        clock.increment(500);
        for (let i = 0; i < 5; i++) await settle();
      }
    };
    const stop = a.watch(() => {});
    const granted = a.ensureLease(30);
    await pass(2000);
    const term = await granted;
    store.put(`${P}leader`, 'a', term);
    await pass(2000); // the watch shows the key
    let answer: boolean | null = null;
    void a.updateLeader('a', { recreate: true, write: true }).then((ok) => {
      answer = ok;
    });
    await pass(500);
    store.delete(`${P}leader`); // the removal lands; the watch shows it only a second later
    await pass(5000);
    expect(answer).toBe(false);
    store.leaseRevoke(term);
    expect(store.get(`${P}leader`)).toBeUndefined();
    stop();
  });

  it('a lock taken again is never taken on a lease an earlier term of ours rode on', async () => {
    // A member removed our key by a proof and is about to revoke the term's lease; we race and
    // win in between. On the old lease the revoke would delete our new key, the remover would
    // take the lock while we trusted ours (found by a review).
    setup();
    const a = node();
    const term = await a.ensureLease(30);
    expect(await a.attemptToAcquireLeader('a')).toBe(true);
    expect(store.get(`${P}leader`)?.lease).toBe(term);
    store.delete(`${P}leader`);
    expect(await a.attemptToAcquireLeader('a')).toBe(true);
    expect(store.get(`${P}leader`)?.lease).not.toBe(term);
    store.leaseRevoke(term);
    expect(store.get(`${P}leader`)?.value).toBe('a');
    const b = node();
    await b.ensureLease(30);
    expect(await b.attemptToAcquireLeader('b')).toBe(false);
  });

  it('/sync changes only for the holder of the leader key, and only from the revision it saw', async () => {
    setup();
    const a = node();
    const b = node();
    await a.ensureLease(30);
    await b.ensureLease(30);
    expect(await a.attemptToAcquireLeader('a')).toBe(true);
    // b is not the leader (a deposed leader that has not noticed yet): refused.
    expect(await b.setSyncState('b', [], undefined)).toBe(false);
    expect(store.get(`${P}sync`)).toBeUndefined();
    expect(await a.setSyncState('a', [], undefined)).toBe(true);
    // Without an index the key must not exist yet; with a stale one the compare fails.
    expect(await a.setSyncState('a', ['b'], undefined)).toBe(false);
    const index = (await a.getCluster()).sync!.index;
    expect(await a.setSyncState('a', ['b'], index)).toBe(true);
    expect(await a.setSyncState('a', [], index)).toBe(false);
    expect((await a.getCluster()).sync).toMatchObject({ leader: 'a', sync_standby: ['b'] });
  });

  it('deletes only its own leader key and writes the last optime first', async () => {
    setup();
    const a = node();
    const b = node();
    await a.ensureLease(30);
    await a.attemptToAcquireLeader('a');
    expect(await b.deleteLeader('b')).toBe(false);
    expect(await a.deleteLeader('a', 1234)).toBe(true);
    expect(store.get(`${P}leader`)).toBeUndefined();
    expect(store.get(`${P}status`)?.value).toBe('{"optime":1234}');
  });

  it('skips unchanged member writes while the watch shows etcd has them', async () => {
    setup();
    const a = node();
    const stop = a.watch(() => {});
    await settle();
    await a.ensureLease(30);
    await a.touchMember('a', member('replica'));
    const rev = store.get(`${P}members/a`)!.modRevision;
    await a.touchMember('a', member('replica'));
    expect(store.get(`${P}members/a`)!.modRevision).toBe(rev);
    await a.touchMember('a', member('master'));
    expect(store.get(`${P}members/a`)!.modRevision).not.toBe(rev);
    stop();
  });

  it('writes an unchanged member key again when no watch shows what etcd has', async () => {
    setup();
    const a = node();
    await a.ensureLease(30);
    await a.touchMember('a', member('replica'));
    const rev = store.get(`${P}members/a`)!.modRevision;
    await a.touchMember('a', member('replica'));
    expect(store.get(`${P}members/a`)!.modRevision).not.toBe(rev);
  });

  it('does CAS on config by mod_revision and the bootstrap race', async () => {
    setup();
    const a = node();
    const b = node();
    expect(await a.initialize()).toBe(true);
    expect(await b.initialize()).toBe(false);
    expect(store.get(`${P}initialize`)?.value).toBe('');
    await a.setInitialize('7268616322854375442');
    await a.setConfig({ ttl: 30 });
    const index = (await a.getCluster()).config!.index;
    expect(await a.setConfig({ ttl: 40 }, index)).toBe(true);
    expect(await b.setConfig({ ttl: 50 }, index)).toBe(false);
    expect(store.get(`${P}config`)?.value).toBe('{"ttl":40}');
    expect(await a.cancelInitialization()).toBe(true);
    expect(store.get(`${P}initialize`)).toBeUndefined();
  });

  it('watch emits frozen views after own writes and others’ changes', async () => {
    setup();
    const a = node();
    const b = node();
    const views: ClusterView[] = [];
    const stop = a.watch((v) => views.push(v));
    await settle();
    expect(views).toHaveLength(1);
    await a.ensureLease(30);
    await a.touchMember('a', member('replica'));
    expect(views.at(-1)!.members.map((m) => m.name)).toEqual(['a']);
    const count = views.length;
    await settle();
    expect(views).toHaveLength(count);
    await b.ensureLease(30);
    await b.attemptToAcquireLeader('b');
    await settle();
    expect(views.at(-1)!.leader?.name).toBe('b');
    expect(Object.isFrozen(views.at(-1))).toBe(true);
    stop();
  });

  it('rejects with DcsError while etcd is unavailable and the watch recovers', async () => {
    setup();
    const a = node();
    const b = node();
    const views: ClusterView[] = [];
    const errors: Error[] = [];
    a.watch(
      (v) => views.push(v),
      (e) => errors.push(e),
    );
    await settle();
    store.setAvailable(false);
    await expect(a.getCluster()).rejects.toBeInstanceOf(DcsError);
    await expect(a.ensureLease(30)).rejects.toBeInstanceOf(DcsError);
    expect(errors.length).toBeGreaterThan(0);
    clock.increment(100);
    await settle();
    store.setAvailable(true);
    await b.ensureLease(30);
    await b.attemptToAcquireLeader('b');
    for (let i = 0; i < 10 && views.at(-1)?.leader?.name !== 'b'; i++) {
      clock.increment(2_000);
      await settle();
    }
    expect(views.at(-1)?.leader?.name).toBe('b');
  });

  it('bounds calls by retryTimeout when the store is slow', async () => {
    setup(15_000);
    const a = node();
    const p = a.getCluster();
    const check = expect(p).rejects.toBeInstanceOf(DcsError);
    clock.increment(10_000);
    await check;
  });
});
