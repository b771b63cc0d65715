/**
 * One agent's view of the shared simulated clock, with SIGSTOP semantics: while frozen, its
 * timers that come due and the results of its I/O are held back, and delivered in order on
 * thaw. Time itself keeps running (now() is the shared clock's), as for a stopped process.
 */
import type { Clock } from '../actors/clock.ts';
import { nodeTimerDelay } from '../machines/timers.ts';

interface Timer {
  base: unknown;
  cancelled: boolean;
  fn: (...args: unknown[]) => void;
}

export class NodeClock implements Clock {
  private frozen = false;
  private held: Array<() => void> = [];
  /** Local ms per shared ms (1: exact), and where the local time line was last re-based. */
  private rate = 1;
  private anchorBase = 0;
  private anchorLocal = 0;

  constructor(private readonly base: Clock) {}

  /** Sum of every wall-clock step so far: now() − monotonic(). */
  private stepped = 0;

  now(): number {
    return this.monotonic() + this.stepped;
  }

  /** This agent's steady clock: drifts with the rate, never steps. */
  monotonic(): number {
    if (this.rate === 1 && this.anchorBase === this.anchorLocal) return this.base.now();
    return this.anchorLocal + (this.base.now() - this.anchorBase) * this.rate;
  }

  /**
   * A wall-clock step (an NTP correction, a VM resumed from a snapshot): now() jumps by `ms`,
   * forward or back; the monotonic clock and the timers do not move.
   */
  step(ms: number): void {
    this.stepped += ms;
  }

  /**
   * Clock drift: from now on this agent's time runs `ppm` parts per million fast (+) or slow
   * (−) against the shared clock — its timers fire early or late, its now() moves apart — with
   * no jump at the change.
   */
  setDriftPpm(ppm: number): void {
    const local = this.monotonic();
    this.anchorBase = this.base.now();
    this.anchorLocal = local;
    this.rate = 1 + ppm / 1_000_000;
  }

  /** Node's setTimeout: a delay past its limit fires after 1 ms (see machines/timers.ts). */
  setTimeout(fn: (...args: unknown[]) => void, requested: number): unknown {
    const ms = nodeTimerDelay(requested);
    const timer: Timer = { base: null, cancelled: false, fn };
    const shared = this.rate === 1 ? ms : Math.max(0, ms / this.rate);
    timer.base = this.base.setTimeout(() => this.fire(timer), shared);
    return timer;
  }

  /** run() for a timer, with no closure unless it has to wait for thaw. */
  private fire(timer: Timer): void {
    if (this.frozen) this.held.push(() => !timer.cancelled && timer.fn());
    else if (!timer.cancelled) timer.fn();
  }

  clearTimeout(id: unknown): void {
    const timer = id as Timer | null;
    if (!timer) return;
    timer.cancelled = true;
    this.base.clearTimeout(timer.base);
  }

  isFrozen(): boolean {
    return this.frozen;
  }

  freeze(): void {
    this.frozen = true;
  }

  thaw(): void {
    this.frozen = false;
    const held = this.held;
    this.held = [];
    for (const fn of held) {
      if (this.frozen) this.held.push(fn);
      else fn();
    }
  }

  /** Runs fn now, or at thaw when frozen. */
  run(fn: () => void): void {
    if (this.frozen) this.held.push(fn);
    else fn();
  }

  /** The same outcome as p, delivered only while not frozen (as run(), without its closures). */
  gate<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      p.then(
        (v) => {
          if (this.frozen) this.held.push(() => resolve(v));
          else resolve(v);
        },
        (e) => {
          if (this.frozen) this.held.push(() => reject(e));
          else reject(e);
        },
      );
    });
  }
}
