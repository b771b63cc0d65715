/**
 * The in-memory stand-in for the peer probes of the leader race (GET /patroni of the others):
 * a dead or refusing peer answers at once with "connection refused", a frozen or cut-off one
 * only after the client's 2 s timeout, as over a network; a live one with its status document.
 */
import type { PeerStatus } from '../../cluster/eligibility.ts';
import { apiUrlOf } from '../../cluster/report.ts';
import type { Member } from '../../cluster/view.ts';
import { parsePeerDocument, unreachablePeer } from '../../transport/peer-client.ts';
import type { SimulatedCluster } from './cluster.ts';
import type { SimulatedNode } from './node.ts';

/** GET /patroni of `member`, asked by `from`. */
export async function peerStatus(
  cluster: Pick<SimulatedCluster, 'nodes' | 'world'>,
  from: string,
  member: Member,
  timeoutMs = 2000,
): Promise<PeerStatus> {
  const unreachable = unreachablePeer(member);
  const peer = await reach(
    cluster,
    from,
    cluster.nodes.find((n) => n.name === member.name),
    timeoutMs,
  );
  if (!peer) return unreachable;
  const doc = await peer.freshStatus();
  return (doc && parsePeerDocument(member.name, doc)) ?? unreachable;
}

/**
 * POST /failsafe from `from` to the member at `apiUrl`, answered by its production route in
 * process: refused at once by a dead or refusing peer, unanswered within `timeoutMs` by a frozen
 * or cut-off one (null), as over a network.
 */
export async function postFailsafe(
  cluster: Pick<SimulatedCluster, 'nodes' | 'world'>,
  from: string,
  apiUrl: string,
  body: unknown,
  timeoutMs: number,
): Promise<{ status: number; text: string } | null> {
  const peer = await reach(
    cluster,
    from,
    cluster.nodes.find((n) => apiUrlOf(n.config) === apiUrl),
    timeoutMs,
  );
  if (!peer) return null;
  try {
    const res = await peer.request('POST', '/failsafe', body);
    return { status: res.status, text: res.body };
  } catch {
    return null;
  }
}

/**
 * A request from `from` to `peer` over the simulated network: the peer when it answers; null at
 * once when the connection is refused (nobody listens, or a REJECT rule answers for a live node),
 * null after the client's `timeoutMs` when nothing answers (frozen, or cut off).
 */
async function reach(
  cluster: Pick<SimulatedCluster, 'world'>,
  from: string,
  peer: SimulatedNode | undefined,
  timeoutMs: number,
): Promise<SimulatedNode | null> {
  if (!peer?.alive() || (cluster.world.linked(from, peer.name) && !cluster.world.accepts(peer.name, from)))
    return null;
  if (peer.frozen() || !cluster.world.linked(from, peer.name)) {
    await cluster.world.sleep(timeoutMs);
    return null;
  }
  return peer;
}
