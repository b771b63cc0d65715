/**
 * The status sampler (src/runtime/postgres-sampler.ts): a periodic sample equal to the last one
 * delivered is not delivered again within a loop_wait (an idle agent's CPU went there); a change
 * is delivered at once; a sample asked for is always delivered; one taken across a change never.
 */
import { describe, expect, it } from 'vitest';
import { notRunningStatus, type PostgresStatus } from '../../src/cluster/postgres-state.ts';
import { PostgresSampler, type SamplerHost } from '../../src/runtime/postgres-sampler.ts';

function host(statuses: () => PostgresStatus) {
  let now = 0;
  const delivered: PostgresStatus[] = [];
  const sampledByParams: PostgresStatus[] = [];
  const h = {
    pg: { status: async () => ({ ...statuses() }) },
    params: {
      sampleBegins: () => 0,
      sampled: (s: PostgresStatus) => void sampledByParams.push(s),
    },
    actor: { send: (e: { status: PostgresStatus }) => void delivered.push(e.status) },
    closed: () => false,
    silent: () => false,
    log: () => {},
    clock: { now: () => now },
    settings: () => ({ loop_wait: 10 }),
  } as unknown as SamplerHost;
  return {
    sampler: new PostgresSampler(h),
    delivered,
    sampledByParams,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const running: PostgresStatus = { ...notRunningStatus(), running: true, timeline: 1, currentLsn: 100 };

describe('the status sampler', () => {
  it('a periodic sample equal to the last delivered is not delivered again until a loop_wait has passed', async () => {
    const h = host(() => running);
    await h.sampler.check();
    expect(h.delivered).toHaveLength(1);
    for (let i = 0; i < 9; i++) {
      h.advance(1000);
      await h.sampler.check();
    }
    expect(h.delivered).toHaveLength(1);
    // The server-parameters machine still sees every sample (it filters them itself).
    expect(h.sampledByParams).toHaveLength(10);
    // The status the agent reports is the one delivered, unchanged (same object: no rebuild).
    expect(h.sampler.last).toBe(h.delivered[0]);
    h.advance(1000);
    await h.sampler.check();
    expect(h.delivered).toHaveLength(2);
  });

  it('a change is delivered at the next sample, and a sample asked for always', async () => {
    let status = running;
    const h = host(() => status);
    await h.sampler.check();
    h.advance(1000);
    status = { ...running, currentLsn: 200 };
    await h.sampler.check();
    expect(h.delivered.map((s) => s.currentLsn)).toEqual([100, 200]);
    h.advance(1000);
    status = { ...notRunningStatus() };
    await h.sampler.check();
    expect(h.delivered.at(-1)?.running).toBe(false);
    h.advance(1000);
    await h.sampler.poll();
    expect(h.delivered).toHaveLength(4);
  });
});
