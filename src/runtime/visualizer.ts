/**
 * The agent's statechart visualizer: this member's live stream (its journal's transitions and
 * status), the fan-in of every member's stream for the browsers this agent serves, the tokens
 * that open it, and the page's live source. Built with the REST API; nothing runs until someone
 * watches.
 */
import type { Journal } from '../actors/journal.ts';
import { type NodeReport, reportedRole } from '../cluster/report.ts';
import type { UpgradeHandler } from '../http/upgrades.ts';
import { peerAuthorization, peerClientOptions } from '../transport/peer-client.ts';
import { ClusterStream } from '../viz/cluster-stream.ts';
import { MemberStream } from '../viz/member-stream.ts';
import { StreamTokens } from '../viz/tokens.ts';
import type { VizSource } from '../viz/ui-routes.ts';
import type { NodeCore } from './core.ts';

export type VisualizerHost = Pick<NodeCore, 'actor' | 'clock' | 'config' | 'view' | 'log'> & {
  journal: Journal;
  report(): NodeReport;
};

export class Visualizer {
  private readonly tokens: StreamTokens;
  private readonly member: MemberStream;
  private readonly cluster: ClusterStream;

  constructor(private readonly h: VisualizerHost) {
    this.tokens = new StreamTokens(() => h.clock.now());
    this.member = new MemberStream({
      name: h.config().name,
      journal: h.journal,
      report: () => {
        const r = h.report();
        return { role: reportedRole(r), state: r.state, isLeader: r.isLeader };
      },
      leaseLeftMs: () => this.leaseLeftMs(),
      setInterval: (fn, ms) => {
        const t = setInterval(fn, ms);
        t.unref();
        return () => clearInterval(t);
      },
    });
    this.cluster = new ClusterStream({
      me: h.config().name,
      local: this.member,
      tokens: this.tokens,
      members: () => h.view()?.members ?? [],
      peerAuthorization: () => peerAuthorization(peerClientOptions(h.config())),
      peerTls: () => peerClientOptions(h.config()).tls ?? null,
      enabled: () => h.config().restapi.ui !== false,
      log: h.log,
    });
  }

  /** The page's live source (GET /ui, /ui/token). */
  source(): VizSource {
    const c = this.h.config();
    return { mode: 'live', scope: c.scope, node: c.name, token: () => this.tokens.issue() };
  }

  /** The streams ride on the REST server's WebSocket upgrades (http/upgrades.ts). */
  upgrades(): Map<string, UpgradeHandler> {
    return this.cluster.upgrades();
  }

  /** What the election says is left of its lease (public snapshot of its child actor). */
  private leaseLeftMs(): number | null {
    const children = this.h.actor.getSnapshot().children as Record<
      string,
      { getSnapshot(): unknown } | undefined
    >;
    const ctx = (children['election']?.getSnapshot() as { context?: { leaseLeftMs?: number } } | undefined)
      ?.context;
    return typeof ctx?.leaseLeftMs === 'number' ? ctx.leaseLeftMs : null;
  }

  close(): void {
    this.cluster.close();
    this.member.close();
  }
}
