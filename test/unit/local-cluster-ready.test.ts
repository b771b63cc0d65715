import { describe, expect, it } from 'vitest';
import { LocalCluster } from '../../src/local/cluster.ts';
import type { ClusterNode, StatusDoc } from '../../src/local/cluster-types.ts';

const node = (name: string, status: StatusDoc | null): ClusterNode =>
  ({ name, status }) as unknown as ClusterNode;

const leader = (streamingTo: string[]): StatusDoc => ({
  state: 'running',
  role: 'master',
  timeline: 2,
  replication: streamingTo.map((application_name) => ({ application_name, state: 'streaming' })),
});
const replica = (over: Partial<StatusDoc> = {}): StatusDoc => ({
  state: 'running',
  role: 'replica',
  timeline: 2,
  replication_state: 'streaming',
  ...over,
});
const ready = (nodes: ClusterNode[]) => LocalCluster.isReady(nodes, () => true);

describe('LocalCluster.isReady: both ends of every stream agree', () => {
  it('ready when the leader streams to each replica and each says it streams on its timeline', () => {
    expect(ready([node('a', leader(['b', 'c'])), node('b', replica()), node('c', replica())])).toBe(true);
    // Patroni 3.0.2 says nothing of replication_state: the timeline is then all there is.
    expect(ready([node('a', leader(['b'])), node('b', replica({ replication_state: undefined }))])).toBe(
      true,
    );
  });

  // Seen on real processes right after a switchover: the new leader already listed a WAL sender
  // for a standby whose receiver was not yet shown and which still replayed timeline 1's end.
  it('not ready while a replica the leader lists as streaming is still on the old timeline', () => {
    expect(
      ready([
        node('a', leader(['b'])),
        node('b', replica({ timeline: 1, replication_state: 'in archive recovery' })),
      ]),
    ).toBe(false);
    expect(ready([node('a', leader(['b'])), node('b', replica({ timeline: 1 }))])).toBe(false);
    expect(
      ready([node('a', leader(['b'])), node('b', replica({ replication_state: 'in archive recovery' }))]),
    ).toBe(false);
  });

  it('not ready without the leader seeing the stream, nor with two primaries', () => {
    expect(ready([node('a', leader([])), node('b', replica())])).toBe(false);
    expect(ready([node('a', leader(['b'])), node('b', leader(['a']))])).toBe(false);
  });
});
