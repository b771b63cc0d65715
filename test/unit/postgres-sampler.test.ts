/**
 * The status sampler (src/runtime/postgres-sampler.ts, rules in src/cluster/sampling.ts): at
 * rest a full sample once a loop_wait and the postmaster's liveness in between (an idle agent's
 * CPU went into a sample a second); a sample equal to the last one delivered is not delivered
 * again within a loop_wait; a change is delivered at once; a sample asked for is always
 * delivered; one taken across a change never; a reader's fresh status is at most a second old
 * (a fifth of one for a replica that does not stream).
 */
import { describe, expect, it } from 'vitest';
import { notRunningStatus, type PostgresStatus } from '../../src/cluster/postgres-state.ts';
import { PostgresSampler, type SamplerHost } from '../../src/runtime/postgres-sampler.ts';

function host(statuses: () => PostgresStatus, opts: { synchronousMode?: boolean } = {}) {
  let now = 0;
  const delivered: PostgresStatus[] = [];
  const sampledByParams: PostgresStatus[] = [];
  const calls = { status: 0, liveness: 0 };
  let alive = true;
  let hang: Promise<never> | null = null;
  const timers = new Map<number, { at: number; fn: () => void }>();
  let nextTimer = 0;
  const h = {
    pg: {
      status: async () => {
        calls.status++;
        if (hang) await hang;
        return { ...statuses() };
      },
      postmasterRunning: async () => {
        calls.liveness++;
        return alive;
      },
    },
    params: {
      sampleBegins: () => 0,
      sampled: (s: PostgresStatus) => void sampledByParams.push(s),
    },
    actor: { send: (e: { status: PostgresStatus }) => void delivered.push(e.status) },
    closed: () => false,
    silent: () => false,
    log: () => {},
    clock: {
      now: () => now,
      setTimeout: (fn: () => void, ms: number) => {
        timers.set(++nextTimer, { at: now + ms, fn });
        return nextTimer;
      },
      clearTimeout: (id: unknown) => void timers.delete(id as number),
    },
    settings: () => ({ loop_wait: 10, synchronous_mode: opts.synchronousMode === true }),
  } as unknown as SamplerHost;
  return {
    sampler: new PostgresSampler(h),
    delivered,
    sampledByParams,
    calls,
    timers,
    setAlive: (a: boolean) => {
      alive = a;
    },
    /** status() never answers from now on. */
    hang: () => {
      hang = new Promise<never>(() => {});
    },
    advance: (ms: number) => {
      now += ms;
      for (const [id, t] of [...timers]) {
        if (t.at > now) continue;
        timers.delete(id);
        t.fn();
      }
    },
  };
}

const running: PostgresStatus = { ...notRunningStatus(), running: true, timeline: 1, currentLsn: 100 };

