/**
 * The simulator's network for gossip: links between agents that behave like WebSockets over the
 * simulated network. A dial to a dead agent, or through a REJECT rule, is refused at once; a dial
 * through a cut, or to a frozen agent that does not thaw in time, hangs until the handshake
 * timeout. Once open, frames take `latencyMs`; a cut drops them silently in both directions (the
 * link still looks open: the hub finds it dead by its silence, as it would over TCP); a frozen
 * agent gets what was sent to it when it thaws. A closed link is told to the other end if the
 * network lets the news through. Everything runs on the shared clock, so runs stay reproducible.
 */
import type { Agent } from '../../agent.ts';
import { HANDSHAKE_TIMEOUT_MS } from '../../runtime/gossip/rules.ts';
import type { GossipDialer, GossipLink, LinkEvents } from '../../transport/gossip-link.ts';
import type { SimulatedWorld } from '../simulated-postgres/index.ts';
import type { SimulatedNode } from './node.ts';

/** One link: its dialer end (`a`) and its accepting end (`b`). */
interface Connection {
  a: End;
  b: End | null;
  open: boolean;
  closed: boolean;
}

interface End {
  node: SimulatedNode;
  /** The agent process this end belongs to: a restarted agent never gets its predecessor's frames. */
  agent: Agent | null;
  events: LinkEvents;
  /** Its owner has been told the link closed. */
  told: boolean;
}

const inert: LinkEvents = { open: () => undefined, message: () => undefined, close: () => undefined };

export class SimulatedGossipNet {
  constructor(
    private readonly nodes: () => readonly SimulatedNode[],
    private readonly world: SimulatedWorld,
    private readonly latencyMs = 1,
  ) {}

  /** The dialer of `from`'s agent. */
  dialer(from: SimulatedNode): GossipDialer {
    return {
      dial: (target, events) => {
        const conn: Connection = {
          a: { node: from, agent: from.agent, events, told: false },
          b: null,
          open: false,
          closed: false,
        };
        const to = this.nodes().find((n) => n.name === target.name);
        from.clock.setTimeout(() => {
          if (!conn.open) this.close(conn, conn.a);
        }, HANDSHAKE_TIMEOUT_MS);
        this.world.clock.setTimeout(() => this.handshake(conn, to), this.latencyMs);
        return this.endLink(conn, conn.a);
      },
    };
  }

  private handshake(conn: Connection, to: SimulatedNode | undefined): void {
    if (conn.closed) return;
    const from = conn.a.node;
    // Connection refused: nobody listens, or a REJECT rule answers for a live agent.
    if (!to?.alive() || (this.world.linked(from.name, to.name) && !this.world.accepts(to.name, from.name))) {
      this.close(conn, conn.a);
      return;
    }
    if (!this.world.linked(from.name, to.name)) return; // no answer: the handshake times out
    const agent = to.agent;
    // The accepting agent handles the upgrade when it runs (a frozen one: after thaw, if in time).
    to.clock.run(() => {
      if (conn.closed || !agent || to.agent !== agent || !to.alive()) return;
      const acceptor = agent.gossipAcceptor();
      if (acceptor.refusal({ name: from.name, scope: from.config.scope }) !== null) {
        this.later(conn, from, () => this.close(conn, conn.a)); // 403
        return;
      }
      const b: End = { node: to, agent, events: inert, told: false };
      conn.b = b;
      b.events = acceptor.accept(from.name, this.endLink(conn, b));
      this.later(conn, from, () => {
        if (conn.closed || conn.a.node.agent !== conn.a.agent) return;
        conn.open = true;
        conn.a.events.open();
      });
    });
  }

  /** The GossipLink one end holds. */
  private endLink(conn: Connection, end: End): GossipLink {
    return {
      send: (data) => {
        const other = end === conn.a ? conn.b : conn.a;
        if (conn.closed || !other || (end === conn.a && !conn.open)) return;
        const copy = data.slice();
        this.later(conn, other.node, () => {
          if (!conn.closed && other.node.agent === other.agent) other.events.message(copy);
        });
      },
      close: () => this.close(conn, end),
    };
  }

  /** `fn` on `to`'s clock after the latency, if the network between the two ends carries it. */
  private later(conn: Connection, to: SimulatedNode, fn: () => void): void {
    const from = to === conn.a.node ? conn.b?.node : conn.a.node;
    if (from && !this.world.linked(from.name, to.name)) return;
    to.clock.setTimeout(() => {
      if (to.alive()) fn();
    }, this.latencyMs);
  }

  /** Closed by `end` (or failed there): that end is told now, the other when the news gets through. */
  private close(conn: Connection, end: End): void {
    this.tell(end, 0);
    if (conn.closed) return;
    conn.closed = true;
    const other = end === conn.a ? conn.b : conn.a;
    if (other && this.world.linked(end.node.name, other.node.name)) this.tell(other, this.latencyMs);
  }

  /** The owner of `end` learns the link is closed (once; never a restarted agent). */
  private tell(end: End, afterMs: number): void {
    if (end.told) return;
    end.told = true;
    end.node.clock.setTimeout(() => {
      if (end.node.agent === end.agent) end.events.close();
    }, afterMs);
  }
}
