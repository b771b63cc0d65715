import { describe, expect, it } from 'vitest';
import {
  ackOrGiveUp,
  etcdHalfHolds,
  FENCE_BUDGET_MS,
  giveUpAfterMs,
  gossipHalfHolds,
  isMajority,
  MAX_CLOCK_DRIFT,
  memberHoldMs,
  writableForMs,
} from '../../src/cluster/short-lease.ts';

/** Every subset of `names`. */
function subsets(names: readonly string[]): string[][] {
  const out: string[][] = [[]];
  for (const n of names) for (const s of [...out]) out.push([...s, n]);
  return out;
}

describe('short lease: who may renew and who may prove it gone', () => {
  it('every quorum the leader can count meets every set that proves it given up (1 to 6 members)', () => {
    for (let size = 1; size <= 6; size++) {
      const members = Array.from({ length: size }, (_, i) => `m${i}`);
      const leader = 'm0';
      const term = { leader, lease: '7' };
      const leaderQuorums = subsets(members).filter(
        (q) => q.includes(leader) && isMajority(members, new Set(q)),
      );
      const proofs = subsets(members.slice(1)).filter((g) =>
        gossipHalfHolds({ term, members, gaveUp: [...g], leaseMs: 2000 }),
      );
      for (const q of leaderQuorums)
        for (const g of proofs)
          expect(
            g.some((n) => q.includes(n)),
            `${size}: ${q} vs ${g}`,
          ).toBe(true);
      // And the proof is not harder than it must be: ⌈n/2⌉ of the others suffice (none alone).
      if (size >= 2) expect(proofs.some((g) => g.length === Math.ceil(size / 2))).toBe(true);
      else expect(proofs).toEqual([]);
    }
  });

  it('the leader never counts toward its own give-up, and a term whose members are unknown proves nothing', () => {
    const term = { leader: 'a', lease: '7' };
    expect(gossipHalfHolds({ term, members: ['a', 'b', 'c'], gaveUp: ['a', 'b'], leaseMs: 2000 })).toBe(
      false,
    );
    expect(gossipHalfHolds({ term, members: ['a', 'b', 'c'], gaveUp: ['b', 'c'], leaseMs: 2000 })).toBe(true);
    expect(gossipHalfHolds({ term, members: [], gaveUp: ['b', 'c'], leaseMs: 2000 })).toBe(false);
    // Members that the term does not name do not count.
    expect(gossipHalfHolds({ term, members: ['a', 'b', 'c'], gaveUp: ['b', 'x'], leaseMs: 2000 })).toBe(
      false,
    );
  });

  it('a member gives up only after W, which outlasts the lease on any clock within the drift bound', () => {
    for (const leaseMs of [1000, 2000, 2500, 10_000]) {
      const w = giveUpAfterMs(leaseMs);
      // The fastest member clock against the slowest leader clock: the member's W in real time
      // still ends after the leader's lease in real time.
      const memberRealW = w / (1 + MAX_CLOCK_DRIFT);
      const leaderRealLease = leaseMs / (1 - MAX_CLOCK_DRIFT);
      expect(memberRealW).toBeGreaterThan(leaderRealLease);
      expect(writableForMs(leaseMs, 0)).toBe(leaseMs - FENCE_BUDGET_MS);
    }
  });

  it('acks while the term is heard, gives up once W has passed, and never acks again', () => {
    const lease = 2000;
    const w = giveUpAfterMs(lease);
    const heard = { lastHeardAt: 1000, givenUp: false, holdMs: lease };
    expect(ackOrGiveUp(null, 0)).toBe('ack');
    expect(ackOrGiveUp(heard, 1000 + w - 1)).toBe('ack');
    expect(ackOrGiveUp(heard, 1000 + w)).toBe('give-up');
    expect(ackOrGiveUp({ ...heard, lastHeardAt: 5000, givenUp: true }, 5001)).toBe('given-up');
  });

  it("with a watchdog armed on the leader's host, members never give the term up early", () => {
    const lease = 3000;
    expect(memberHoldMs(lease, null)).toBe(lease);
    expect(memberHoldMs(lease, 25_000)).toBeNull();
    expect(ackOrGiveUp({ lastHeardAt: 0, givenUp: false, holdMs: null }, 10 * 60_000)).toBe('ack');
  });

  it("etcd's half: the leader key unchanged for W, by the candidate's own clock", () => {
    const w = giveUpAfterMs(2000);
    expect(etcdHalfHolds(2000, w - 1)).toBe(false);
    expect(etcdHalfHolds(2000, w)).toBe(true);
  });
});
