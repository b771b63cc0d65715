/**
 * PostgreSQL's status as the node machine sees it: samples taken one at a time and delivered as
 * PG_STATUS events, and the rule that a sample taken across a change (start, stop, promote) is
 * dropped rather than delivered late — it may show the state from before the change.
 */
import type { PostgresStatus } from '../actors/postgres.ts';
import type { NodeCore } from './core.ts';

export type SamplerHost = Pick<NodeCore, 'pg' | 'params' | 'actor' | 'closed' | 'log'> & {
  /** Closed, or the node machine has finished: samples are no longer delivered. */
  silent(): boolean;
};

export class PostgresSampler {
  /** The last sample delivered (null until the first). */
  last: PostgresStatus | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** Bumped before and after every change of PostgreSQL's state. */
  private generation = 0;

  constructor(private readonly h: SamplerHost) {}

  /**
   * One sample, queued behind any sample already under way, so that a caller that just changed
   * PostgreSQL always gets a sample taken after its change.
   */
  poll(): Promise<void> {
    this.queue = this.queue.then(() => this.sample());
    return this.queue;
  }

  private async sample(): Promise<void> {
    if (this.h.closed()) return;
    const generation = this.generation;
    const token = this.h.params.sampleBegins();
    try {
      const status = await this.h.pg.status();
      if (generation !== this.generation || this.h.silent()) return;
      this.last = status;
      this.h.params.sampled(status, token);
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
