/**
 * One actor of a journal, replayed: the production machine (made inert, replayable()) started
 * with its recorded input on a clock that only moves to the recorded times and fires nothing —
 * the recorded timer events are fed like any other, and each is checked against the timers the
 * replay itself armed (`timerWasDue`).
 */
import { type AnyActorRef, type AnyStateMachine, createActor, fromCallback } from 'xstate';
import { type GuardOutcome, takeGuardOutcomes } from '../actors/guard-trace.ts';
import { nodeTimerDelay, RAISED_TIMER_EVENTS } from '../machines/timers.ts';
import { replayable } from './machines.ts';

/** XState's timer events (`after`), as XState names them. */
const TIMER_EVENT = 'xstate.after.';

/** A timer firing: XState's `after`, or a delayed event a machine raised itself. */
export function isTimerEvent(type: string): boolean {
  return type.startsWith(TIMER_EVENT) || RAISED_TIMER_EVENTS.has(type);
}

/** The simulator's largest clock drift (MAX_DRIFT_PPM, 0.5 %). */
const MAX_RATE_CHANGE = 0.005;

/**
 * A clock at the recorded time: timers are noted with their due time on the writer's steady
 * clock (the entries' `m`; their wall time `t` without it) and never fire.
 */
export class ReplayClock {
  private t = 0;
  private steady = 0;
  private nextId = 1;
  /** Armed timers: when due, and how early that may look (see timerWasDue). */
  private readonly due = new Map<number, { at: number; slack: number }>();

  at(entry: { t: number; m?: number }): void {
    this.t = entry.t;
    this.steady = entry.m ?? entry.t;
  }

  now(): number {
    return this.t;
  }

  setTimeout(_fn: unknown, ms: number): number {
    const id = this.nextId++;
    const delay = nodeTimerDelay(ms);
    this.due.set(id, { at: this.steady + delay, slack: 2 + delay * MAX_RATE_CHANGE });
    return id;
  }

  clearTimeout(id: unknown): void {
    this.due.delete(id as number);
  }

  /**
   * Whether a timer the replay armed was due when `entry` was written. A real timer fires at its
   * time or later, never earlier: 2 ms are allowed because Node's timers run on the event loop's
   * cached, whole-millisecond time, and MAX_RATE_CHANGE of the delay for the simulator, whose
   * timers armed before a clock-drift fault keep the rate they were armed at.
   */
  timerWasDue(entry: { t: number; m?: number }): boolean {
    const now = entry.m ?? entry.t;
    for (const due of this.due.values()) if (due.at - due.slack <= now) return true;
    return false;
  }
}

/** A parent for a replayed child machine: takes whatever the child sends up and ignores it. */
const PARENT = fromCallback(() => undefined);

export interface Step {
  /** The state after the event, as the journal writes it. */
  state: string;
  changed: boolean;
  guards: GuardOutcome[] | undefined;
  /** The machine threw (an action or a guard): its message. */
  error?: string;
}

export class ActorReplay {
  readonly clock = new ReplayClock();
  private readonly actor: AnyActorRef;
  private current: string;
  readonly first: Step;

  constructor(
    readonly name: string,
    private readonly machine: AnyStateMachine,
    input: unknown,
    at: { t: number; m?: number },
  ) {
    this.clock.at(at);
    const child = name.includes('.');
    const parent = child ? createActor(PARENT, { clock: this.clock }).start() : undefined;
    this.actor = createActor(replayable(machine), {
      id: name.split('.').pop(),
      input,
      clock: this.clock,
      ...(parent ? { parent } : {}),
    });
    // A machine that throws ends in status 'error' (reported by send), not as an uncaught error.
    this.actor.subscribe({ error: () => undefined });
    this.actor.start();
    this.current = this.read();
    this.first = { state: this.current, changed: true, guards: takeGuardOutcomes(machine.id) };
  }

  send(event: { type: string }, at: { t: number; m?: number }): Step {
    this.clock.at(at);
    this.actor.send(event);
    const guards = takeGuardOutcomes(this.machine.id);
    const snapshot = this.actor.getSnapshot() as { status: string; error?: unknown };
    const state = this.read();
    const changed = state !== this.current;
    this.current = state;
    const step: Step = { state, changed, guards };
    if (snapshot.status === 'error')
      step.error = String((snapshot.error as Error)?.message ?? snapshot.error);
    return step;
  }

  state(): string {
    return this.current;
  }

  context(): unknown {
    return (this.actor.getSnapshot() as { context?: unknown }).context;
  }

  private read(): string {
    const value = (this.actor.getSnapshot() as { value?: unknown }).value;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }
}
