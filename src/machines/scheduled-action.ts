/**
 * One action waiting for its time: a scheduled restart, or a scheduled switchover. Waits come
 * from the actor clock (`after`, which never steps); whether the time has come is judged by the
 * wall clock, read in SCHEDULE and again by the `readClock` actor when a wait ends, so the same
 * machine runs in production, in the simulator and in tests.
 *
 *   idle ──SCHEDULE──► pending.waiting ──(at − now elapsed)──► pending.checkingClock
 *     ▲                   ▲                                          │
 *     │                   └────── wall clock not there yet ──────────┤
 *     └──CANCEL──(pending)          wall clock at or past `at` ──────┴──► idle, emits `due`
 *
 * The wall clock may have stepped while it waited (NTP, a VM resumed): stepped back, the time has
 * not come yet and it waits again; stepped forward, it is due at the end of the wait it was in.
 * A second SCHEDULE while pending emits `conflict`. No timer is longer than Node's limit (see
 * timers.ts): a wait of months is a chain of waits of at most LONGEST_TIMER_MS.
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import { LONGEST_TIMER_MS } from './timers.ts';

export interface Scheduled<P> {
  /** Identifies what is scheduled (e.g. the /failover key's mod_revision), so a repeat is not a conflict. */
  id: string;
  /** Epoch ms it is due at, and the sender's clock reading when it scheduled it (moved on by each step of a long wait). */
  atMs: number;
  nowMs: number;
  payload: P;
}

/**
 * SCHEDULE without nowMs: the machine reads the clock itself first (a sender with no clock, such
 * as the node machine). `replace`: another id while one is pending takes its place instead of
 * being refused as a conflict.
 */
export type ScheduledActionEvent<P> =
  | ({ type: 'SCHEDULE'; replace?: boolean } & Omit<Scheduled<P>, 'nowMs'> & { nowMs?: number })
  | { type: 'CANCEL'; id?: string };

/**
 * Run as a child (the node machine's restart scheduler): `dueEvent` names the event its parent
 * receives when the action is due, beside the `due` it emits to listeners.
 */
export interface ScheduledActionInput {
  dueEvent?: string;
}

/** What a parent receives when its scheduled action is due (type: the input's dueEvent). */
export interface ScheduledDueEvent<P> {
  type: string;
  id: string;
  payload: P;
  lateMs: number;
}

export type ScheduledActionEmitted<P> =
  | { type: 'due'; id: string; atMs: number; payload: P; lateMs: number }
  | { type: 'conflict'; id: string }
  | { type: 'cancelled'; id: string }
  | { type: 'nothing-to-cancel' };

/** How long until it is due, by the machine's reading of now (0 when already due, or nothing pending). */
function remainingMs<P>(pending: Scheduled<P> | null): number {
  if (!pending) return 0;
  // Now unknown (the clock could not be read yet): wait as long as a timer may, then read it again.
  if (Number.isNaN(pending.nowMs)) return LONGEST_TIMER_MS;
  return Math.max(0, pending.atMs - pending.nowMs);
}

