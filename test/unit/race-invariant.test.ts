import { describe, expect, it } from 'vitest';
import type { CandidateWitness, RaceWitness } from '../../src/testing/cluster/race-witness.ts';
import { passedOver } from '../../src/testing/invariants/race.ts';

const peer = (over: Partial<CandidateWitness> = {}): CandidateWitness => ({
  name: 'node2',
  reachable: true,
  member: true,
  replica: true,
  nofailover: false,
  timeline: 2,
  lsn: 500,
  moving: false,
  ...over,
});
const race = (others: CandidateWitness[], over: Partial<RaceWitness> = {}): RaceWitness => ({
  node: 'node1',
  at: 1000,
  timeline: 2,
  lsn: 400,
  others,
  requested: false,
  sync: null,
  ...over,
});

describe('the race witness: a better candidate passed over', () => {
  it('is a reachable member replica, fit, on the racer’s timeline, further ahead', () => {
    expect(passedOver(race([peer()]))?.name).toBe('node2');
  });

  it.each<[string, Partial<CandidateWitness>]>([
    ['not reachable through the probe', { reachable: false }],
    ['not a member', { member: false }],
    ['not a replica (or came up during the probe)', { replica: false }],
    ['tagged nofailover', { nofailover: true }],
    ['on another timeline', { timeline: 1 }],
    ['not ahead', { lsn: 400 }],
    ['still streaming from a writable orphan (its position moved since it was asked)', { moving: true }],
  ])('is not one when %s', (_, over) => {
    expect(passedOver(race([peer(over)]))).toBeNull();
  });

  it('a named candidate defers to no one; in synchronous mode only /sync standbys count', () => {
    expect(passedOver(race([peer()], { requested: true }))).toBeNull();
    expect(passedOver(race([peer()], { sync: { leader: 'node3', standbys: ['node1'] } }))).toBeNull();
    expect(
      passedOver(race([peer()], { sync: { leader: 'node3', standbys: ['node1', 'node2'] } }))?.name,
    ).toBe('node2');
  });
});
