/**
 * PostgreSQL's status as the node machine sees it: samples taken one at a time and delivered as
 * PG_STATUS events, and the rule that a sample taken across a change (start, stop, promote) is
 * dropped rather than delivered late — it may show the state from before the change.
 *
 * The periodic check (every pgPollMs, `check`) takes a full sample only when one is due
 * (cluster/sampling.ts: at rest, once a loop_wait), and otherwise checks the postmaster's
 * liveness alone, so a crash or a stop is still seen within pgPollMs. Periodic samples are
 * delivered only when they differ from the last one delivered, or once a loop_wait has passed
 * since: the machines are level-triggered, so a sample equal to the last tells them nothing, and
 * an idle agent spent most of its CPU carrying identical samples through the node machine, the
 * election, the member key's comparison and the leader's duties every second. Samples asked for
 * (`poll`: after a change, before a race) are always delivered; `fresh` (REST status requests, a
 * gossip peer's ask, the loop before it publishes) takes a new sample if the last is over a
 * second old (a fifth of one for a replica that does not stream: cluster/sampling.ts), delivered
 * like a periodic one.
 */
import type { PostgresStatus } from '../actors/postgres.ts';
import { FRESH_SAMPLE_WAIT_MS, freshSampleMs, fullSampleDue } from '../cluster/sampling.ts';
import type { NodeCore } from './core.ts';

export type SamplerHost = Pick<
  NodeCore,
  'pg' | 'params' | 'actor' | 'closed' | 'log' | 'clock' | 'settings'
> & {
  /** Closed, or the node machine has finished: samples are no longer delivered. */
  silent(): boolean;
};

export class PostgresSampler {
  /** The last sample delivered (null until the first). */
  last: PostgresStatus | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** Bumped before and after every change of PostgreSQL's state. */
  private generation = 0;
  /** The last sample delivered as it was written out, and when (for check's repeats). */
  private deliveredText = '';
  private deliveredAt = Number.NEGATIVE_INFINITY;
  /** When the last full sample was taken (delivered or not). */
  private sampledAt = Number.NEGATIVE_INFINITY;
  /** The sample `fresh` callers wait on, while one is under way. */
  private freshening: Promise<void> | null = null;
  /**
   * When `fresh` last began a sample: one that failed (a server starting up) is not tried again
   * within freshSampleMs, or a load of health checks would become a load of connection attempts.
   */
  private freshTriedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly h: SamplerHost) {}

  /**
   * One sample, queued behind any sample already under way, so that a caller that just changed
   * PostgreSQL always gets a sample taken after its change.
   */
  poll(): Promise<void> {
    this.queue = this.queue.then(() => this.sample(true));
    return this.queue;
  }

  /**
   * The periodic check: a full sample when one is due (delivered if it differs from the last one
   * delivered, or a loop_wait after it), else the postmaster's liveness — and a full sample if
   * it is gone.
   */
  check(): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (this.h.closed()) return;
      const settings = this.h.settings();
      const due = fullSampleDue({
        last: this.last,
        sinceFullMs: this.h.clock.now() - this.sampledAt,
        loopWaitMs: settings.loop_wait * 1000,
        synchronousMode: settings.synchronous_mode,
      });
      if (!due && (await this.postmasterAlive())) return;
      await this.sample(false);
    });
    return this.queue;
  }

  /**
   * A sample at most freshSampleMs old, for a reader of the status (delivered like a periodic
   * one); one under way is shared. A server that does not answer is waited on for
   * FRESH_SAMPLE_WAIT_MS at most: the reader then goes on with the last sample.
   */
  async fresh(): Promise<void> {
    const now = this.h.clock.now();
    if (now - Math.max(this.sampledAt, this.freshTriedAt) < freshSampleMs(this.last)) return;
    if (!this.freshening) {
      this.freshTriedAt = now;
      this.queue = this.queue.then(() => this.sample(false));
      const done = this.queue.finally(() => {
        if (this.freshening === done) this.freshening = null;
      });
      this.freshening = done;
    }
    let timer: unknown = null;
    const waited = new Promise<void>((resolve) => {
      timer = this.h.clock.setTimeout(() => resolve(), FRESH_SAMPLE_WAIT_MS);
    });
    try {
      await Promise.race([this.freshening, waited]);
    } finally {
      this.h.clock.clearTimeout(timer);
    }
  }

  private async postmasterAlive(): Promise<boolean> {
    try {
      return await this.h.pg.postmasterRunning();
    } catch {
      return false;
    }
  }

  private async sample(always: boolean): Promise<void> {
    if (this.h.closed()) return;
    const generation = this.generation;
    const token = this.h.params.sampleBegins();
    try {
      const status = await this.h.pg.status();
      if (generation !== this.generation || this.h.silent()) return;
      this.h.params.sampled(status, token);
      const text = JSON.stringify(status);
      const now = this.h.clock.now();
      this.sampledAt = now;
      const repeat =
        text === this.deliveredText && now - this.deliveredAt < this.h.settings().loop_wait * 1000;
      if (!always && repeat) return;
      this.deliveredText = text;
      this.deliveredAt = now;
      this.last = status;
      this.h.actor.send({ type: 'PG_STATUS', status });
    } catch (err) {
      // Running but not answering (starting up, overloaded): keep the last known status.
      this.h.log(`postgres status: ${(err as Error).message}`);
    }
  }

  /** Runs an action that changes PostgreSQL's state: samples from before it are stale. */
  async changing<T>(action: () => Promise<T>): Promise<T> {
    this.generation++;
    try {
      return await action();
    } finally {
      this.generation++;
      await this.poll();
    }
  }
}