export function scheduledActionMachine<P>() {
  return setup({
    types: {
      context: {} as { pending: Scheduled<P> | null; dueEvent: string | null },
      events: {} as ScheduledActionEvent<P>,
      input: {} as ScheduledActionInput,
      emitted: {} as ScheduledActionEmitted<P>,
    },
    actors: {
      /** The wall clock, epoch ms (provided by whoever runs the machine: its only I/O). */
      readClock: fromPromise<number>(async () => {
        throw new Error('readClock not provided');
      }),
    },
    delays: {
      untilDueOrLongestTimer: ({ context }) => Math.min(LONGEST_TIMER_MS, remainingMs(context.pending)),
    },
    actions: {
      /** The wait ended: the machine's reading of now moves on by what it waited, or to the clock's. */
      waited: assign({
        pending: ({ context }) => ({
          ...context.pending!,
          nowMs: context.pending!.nowMs + Math.min(LONGEST_TIMER_MS, remainingMs(context.pending)),
        }),
      }),
      readNow: assign({
        pending: ({ context, event }) => ({
          ...context.pending!,
          nowMs: (event as unknown as { output: number }).output,
        }),
      }),
      emitDue: emit(({ context }) => ({
        type: 'due' as const,
        id: context.pending!.id,
        atMs: context.pending!.atMs,
        payload: context.pending!.payload,
        lateMs: Math.max(0, context.pending!.nowMs - context.pending!.atMs),
      })),
      /** A child tells its parent too (standalone, nobody listens but the emit's subscribers). */
      tellParent: enqueueActions(({ context, enqueue }) => {
        const p = context.pending!;
        if (context.dueEvent === null) return;
        const due: ScheduledDueEvent<P> = {
          type: context.dueEvent,
          id: p.id,
          payload: p.payload,
          lateMs: Math.max(0, p.nowMs - p.atMs),
        };
        enqueue.sendParent(due as never);
      }),
      forget: assign({ pending: null }),
      take: assign({
        pending: ({ event }) => {
          const e = event as Extract<ScheduledActionEvent<P>, { type: 'SCHEDULE' }>;
          return { id: e.id, atMs: e.atMs, nowMs: e.nowMs ?? Number.NaN, payload: e.payload };
        },
      }),
    },
    guards: {
      dueNow: ({ context }) => remainingMs(context.pending) <= 0,
      dueByClock: ({ context, event }) =>
        (event as unknown as { output: number }).output >= context.pending!.atMs,
      sameAsPending: ({ context, event }) => event.type === 'SCHEDULE' && event.id === context.pending?.id,
      replacesPending: ({ event }) => event.type === 'SCHEDULE' && event.replace === true,
      /** The sender gave its clock reading; otherwise the clock is read before waiting. */
      nowKnown: ({ context }) => !Number.isNaN(context.pending!.nowMs),
      cancelsPending: ({ context, event }) =>
        event.type === 'CANCEL' && (event.id === undefined || event.id === context.pending?.id),
    },
  }).createMachine({
    id: 'scheduledAction',
    context: ({ input }) => ({ pending: null, dueEvent: input?.dueEvent ?? null }),
    initial: 'idle',
    states: {
      idle: {
        description: 'Nothing scheduled.',
        tags: ['resting'],
        on: {
          SCHEDULE: {
            target: 'pending',
            actions: 'take',
            description: 'Something to carry out later: held until its time comes.',
          },
          CANCEL: {
            actions: emit({ type: 'nothing-to-cancel' }),
            description: 'Nothing is waiting: listeners are told there was nothing to cancel.',
          },
        },
      },
      pending: {
        initial: 'arming',
        on: {
          SCHEDULE: [
            {
              guard: 'sameAsPending',
              description:
                'The same request again (same id): not a conflict, and its wait goes on untouched.',
            },
            {
              guard: 'replacesPending',
              target: 'pending',
              reenter: true,
              actions: 'take',
              description: 'A new request replaces the one waiting (the /failover key was rewritten).',
            },
            {
              actions: emit(({ event }) => ({ type: 'conflict' as const, id: (event as { id: string }).id })),
              description: 'Another request while one waits: refused as a conflict, the waiting one is kept.',
            },
          ],
          CANCEL: [
            {
              guard: 'cancelsPending',
              target: 'idle',
              actions: [
                emit(({ context }) => ({ type: 'cancelled' as const, id: context.pending!.id })),
                'forget',
              ],
              description:
                'Cancelled by its id (or with none given): it never fires, and listeners are told.',
            },
          ],
        },
        states: {
          arming: {
            always: [
              {
                guard: 'nowKnown',
                target: 'waiting',
                description: 'The sender gave its clock reading: how long to wait is known.',
              },
              {
                target: 'checkingClock',
                description:
                  'No reading from the sender (the node machine has no clock): read the wall clock first.',
              },
            ],
          },
          waiting: {
            description: 'Armed: fires when its time comes unless cancelled first.',
            // As long as the operator asked for: not bounded like the other timers.
            tags: ['resting'],
            after: {
              untilDueOrLongestTimer: {
                target: 'checkingClock',
                actions: 'waited',
                description: 'The wait (at most the longest timer Node allows) is over: ask the wall clock.',
              },
            },
          },
          checkingClock: {
            description: 'A wait ended: is it time by the wall clock (which may have stepped meanwhile)?',
            invoke: {
              src: 'readClock',
              onDone: [
                {
                  guard: 'dueByClock',
                  target: '#scheduledAction.idle',
                  actions: ['readNow', 'emitDue', 'tellParent', 'forget'],
                  description:
                    'The wall clock is at or past its time: due now, told to listeners and the parent.',
                },
                {
                  target: 'waiting',
                  actions: 'readNow',
                  description:
                    'Not yet by the wall clock (it stepped back, or a long wait goes on): wait the rest.',
                },
              ],
              // A clock that cannot be read: the time waited decides, as before the wait ended.
              onError: [
                {
                  guard: 'dueNow',
                  target: '#scheduledAction.idle',
                  actions: ['emitDue', 'tellParent', 'forget'],
                  description: 'No wall clock to read: the time waited says it is due.',
                },
                {
                  target: 'waiting',
                  description: 'No wall clock to read, and by the time waited it is not due yet.',
                },
              ],
            },
          },
        },
      },
    },
  });
}
