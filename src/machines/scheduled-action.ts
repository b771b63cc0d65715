/**
 * One action waiting for its time: a scheduled restart, or a scheduled switchover. Time comes
 * only from the actor clock (`after`), the wall-clock "now" only inside the SCHEDULE event, so
 * the same machine runs in production, in the simulator and in tests.
 *
 *   idle ──SCHEDULE──► waiting ──(at − now elapsed)──► idle, emits `due`
 *     ▲                   │  ▲
 *     └──────CANCEL───────┘  └─ (24.8 days elapsed, more to wait): waiting again
 *
 * A second SCHEDULE while waiting emits `conflict`. No timer is longer than Node's limit (see
 * timers.ts): a wait of months is a chain of waits of at most LONGEST_TIMER_MS, each moving the
 * machine's reading of "now" on by exactly the time it waited.
 */
import { assign, emit, setup } from 'xstate';
import { LONGEST_TIMER_MS } from './timers.ts';

export interface Scheduled<P> {
  /** Identifies what is scheduled (e.g. the /failover key's mod_revision), so a repeat is not a conflict. */
  id: string;
  /** Epoch ms it is due at, and the sender's clock reading when it scheduled it (moved on by each step of a long wait). */
  atMs: number;
  nowMs: number;
  payload: P;
}

export type ScheduledActionEvent<P> = ({ type: 'SCHEDULE' } & Scheduled<P>) | { type: 'CANCEL'; id?: string };

export type ScheduledActionEmitted<P> =
  | { type: 'due'; id: string; atMs: number; payload: P; lateMs: number }
  | { type: 'conflict'; id: string }
  | { type: 'cancelled'; id: string }
  | { type: 'nothing-to-cancel' };

/** How long until it is due, by the machine's reading of now (0 when already due, or nothing pending). */
function remainingMs<P>(pending: Scheduled<P> | null): number {
  return pending ? Math.max(0, pending.atMs - pending.nowMs) : 0;
}

export function scheduledActionMachine<P>() {
  return setup({
    types: {
      context: {} as { pending: Scheduled<P> | null },
      events: {} as ScheduledActionEvent<P>,
      emitted: {} as ScheduledActionEmitted<P>,
    },
    delays: {
      untilDueOrLongestTimer: ({ context }) => Math.min(LONGEST_TIMER_MS, remainingMs(context.pending)),
    },
    guards: {
      dueNow: ({ context }) => remainingMs(context.pending) <= LONGEST_TIMER_MS,
      sameAsPending: ({ context, event }) => event.type === 'SCHEDULE' && event.id === context.pending?.id,
      cancelsPending: ({ context, event }) =>
        event.type === 'CANCEL' && (event.id === undefined || event.id === context.pending?.id),
    },
  }).createMachine({
    id: 'scheduledAction',
    context: { pending: null },
    initial: 'idle',
    states: {
      idle: {
        description: 'Nothing scheduled.',
        tags: ['resting'],
        on: {
          SCHEDULE: {
            target: 'waiting',
            actions: assign({
              pending: ({ event }) => ({
                id: event.id,
                atMs: event.atMs,
                nowMs: event.nowMs,
                payload: event.payload,
              }),
            }),
          },
          CANCEL: { actions: emit({ type: 'nothing-to-cancel' }) },
        },
      },
      waiting: {
        description: 'Armed: fires when its time comes unless cancelled first.',
        // As long as the operator asked for: not bounded like the other timers.
        tags: ['resting'],
        after: {
          untilDueOrLongestTimer: [
            {
              guard: 'dueNow',
              target: 'idle',
              actions: [
                emit(({ context }) => ({
                  type: 'due' as const,
                  id: context.pending!.id,
                  atMs: context.pending!.atMs,
                  payload: context.pending!.payload,
                  lateMs: Math.max(0, context.pending!.nowMs - context.pending!.atMs),
                })),
                assign({ pending: null }),
              ],
            },
            {
              // Waited the longest timer Node arms, and more is left: wait again from here.
              target: 'waiting',
              reenter: true,
              actions: assign({
                pending: ({ context }) => ({
                  ...context.pending!,
                  nowMs: context.pending!.nowMs + LONGEST_TIMER_MS,
                }),
              }),
            },
          ],
        },
        on: {
          SCHEDULE: [
            { guard: 'sameAsPending' },
            {
              actions: emit(({ event }) => ({ type: 'conflict' as const, id: (event as { id: string }).id })),
            },
          ],
          CANCEL: [
            {
              guard: 'cancelsPending',
              target: 'idle',
              actions: [
                emit(({ context }) => ({ type: 'cancelled' as const, id: context.pending!.id })),
                assign({ pending: null }),
              ],
            },
          ],
        },
      },
    },
  });
}
