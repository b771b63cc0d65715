/**
 * PostgreSQL's server parameters as this node sets them: the dynamic /config merged with the
 * local ones, plus synchronous_standby_names, which only the synchronous leader sets; and the
 * leader's synchronous replication steps (nextSyncStep, src/cluster/sync.ts) carried out.
 *
 * It remembers what PostgreSQL was last given (a reload only when that changes), whether a status
 * sample has shown the running postmaster's value yet (until then nothing is reloaded: a
 * restarted agent must not empty the list of a synchronous primary it finds running), where the
 * current value took effect, and which samples are too old to show it (an epoch bumped at every
 * new value and every reload). Still a class with flags: the next step is a leader-only machine.
 */
import type { Dcs } from '../actors/dcs.ts';
import type { Postgres, PostgresStatus } from '../actors/postgres.ts';
import {
  intendSyncNames,
  nextSyncStep,
  noteSyncNamesInEffect,
  type SyncNamesInEffect,
} from '../cluster/sync.ts';
import type { ClusterView } from '../cluster/view.ts';
import type { NodeConfig } from '../config/types.ts';
import type { NodeSettings } from '../machines/node/index.ts';

type Parameters = Record<string, string | number | boolean>;

export class ServerParameters {
  private applied: string | null = null;
  private dynamic: Parameters = {};
  /** synchronous_standby_names as this node last set it ('' unless it is the synchronous leader). */
  private guc = '';
  /** Whether a status sample has shown the running postmaster's synchronous_standby_names. */
  private seen = false;
  private reloadWhenSeen = false;
  /** Where `guc` took effect and who has caught up under it (see cluster/sync.ts). */
  private inEffect: SyncNamesInEffect | null = null;
  /**
   * Bumped when synchronous_standby_names is set and again when its reload has returned: only a
   * status sample begun after both shows what PostgreSQL does with the value (an older one, still
   * in flight, may show the same text from before an intermediate value).
   */
  private epoch = 0;
  /** The value PostgreSQL showed in the last sample begun after the last reload (undefined: none yet). */
  private shown: string | undefined;

  constructor(
    private readonly o: {
      pg: Postgres;
      dcs: Dcs;
      name: string;
      config: () => NodeConfig;
      log: (msg: string) => void;
    },
  ) {}

  /** synchronous_standby_names as this node set it last. */
  synchronousStandbyNames(): string {
    return this.guc;
  }

  /** Whether a status sample has shown the running postmaster's value yet. */
  firstSampleSeen(): boolean {
    return this.seen;
  }

  /** Everything PostgreSQL should run with. */
  all(): Parameters {
    return { ...this.dynamic, synchronous_standby_names: this.guc };
  }

  /** New dynamic parameters (/config changed): written at the next start, or reloaded now. */
  setDynamic(parameters: Parameters): void {
    this.dynamic = parameters;
    void this.apply();
  }

  private apply(): Promise<void> {
    const params = this.all();
    const text = JSON.stringify(params);
    if (!this.seen && this.applied !== null && text !== this.applied) {
      this.reloadWhenSeen = true;
      this.o.pg.setParameters(params);
      return Promise.resolve();
    }
    if (this.applied !== null && text !== this.applied) {
      // Reloadable parameters apply now; the rest show up as pending_restart. Counted as applied
      // only once the reload succeeded, so that the next change reloads again.
      return this.o.pg.reload(this.o.config(), params).then(
        () => {
          this.applied = text;
        },
        (err) => this.o.log(`reload: ${err}`),
      );
    }
    this.applied = text;
    this.o.pg.setParameters(params);
    return Promise.resolve();
  }

  /** A status sample begins: the token its answer is judged by (see sampled). */
  sampleBegins(): number {
    return this.epoch;
  }

  /** A sample's answer: the first one adopts a running primary's value; a fresh one shows where ours took effect. */
  sampled(status: PostgresStatus, token: number): void {
    if (!this.seen) this.adoptRunning(status);
    if (token === this.epoch) {
      this.inEffect = noteSyncNamesInEffect(this.inEffect, status, this.guc);
      if (status.running && !status.inRecovery) this.shown = status.synchronousStandbyNames ?? '';
    }
  }

  /** The first sample: a running primary keeps the synchronous standbys it has until we decide. */
  private adoptRunning(status: PostgresStatus): void {
    this.seen = true;
    if (status.running && !status.inRecovery)
      this.setSynchronousStandbyNames(status.synchronousStandbyNames ?? '', []);
    if (this.reloadWhenSeen && status.running) {
      this.reloadWhenSeen = false;
      this.applied = '';
      void this.apply();
    }
  }

  /**
   * A new synchronous_standby_names naming `names`: where it takes effect is learnt from the
   * samples begun after its reload; standbys caught up under the old value and named by the new
   * one keep their place.
   */
  setSynchronousStandbyNames(value: string, names: readonly string[]): void {
    this.guc = value;
    this.inEffect = intendSyncNames(this.inEffect, value, names);
    this.epoch++;
    this.shown = undefined;
  }

  /** Reloads PostgreSQL with the server parameters; samples begun before the reload returned are stale. */
  async reload(): Promise<void> {
    await this.apply();
    this.epoch++;
    this.shown = undefined;
  }

  /** A SIGHUP reload: these parameters are what PostgreSQL is about to be given. */
  reloadingWith(): Parameters {
    const params = this.all();
    this.applied = JSON.stringify(params);
    return params;
  }

  /** One step of synchronous replication management (leader only; see src/cluster/sync.ts). */
  async manageSync(view: ClusterView, pg: PostgresStatus, settings: NodeSettings): Promise<void> {
    const step = nextSyncStep(
      view,
      this.o.name,
      pg.replication,
      this.guc,
      settings,
      this.inEffect,
      this.shown,
    );
    if (step.kind === 'none') return;
    if (step.kind === 'set-guc') {
      this.o.log(`synchronous_standby_names = '${step.value}' (${step.reason})`);
      this.setSynchronousStandbyNames(step.value, step.names);
      await this.reload();
    } else if (step.kind === 'reload') {
      this.o.log(`reloading again: ${step.reason}, not '${this.guc}'`);
      this.applied = '';
      await this.reload();
    } else if (step.kind === 'write-sync') {
      this.o.log(`/sync: ${step.standbys.join(',') || 'nobody'} (${step.reason})`);
      await this.o.dcs.setSyncState(this.o.name, step.standbys, view.sync?.index);
    } else {
      await this.o.dcs.deleteSyncState(view.sync?.index);
    }
  }
}
