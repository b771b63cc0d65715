/**
 * What this node tells the cluster: its member key, and as the leader /status (the WAL position
 * replicas compare against), its replication slots and its synchronous replication steps, as the
 * leaderDuties machine (src/machines/leader-duties.ts) orders them. A role or state change
 * reaches the member key at once; overlapping requests collapse into one more write right after
 * the current one, never into a stale key.
 */

import { type Actor, createActor, type InspectionEvent } from 'xstate';
import { type Alarm, recentAlarms } from '../cluster/orphans.ts';
import { apiUrlOf, connUrlOf, memberData, type NodeReport } from '../cluster/report.ts';
import { isPaused } from '../cluster/view.ts';
import { watchdogFailed } from '../cluster/watchdog.ts';
import {
  atRest,
  type LeaderFacts,
  type LeaderOrder,
  leaderDutiesMachine,
  type PublishEvent,
  publicationChangesNothing,
  publicationMatters,
  standbySlotsDue,
} from '../machines/leader-duties.ts';
import type { NodeCore } from './core.ts';
import type { ProvideActors } from './provide.ts';

export type PublisherHost = NodeCore & {
  /** The journal (and any inspector): the leaderDuties machine is recorded too. */
  inspect?: (ev: InspectionEvent) => void;
  /** How its machine is given (guards traced when journalled). */
  provide: ProvideActors;
  /** This agent's alarms (the same array until one is raised), published in its member key. */
  alarms: () => readonly Alarm[];
};

/** What a report is made of: a new value of any of them makes a new report. */
interface ReportInputs {
  snap: unknown;
  pg: unknown;
  view: unknown;
  dcsLastSeen: unknown;
  settings: unknown;
  config: unknown;
  alarms: unknown;
}

export class Publisher {
  private lastPublished = '';
  private readonly duties: Actor<typeof leaderDutiesMachine>;
  private publishing = false;
  /** A publish asked for while one was under way (forced if any of them was), or null. */
  private publishAgain: { force: boolean } | null = null;
  private reportCache: (ReportInputs & { report: NodeReport }) | null = null;
  /** The last publication the duties machine was sent, if it left it at rest with nothing to do. */
  private quietPublication: PublishEvent | null = null;

  constructor(private readonly h: PublisherHost) {
    this.duties = createActor(h.provide(leaderDutiesMachine, {}), {
      id: 'leaderDuties',
      input: { me: h.config().name },
      inspect: h.inspect,
    });
    this.duties.start();
  }

  /**
   * The node's report, rebuilt only when something it is made of changed, so that REST answers
   * (and the serialized status document cached per report) cost nothing per request.
   */
  report(): NodeReport {
    const h = this.h;
    const snap = h.actor.getSnapshot();
    const pg = h.pgStatus();
    const view = h.view();
    const dcsLastSeen = h.dcsLastSeen();
    const settings = h.settings();
    const config = h.config();
    const alarms = h.alarms();
    // Field by field, allocating nothing: the simulator asks for reports about a million times
    // per hundred schedules, most of them answered from here.
    const c = this.reportCache;
    if (
      c !== null &&
      c.snap === snap &&
      c.pg === pg &&
      c.view === view &&
      c.dcsLastSeen === dcsLastSeen &&
      c.settings === settings &&
      c.config === config &&
      c.alarms === alarms
    )
      return c.report;
    const report = this.buildReport();
    this.reportCache = { snap, pg, view, dcsLastSeen, settings, config, alarms, report };
    return report;
  }

  private buildReport(): NodeReport {
    const ctx = this.h.actor.getSnapshot().context;
    const config = this.h.config();
    const pg = this.h.pgStatus();
    const view = this.h.view();
    return {
      name: config.name,
      scope: config.scope,
      connUrl: connUrlOf(config),
      apiUrl: apiUrlOf(config),
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
      failsafeActive: ctx.election.failsafeActive,
      watchdogFailed: watchdogFailed(this.h.settings().watchdog),
      alarms: recentAlarms(this.h.alarms(), this.h.clock.now()),
    };
  }

