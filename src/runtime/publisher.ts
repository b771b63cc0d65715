/**
 * What this node tells the cluster: its member key, and as the leader /status (the WAL position
 * replicas compare against), its replication slots and its synchronous replication steps. A
 * role or state change reaches the member key at once; overlapping requests collapse into one
 * more write right after the current one, never into a stale key.
 */
import { memberData, type NodeReport } from '../cluster/report.ts';
import { desiredSlots } from '../cluster/topology.ts';
import { isPaused } from '../cluster/view.ts';
import type { NodeCore } from './core.ts';

export type PublisherHost = NodeCore;

export class Publisher {
  private lastPublished = '';
  private lastSlots = '';
  private lastStatusOptime = -1;
  private publishing = false;
  private publishAgain = false;
  private reportCache: { inputs: unknown[]; report: NodeReport } | null = null;

  constructor(private readonly h: PublisherHost) {}

  /**
   * The node's report, rebuilt only when something it is made of changed, so that REST answers
   * (and the serialized status document cached per report) cost nothing per request.
   */
  report(): NodeReport {
    const h = this.h;
    const snap = h.actor.getSnapshot();
    const inputs = [snap, h.pgStatus(), h.view(), h.dcsLastSeen(), h.settings(), h.config()];
    if (this.reportCache && inputs.every((v, i) => v === this.reportCache!.inputs[i]))
      return this.reportCache.report;
    const report = this.buildReport();
    this.reportCache = { inputs, report };
    return report;
  }

  private buildReport(): NodeReport {
    const ctx = this.h.actor.getSnapshot().context;
    const config = this.h.config();
    const pg = this.h.pgStatus();
    const view = this.h.view();
    const api = config.restapi;
    return {
      name: config.name,
      scope: config.scope,
      connUrl: `postgres://${config.postgresql.connect_address}/postgres`,
      apiUrl: `${api.certfile ? 'https' : 'http'}://${api.connect_address}/patroni`,
      tags: config.tags.published,
      state: ctx.pgState,
      role: ctx.role,
      pg,
      systemIdentifier: pg?.systemIdentifier ?? ctx.dataDir?.systemIdentifier ?? null,
      isLeader: ctx.isLeader,
      view,
      dcsLastSeen: this.h.dcsLastSeen(),
      paused: isPaused(view),
      synchronousMode: this.h.settings().synchronous_mode,
      scheduledRestart: ctx.restart.scheduled?.published ?? null,
    };
  }

  /** Writes what changed (force: the member key even if unchanged, to keep it alive). */
  async publish(force: boolean): Promise<void> {
    const h = this.h;
    if (h.closed()) return;
    if (this.publishing) {
      // A change arrived while we were writing: publish again right after, or the member key
      // would show a stale state until the next loop.
      this.publishAgain = true;
      return;
    }
    const snap = h.actor.getSnapshot();
    if (snap.matches('starting') || snap.status !== 'active') return;
    this.publishing = true;
    try {
      const report = this.report();
      const data = memberData(report);
      const text = JSON.stringify(data);
      if (force || text !== this.lastPublished) {
        await h.dcs.touchMember(report.name, data);
        this.lastPublished = text;
      }
      const pg = report.pg;
      // The view is read afresh at each step: it may change while a write is under way.
      if (report.isLeader && pg?.running && !pg.inRecovery && h.view()) {
        const optime = pg.currentLsn ?? 0;
        if (optime !== this.lastStatusOptime) {
          await h.dcs.setStatus({ optime });
          this.lastStatusOptime = optime;
        }
        const slots = desiredSlots(h.view()!, report.name);
        const key = slots.join(',');
        if (force || key !== this.lastSlots) {
          if (h.settings().use_slots) await h.pg.syncSlots(slots);
          this.lastSlots = key;
        }
        await h.params.manageSync(h.view()!, pg, h.settings());
      } else if (!report.isLeader) {
        // Not the leader any more: the synchronous standbys go once PostgreSQL is not writable
        // (the server parameters machine's standbysToDrop rule).
        const dropping = h.params.notLeader(pg);
        if (dropping) await dropping;
      }
    } catch (err) {
      h.log(`publish: ${(err as Error).message}`);
    } finally {
      this.publishing = false;
    }
    if (this.publishAgain) {
      this.publishAgain = false;
      await this.publish(false);
    }
  }
}
