/**
 * The tags of later Patroni 3.x: failover_priority (3.2) and nostream (3.3) — how they are read
 * from the YAML and from a member key, how the leader race weighs the priority, and that a
 * nostream member gets no slot.
 */
import { describe, expect, it } from 'vitest';
import { judgeHealthiest, type LocalFacts, type PeerStatus } from '../../src/cluster/eligibility.ts';
import { failoverPriorityOf, nofailoverOf, nostreamOf } from '../../src/cluster/tags.ts';
import { cascadeSlots, desiredSlots } from '../../src/cluster/topology.ts';
import { type ClusterView, emptyClusterView } from '../../src/cluster/view.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { member, memberWith } from '../helpers/members.ts';
import { MINIMAL_CONFIG } from '../helpers/minimal-config.ts';

const withTags = (tags: string) => parseConfigText(`${MINIMAL_CONFIG}tags: ${tags}\n`).tags;

describe('reading the tags', () => {
  it('failover_priority: 1 by default; 0 or less is nofailover unless nofailover says otherwise', () => {
    expect(withTags('{}')).toMatchObject({ nofailover: false, failover_priority: 1, nostream: false });
    expect(withTags('{failover_priority: 5}')).toMatchObject({ nofailover: false, failover_priority: 5 });
    expect(withTags('{failover_priority: 0}')).toMatchObject({ nofailover: true, failover_priority: 0 });
    expect(withTags('{failover_priority: 0, nofailover: false}')).toMatchObject({
      nofailover: false,
      failover_priority: 0,
    });
    expect(withTags('{failover_priority: 3, nofailover: true}')).toMatchObject({
      nofailover: true,
      failover_priority: 0,
    });
    expect(withTags("{failover_priority: '2'}").failover_priority).toBe(2);
    expect(() => withTags('{failover_priority: high}')).toThrow(
      /tags\.failover_priority: must be an integer/,
    );
  });

  it('publishes them as Patroni does: the priority as given, nofailover beside it when it was given', () => {
    expect(withTags('{failover_priority: 0}').published).toEqual({ failover_priority: 0 });
    expect(withTags('{failover_priority: 0, nofailover: false}').published).toEqual({
      failover_priority: 0,
      nofailover: false,
    });
    expect(withTags('{nostream: true}').published).toEqual({ nostream: true });
  });

  it('from a member key, by the same rules', () => {
    expect(nofailoverOf({ failover_priority: 0 })).toBe(true);
    expect(nofailoverOf({ failover_priority: '-1' })).toBe(true);
    expect(nofailoverOf({ failover_priority: 0, nofailover: false })).toBe(false);
    expect(nofailoverOf({ nofailover: 'yes' })).toBe(true);
    expect(nofailoverOf(undefined)).toBe(false);
    expect(failoverPriorityOf({ failover_priority: 7 })).toBe(7);
    expect(failoverPriorityOf({ failover_priority: 7, nofailover: true })).toBe(0);
    expect(failoverPriorityOf({})).toBe(1);
    expect(nostreamOf({ nostream: 'true' })).toBe(true);
    expect(nostreamOf({})).toBe(false);
  });

  it('postgresql.recovery_conf: every standby’s recovery settings', () => {
    const config = parseConfigText(
      `${MINIMAL_CONFIG}  recovery_conf: {restore_command: 'cp /a/%f %p', recovery_min_apply_delay: 0}\n`,
    );
    expect(config.postgresql.recovery_conf).toEqual({
      restore_command: 'cp /a/%f %p',
      recovery_min_apply_delay: '0',
    });
  });
});

describe('failover_priority in the leader race', () => {
  const settings = { maximum_lag_on_failover: 1048576, check_timeline: false, synchronous_mode: false };
  const me: LocalFacts = {
    name: 'a',
    running: true,
    inRecovery: true,
    walPosition: 5000,
    timeline: 1,
    nofailover: false,
    failoverPriority: 1,
    streaming: true,
  };
  const peer = (walPosition: number): PeerStatus => ({
    name: 'b',
    reachable: true,
    inRecovery: true,
    walPosition,
    timeline: 1,
    nofailover: false,
    watchdogFailed: false,
  });
  const view = (bTags: Record<string, unknown>, leader: string | null = null): ClusterView => ({
    ...emptyClusterView,
    leader: leader ? { name: leader, index: '1', session: '1' } : null,
    members: [member('a'), memberWith('b', { tags: bTags })],
  });

  it('a peer as far along with a higher priority wins; one behind, or not preferred, does not', () => {
    expect(judgeHealthiest(view({ failover_priority: 5 }), me, [peer(5000)], settings)).toEqual({
      healthiest: false,
      reason: 'b has equally tolerable WAL position and priority 5, while this node has priority 1',
    });
    expect(judgeHealthiest(view({ failover_priority: 5 }), me, [peer(4999)], settings).healthiest).toBe(true);
    expect(judgeHealthiest(view({ failover_priority: 1 }), me, [peer(5000)], settings).healthiest).toBe(true);
    expect(judgeHealthiest(view({}), { ...me, failoverPriority: 3 }, [peer(5000)], settings).healthiest).toBe(
      true,
    );
  });

  it('failsafe mode: a peer /failsafe leaves out may not take over, so nobody waits for it', () => {
    const failsafe = {
      ...view({ failover_priority: 5 }),
      failsafe: { a: 'http://a:8008/patroni', x: 'http://x:8008/patroni' },
    };
    const on = { ...settings, failsafe_mode: true };
    expect(judgeHealthiest(failsafe, me, [peer(5000)], on).healthiest).toBe(true);
  });

  it('the former leader’s priority is ignored: it is the one being replaced', () => {
    expect(judgeHealthiest(view({ failover_priority: 5 }, 'b'), me, [peer(5000)], settings).healthiest).toBe(
      true,
    );
  });
});

describe('nostream', () => {
  const view: ClusterView = {
    ...emptyClusterView,
    leader: { name: 'a', index: '1', session: '1' },
    members: [
      member('a'),
      memberWith('b', { tags: { nostream: true } }),
      member('c'),
      memberWith('d', { tags: { replicatefrom: 'c', nostream: true } }),
    ],
  };

  it('a member that does not stream gets no slot, on the leader nor on its cascading upstream', () => {
    expect(desiredSlots(view, 'a')).toEqual(['c']);
    expect(cascadeSlots(view, 'c')).toEqual([]);
  });
});