describe('the status sampler', () => {
  it("at rest the full sample comes once a loop_wait, the postmaster's liveness alone in between", async () => {
    const h = host(() => running);
    await h.sampler.check();
    expect(h.delivered).toHaveLength(1);
    for (let i = 0; i < 9; i++) {
      h.advance(1000);
      await h.sampler.check();
    }
    expect(h.calls).toEqual({ status: 1, liveness: 9 });
    expect(h.delivered).toHaveLength(1);
    // The status the agent reports is the one delivered, unchanged (same object: no rebuild).
    expect(h.sampler.last).toBe(h.delivered[0]);
    h.advance(1000);
    await h.sampler.check();
    expect(h.calls.status).toBe(2);
    // Equal, but a loop_wait after the last delivered: delivered again (the machines' heartbeat).
    expect(h.delivered).toHaveLength(2);
    expect(h.sampledByParams).toHaveLength(2);
  });

  it('a postmaster gone is seen at the next check: a full sample at once, delivered', async () => {
    let status = running;
    const h = host(() => status);
    await h.sampler.check();
    h.advance(1000);
    h.setAlive(false);
    status = notRunningStatus();
    await h.sampler.check();
    expect(h.calls.status).toBe(2);
    expect(h.delivered.at(-1)?.running).toBe(false);
    // Not running: every check is a full sample (it may be starting).
    h.advance(1000);
    await h.sampler.check();
    expect(h.calls.status).toBe(3);
  });

  it('not at rest, every check is a full sample: a primary in synchronous mode, a replica not streaming', async () => {
    const sync = host(() => running, { synchronousMode: true });
    const replica: PostgresStatus = {
      ...running,
      inRecovery: true,
      currentLsn: null,
      replicationState: null,
    };
    const notStreaming = host(() => replica);
    const streaming = host(() => ({ ...replica, replicationState: 'streaming' }));
    for (const h of [sync, notStreaming, streaming]) {
      for (let i = 0; i < 5; i++) {
        await h.sampler.check();
        h.advance(1000);
      }
    }
    expect(sync.calls.status).toBe(5);
    expect(notStreaming.calls.status).toBe(5);
    expect(streaming.calls).toEqual({ status: 1, liveness: 4 });
  });

  it('a reader asking for a fresh status gets a new sample when the last is over a second old, one for all', async () => {
    let status = running;
    const h = host(() => status);
    await h.sampler.check();
    await h.sampler.fresh();
    expect(h.calls.status).toBe(1);
    h.advance(1500);
    status = { ...running, currentLsn: 300 };
    await Promise.all([h.sampler.fresh(), h.sampler.fresh(), h.sampler.fresh()]);
    expect(h.calls.status).toBe(2);
    expect(h.sampler.last?.currentLsn).toBe(300);
    // The next periodic check finds it fresh: liveness only.
    h.advance(1000);
    await h.sampler.check();
    expect(h.calls).toEqual({ status: 2, liveness: 1 });
  });

  // A failover's check of a candidate reads it this way: a standby re-pointed a moment ago starts
  // streaming within about a second, and a sample from before that refused a fit candidate.
  it('a replica that does not stream is sampled anew for a reader after a fifth of a second', async () => {
    let status: PostgresStatus = { ...running, inRecovery: true, currentLsn: null, replicationState: null };
    const h = host(() => status);
    await h.sampler.check();
    h.advance(150);
    await h.sampler.fresh();
    expect(h.calls.status).toBe(1);
    h.advance(100);
    status = { ...status, replicationState: 'streaming', timeline: 2 };
    await h.sampler.fresh();
    expect(h.calls.status).toBe(2);
    expect(h.sampler.last).toMatchObject({ replicationState: 'streaming', timeline: 2 });
    // Streaming again: a second, as for the rest.
    h.advance(500);
    await h.sampler.fresh();
    expect(h.calls.status).toBe(2);
  });

  it('a sample that failed is not tried again by readers within a second (a load of health checks)', async () => {
    let failing = false;
    const h = host(() => {
      if (failing) throw new Error('the database system is starting up');
      return running;
    });
    await h.sampler.check();
    h.advance(1500);
    failing = true;
    await h.sampler.fresh();
    await h.sampler.fresh();
    await h.sampler.fresh();
    expect(h.calls.status).toBe(2);
    h.advance(1000);
    await h.sampler.fresh();
    expect(h.calls.status).toBe(3);
  });

  it('a server that does not answer holds a fresh-status reader a second at most', async () => {
    const h = host(() => running);
    await h.sampler.check();
    h.advance(2000);
    h.hang();
    let answered = false;
    const reading = h.sampler.fresh().then(() => {
      answered = true;
    });
    await Promise.resolve();
    expect(answered).toBe(false);
    h.advance(999);
    await Promise.resolve();
    expect(answered).toBe(false);
    h.advance(1);
    await reading;
    expect(answered).toBe(true);
    expect(h.sampler.last).toBe(h.delivered[0]);
    expect(h.timers.size).toBe(0);
  });

  it('a change is delivered at the next full sample, and a sample asked for always', async () => {
    let status = running;
    const h = host(() => status);
    await h.sampler.check();
    h.advance(1000);
    status = { ...running, currentLsn: 200 };
    await h.sampler.fresh();
    expect(h.delivered.map((s) => s.currentLsn)).toEqual([100, 200]);
    h.setAlive(false);
    h.advance(1000);
    status = { ...notRunningStatus() };
    await h.sampler.check();
    expect(h.delivered.at(-1)?.running).toBe(false);
    h.advance(1000);
    await h.sampler.poll();
    expect(h.delivered).toHaveLength(4);
  });
});
