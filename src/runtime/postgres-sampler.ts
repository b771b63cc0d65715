/**
 * PostgreSQL's status as the node machine sees it: samples taken one at a time and delivered as
 * PG_STATUS events, and the rule that a sample taken across a change (start, stop, promote) is
 * dropped rather than delivered late — it may show the state from before the change.
 *
 * The periodic samples (every pgPollMs, `check`) are delivered only when they differ from the
 * last one delivered, or once a loop_wait has passed since: the machines are level-triggered, so
 * a sample equal to the last tells them nothing, and an idle agent spent most of its CPU carrying
 * identical samples through the node machine, the election, the member key's comparison and the
 * leader's duties every second. A change (a crash, a promotion, WAL that moved) still arrives
 * within pgPollMs. Samples asked for (`poll`: after a change, before a race) are always delivered.
 */
import type { PostgresStatus } from '../actors/postgres.ts';
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

  constructor(private readonly h: SamplerHost) {}

  /**
   * One sample, queued behind any sample already under way, so that a caller that just changed
   * PostgreSQL always gets a sample taken after its change.
   */
  poll(): Promise<void> {
    this.queue = this.queue.then(() => this.sample(true));
    return this.queue;
  }

  /** The periodic sample: delivered if it differs from the last one delivered, or a loop_wait after it. */
  check(): Promise<void> {
    this.queue = this.queue.then(() => this.sample(false));
    return this.queue;
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
