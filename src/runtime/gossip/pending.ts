/** Questions sent on a gossip link and waiting for their answer, each with a timeout. */
import type { Clock } from '../../actors/clock.ts';

/** Questions sent on a link and waiting for their answer (by the question's seq), each with a timeout. */
export class Pending<T> {
  private readonly waiting = new Map<number, { name: string; timer: unknown; resolve(v: T | null): void }>();

  constructor(private readonly clock: Clock) {}

  wait(name: string, seq: number, ms: number): Promise<T | null> {
    return new Promise((resolve) => {
      const timer = this.clock.setTimeout(() => this.answer(name, seq, null), ms);
      this.waiting.set(seq, { name, timer, resolve });
    });
  }

  /** `seq` answered by `name` (or given up: null); an answer from anyone else is ignored. */
  answer(name: string, seq: number, value: T | null): void {
    const w = this.waiting.get(seq);
    if (w?.name !== name) return;
    this.waiting.delete(seq);
    this.clock.clearTimeout(w.timer);
    w.resolve(value);
  }

  /** Every question to `name` (every one: null) gets no answer. */
  giveUp(name?: string): void {
    for (const [seq, w] of [...this.waiting])
      if (name === undefined || w.name === name) this.answer(w.name, seq, null);
  }
}
