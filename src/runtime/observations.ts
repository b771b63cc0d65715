/**
 * What keeps the node machine informed and the node visible, from start until the machine
 * finishes: PostgreSQL sampled every pgPollMs, the lease granted before anything else touches
 * the DCS (as Patroni blocks on it), the DCS watch, and the loop (every loop_wait: a replica's
 * lease refreshed, the member key rewritten, /config and the address book kept in the data
 * directory). Each timer is
 * one-shot and re-armed after its work, so slow I/O never piles up callbacks.
 */
import type { ClusterView } from '../cluster/view.ts';
import type { NodeCore } from './core.ts';

export type ObservationsHost = Pick<
  NodeCore,
  'actor' | 'dcs' | 'clock' | 'settings' | 'pollPostgres' | 'publish' | 'closed' | 'log'
> & {
  /** The periodic sample: delivered only when it changed, or a loop_wait after the last (PostgresSampler.check). */
  checkPostgres(): Promise<void>;
  /** A sample at most a second old (PostgresSampler.fresh): what the member key publishes. */
  freshPostgres(): Promise<void>;
  saveDynamicCache(): Promise<void>;
  /** The servers to fence, kept in the data directory (runtime/address-book.ts). */
  saveAddressBook(): Promise<void>;
  onView(view: ClusterView): void;
};

export class Observations {
  /** When the next loop runs (GET /patroni's and patronictl's view of the HA cycle). */
  nextRun = 0;
  /** The node machine finished, or close() began: nothing more is started or sent. */
  private stopped = false;
  private readonly timers = new Set<unknown>();
  private stopWatch: (() => void) | null = null;

  constructor(
    private readonly h: ObservationsHost,
    private readonly pgPollMs: number,
  ) {}

  /** Runs until stop(): resolves once the watch and the loop are under way. */
  async start(): Promise<void> {
    // PostgreSQL is watched from the start: a primary left running by a previous agent process
    // must not stay writable for as long as etcd stays away (see the node's fencingPrimary).
    await this.h.pollPostgres();
    this.every(this.pgPollMs, () => this.h.checkPostgres());
    await this.waitForLease();
    if (this.h.closed()) return;
    this.stopWatch = this.h.dcs.watch(
      (view) => this.h.onView(view),
      (err) => {
        this.h.actor.send({ type: 'DCS_UNAVAILABLE', message: `DCS is not accessible: ${err.message}` });
      },
    );
    this.nextRun = this.h.clock.now();
    void this.loop();
  }

  /** No more timers, samples or views. */
  stop(): void {
    this.stopped = true;
    for (const id of this.timers) this.h.clock.clearTimeout(id);
    this.timers.clear();
    this.stopWatch?.();
    this.stopWatch = null;
  }

  /** Stopped, or the agent closed. */
  silent(): boolean {
    return this.h.closed() || this.stopped;
  }

  /** Patroni blocks until etcd grants a lease; so do we, saying so, and never crash meanwhile. */
  private async waitForLease(): Promise<void> {
    const { h } = this;
    for (let attempt = 0; !this.silent(); attempt++) {
      try {
        await h.dcs.ensureLease(h.settings().ttl);
        return;
      } catch (err) {
        if (this.silent()) return;
        const message = `waiting on etcd: ${(err as Error).message}`;
        h.log(message);
        h.actor.send({ type: 'DCS_UNAVAILABLE', message });
        await new Promise((r) => h.clock.setTimeout(r, Math.min(5000, 500 * (attempt + 1))));
      }
    }
  }

  /** The loop: replicas keep their lease alive, everyone their member key and /config copy. */
  private async loop(): Promise<void> {
    const { h } = this;
    if (h.closed()) return;
    this.nextRun = h.clock.now() + h.settings().loop_wait * 1000;
    if (!h.actor.getSnapshot().context.isLeader) {
      // The leader's lease is the election's to refresh.
      try {
        await h.dcs.refreshLease();
      } catch (err) {
        h.log(`lease refresh: ${(err as Error).message}`);
      }
    }
    // The full sample of the loop (cluster/sampling.ts): the member key carries WAL positions as
    // fresh as Patroni's, which queries in its loop.
    await h.freshPostgres();
    await h.publish(true);
    await h.saveDynamicCache();
    await h.saveAddressBook();
    this.every(h.settings().loop_wait * 1000, () => this.loop(), true);
  }

  private every(ms: number, fn: () => Promise<void> | void, once = false): void {
    const id = this.h.clock.setTimeout(() => {
      this.timers.delete(id);
      if (this.silent()) return;
      void Promise.resolve(fn()).finally(() => {
        if (!once && !this.stopped) this.every(ms, fn);
      });
    }, ms);
    this.timers.add(id);
  }
}