  /** Writes what changed (force: the member key even if unchanged, to keep it alive). */
  async publish(force: boolean): Promise<void> {
    const h = this.h;
    if (h.closed()) return;
    if (this.publishing) {
      // A change arrived while we were writing: publish again right after, or the member key
      // would show a stale state until the next loop. A forced one stays forced: it is the
      // loop's, which puts the key back when etcd lost it (dropped, the key stayed away).
      this.publishAgain = { force: force || (this.publishAgain?.force ?? false) };
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
        // Only what was written counts as published: a key not written is tried at the next change.
        if (await h.dcs.touchMember(report.name, data)) this.lastPublished = text;
      }
      // The leader's duties, one order at a time (the leaderDuties machine decides each on the
      // facts as they are once the one before has finished: a write may take a while).
      const { isLeader, pg } = report;
      const duties = this.duties;
      // Left out when it can give no order (a replica's, mostly): the machine says which.
      const publication = { type: 'PUBLISH' as const, isLeader, status: pg, force, ...this.facts() };
      if (
        publicationMatters(
          isLeader,
          pg,
          h.view(),
          h.params.synchronousStandbyNames(),
          standbySlotsDue(report.name, publication, duties.getSnapshot().context.slotsGiven),
        ) &&
        !publicationChangesNothing(this.quietPublication, publication, duties.getSnapshot().context.order)
      ) {
        duties.send(publication);
        let order = duties.getSnapshot().context.order;
        this.quietPublication = atRest(order) ? publication : null;
        while (order.kind === 'writeStatus' || order.kind === 'giveSlots') {
          // An unwanted slot still in use (its standby not yet re-pointed, or gone without its
          // agent): the duties go on, and a later publication gives the slots again.
          let slotsBusy = false;
          try {
            if (order.kind === 'writeStatus') await h.dcs.setStatus({ optime: order.optime });
            else slotsBusy = (await h.pg.syncSlots(order.slots)).length > 0;
          } catch (err) {
            duties.send({ type: 'FAILED' });
            throw err;
          }
          duties.send({ type: 'DONE', slotsBusy, ...this.facts() });
          order = duties.getSnapshot().context.order;
        }
        if (order.kind === 'sync') await this.synchronousStep(order);
        else if (order.kind === 'dropStandbys') {
          const dropping = h.params.notLeader(pg);
          if (dropping) await dropping;
        }
      }
    } catch (err) {
      h.log(`publish: ${(err as Error).message}`);
    } finally {
      this.publishing = false;
    }
    const again = this.publishAgain;
    if (again) {
      this.publishAgain = null;
      await this.publish(again.force);
    }
  }

  /** What the leader's next step is decided on, as it is now. */
  private facts(): LeaderFacts {
    const settings = this.h.settings();
    return {
      view: this.h.view(),
      synchronous: this.h.params.synchronousState(),
      useSlots: settings.use_slots,
      sync: settings,
    };
  }

  /** One synchronous replication step, as the leaderDuties machine ordered it. */
  private async synchronousStep(order: Extract<LeaderOrder, { kind: 'sync' }>): Promise<void> {
    const { h } = this;
    const { step } = order;
    if (step.kind === 'set-guc') {
      h.params.setSynchronousStandbyNames(step.value, step.names);
      h.log(`synchronous_standby_names = '${step.value}' (${step.reason})`);
      await h.params.reload();
    } else if (step.kind === 'reload') {
      h.log(`reloading again: ${step.reason}, not '${h.params.synchronousStandbyNames()}'`);
      await h.params.reloadAgain();
    } else if (step.kind === 'write-sync') {
      h.log(`/sync: ${step.standbys.join(',') || 'nobody'} (${step.reason})`);
      await h.dcs.setSyncState(h.config().name, step.standbys, order.syncIndex);
    } else if (step.kind === 'delete-sync') {
      await h.dcs.deleteSyncState(order.syncIndex);
    }
  }
}
