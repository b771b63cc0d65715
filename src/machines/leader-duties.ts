/**
 * What the leader does each time it publishes, beyond its member key: /status (the WAL position
 * replicas compare against when they race), its replication slots for the members, and the next
 * step of synchronous replication management (`nextSyncStep`, src/cluster/sync.ts) — in that
 * order, one I/O operation at a time, each decided on the cluster view as it is when the one
 * before has finished. A node that is not the leader has two: to let its synchronous standbys go
 * (the server parameters machine decides when: never while PostgreSQL is writable), and, as a
 * running standby with use_slots, to keep the slots of the members that replicate from it.
 *
 * Only the writable leader's publications take these duties; synchronous replication is managed
 * nowhere else.
 * The machine decides; the runtime (src/runtime/publisher.ts) carries out the `order` each
 * decision names and reports DONE (with the facts as they are then) or FAILED; the synchronous
 * step is the last duty, after which the machine is idle again. Every event is handled
 * synchronously, so the runtime reads the order right after sending.
 */
import { and, assign, setup } from 'xstate';
import type { PostgresStatus } from '../cluster/postgres-state.ts';
import type { SlotPlan } from '../cluster/replication-slots.ts';
import { nextSyncStep, type SyncNamesInEffect, type SyncSettings, type SyncStep } from '../cluster/sync.ts';
import type { ClusterView } from '../cluster/view.ts';
import { slotsOn, standbySlotsDue } from './duties-slots.ts';

export { standbySlotsDue };

/** synchronous_standby_names as the server parameters machine holds it (see its context). */
export interface SynchronousState {
  /** The value set. */
  names: string;
  /** Where it took effect and who has caught up under it. */
  inEffect: SyncNamesInEffect | null;
  /** What PostgreSQL showed in a sample begun after the last reload (undefined: none yet). */
  shown: string | undefined;
}

/** The one I/O operation the last event asks for. */
export type LeaderOrder =
  | { kind: 'none' }
  /** /status = { optime }. */
  | { kind: 'writeStatus'; optime: number }
  /** PostgreSQL's physical replication slots become exactly these. */
  | { kind: 'giveSlots'; slots: SlotPlan }
  /** A synchronous replication step (perhaps none); `syncIndex`: /sync's index in the view it was decided on. */
  | { kind: 'sync'; step: SyncStep; syncIndex: string | undefined }
  /** Not the leader: the server parameters machine drops the synchronous standbys once it may. */
  | { kind: 'dropStandbys' };

/** slotsGiven after a give that left an unwanted slot in use: no plan's key, so the next one differs. */
const SLOTS_BUSY = '\u0000busy';

export interface LeaderDutiesContext {
  /** This member's name. */
  me: string;
  /** The optime last written to /status (-1: none yet). */
  statusOptime: number;
  /** The slots last given to PostgreSQL, joined with ',' (none at first). */
  slotsGiven: string;
  /** Whether the loop under way is the leader's (its slots are the members'), or a standby's (its cascaders'). */
  leading: boolean;
  /** The loop under way: PostgreSQL's status when it began, and what it was asked. */
  status: PostgresStatus | null;
  force: boolean;
  useSlots: boolean;
  sync: SyncSettings;
  /** The cluster view and synchronous state as of the last step (read afresh after each write). */
  view: ClusterView | null;
  synchronous: SynchronousState;
  order: LeaderOrder;
}

/** What each step is decided on, read afresh after every write: it may change meanwhile. */
export interface LeaderFacts {
  view: ClusterView | null;
  synchronous: SynchronousState;
  useSlots: boolean;
  sync: SyncSettings;
}

export type LeaderDutiesEvent =
  /** A publication: this node's facts now. `force`: slots given again even if unchanged. */
  | ({ type: 'PUBLISH'; isLeader: boolean; status: PostgresStatus | null; force: boolean } & LeaderFacts)
  /** The order was carried out; the facts as they are now. */
  /** `slotsBusy`: the slots were given, but an unwanted one is still in use (dropped at a later give). */
  | ({ type: 'DONE'; slotsBusy?: boolean } & LeaderFacts)
  /** The order failed: the rest waits for the next publication. */
  | { type: 'FAILED' };

const NO_ORDER: LeaderOrder = { kind: 'none' };

export type PublishEvent = Extract<LeaderDutiesEvent, { type: 'PUBLISH' }>;

/** An order that leaves nothing to do: the machine at rest. */
export function atRest(order: LeaderOrder): boolean {
  return order.kind === 'none' || (order.kind === 'sync' && order.step.kind === 'none');
}

/**
 * Whether a publication changes nothing: the same facts (the same objects: each sample, view and
 * settings is a new one when anything in it changed) as the last, which left the machine at rest
 * with no I/O to do. The machine is deterministic, so the same event would again order nothing;
 * the publisher leaves it unsent (an at-rest leader publishes about once a second, and each event
 * carries the whole view into the journal).
 */
export function publicationChangesNothing(
  last: PublishEvent | null,
  next: PublishEvent,
  lastOrder: LeaderOrder,
): boolean {
  return (
    last !== null &&
    !next.force &&
    !last.force &&
    atRest(lastOrder) &&
    last.isLeader === next.isLeader &&
    last.status === next.status &&
    last.view === next.view &&
    last.useSlots === next.useSlots &&
    last.sync === next.sync &&
    last.synchronous.names === next.synchronous.names &&
    last.synchronous.inEffect === next.synchronous.inEffect &&
    last.synchronous.shown === next.synchronous.shown
  );
}

const isWritable = (s: PostgresStatus | null): boolean => s?.running === true && !s.inRecovery;

/** The leader, PostgreSQL writable, a view to work from: the leader's duties are due. */
const writableLeader = (
  isLeader: boolean,
  status: PostgresStatus | null,
  view: ClusterView | null,
): boolean => isLeader && isWritable(status) && view !== null;

/** Not the leader, and synchronous standbys still named: they are to go (once it may). */
const standbysToLetGo = (isLeader: boolean, names: string): boolean => !isLeader && names !== '';

/**
 * Whether a publication can give an order (the runtime sends only those; most are a replica's):
 * the writable leader's always can; another node's only while it still names synchronous standbys
 * (dropping them is its one duty); a leader not yet writable's never. A publication left out
 * changes nothing.
 */
export function publicationMatters(
  isLeader: boolean,
  status: PostgresStatus | null,
  view: ClusterView | null,
  synchronousNames: string,
  standbySlots: boolean,
): boolean {
  return (
    writableLeader(isLeader, status, view) || standbysToLetGo(isLeader, synchronousNames) || standbySlots
  );
}

/**
 * The facts a step is judged on: a PUBLISH brings them all; a DONE brings the fresh view and
 * settings, while the loop's PostgreSQL status and `force` are the PUBLISH's.
 */
function loopOf(c: LeaderDutiesContext, e: LeaderDutiesEvent) {
  if (e.type === 'PUBLISH') return { force: e.force, view: e.view, useSlots: e.useSlots };
  if (e.type === 'DONE') return { force: c.force, view: e.view, useSlots: e.useSlots };
  return { force: c.force, view: c.view, useSlots: c.useSlots };
}

/** The next synchronous step, on the view and synchronous state as they are now. */
function syncStepNow(c: LeaderDutiesContext): SyncStep {
  if (!c.view || !c.status) return { kind: 'none' };
  const { names, inEffect, shown } = c.synchronous;
  return nextSyncStep(c.view, c.me, c.status.replication, names, c.sync, inEffect, shown);
}

export const leaderDutiesMachine = setup({
  types: {
    context: {} as LeaderDutiesContext,
    events: {} as LeaderDutiesEvent,
    input: {} as { me: string },
  },
  guards: {
    /** The leader, PostgreSQL writable, a view to work from: the leader's duties are due. */
    writableLeader: ({ event }) =>
      event.type === 'PUBLISH' && writableLeader(event.isLeader, event.status, event.view),
    /** Not the leader, still naming synchronous standbys (a leader not yet writable has no duty). */
    standbysToLetGo: ({ event }) =>
      event.type === 'PUBLISH' && standbysToLetGo(event.isLeader, event.synchronous.names),
    /** The WAL position moved since /status was last written. */
    statusMoved: ({ context, event }) =>
      event.type === 'PUBLISH' && (event.status?.currentLsn ?? 0) !== context.statusOptime,
    /** The members' slots changed (or this is a forced publication). */
    slotsToGive: ({ context, event }) => {
      const loop = loopOf(context, event);
      return (
        loop.force ||
        slotsOn(loop.view, context.me, context.leading, loop.useSlots).key !== context.slotsGiven
      );
    },
    /** A running standby whose cascaders' slots changed (standbySlotsDue). */
    standbySlotsDue: ({ context, event }) =>
      event.type === 'PUBLISH' && standbySlotsDue(context.me, event, context.slotsGiven),
    /** The loop under way is a writable leader's (a standby cluster's leader has no synchronous step). */
    leadingWritable: ({ context }) =>
      context.leading && context.status?.running === true && !context.status.inRecovery,
  },
  actions: {
    startLoop: assign(({ event }) => {
      const e = event as PublishEvent;
      return {
        leading: e.isLeader,
        status: e.status,
        force: e.force,
        useSlots: e.useSlots,
        sync: e.sync,
        view: e.view,
        synchronous: e.synchronous,
        order: NO_ORDER,
      };
    }),
    storeFresh: assign(({ event }) => {
      const e = event as Extract<LeaderDutiesEvent, { type: 'DONE' }>;
      return {
        view: e.view,
        synchronous: e.synchronous,
        useSlots: e.useSlots,
        sync: e.sync,
        order: NO_ORDER,
      };
    }),
    orderNothing: assign({ order: NO_ORDER }),
    orderDropStandbys: assign({ order: { kind: 'dropStandbys' } as LeaderOrder }),
    orderWriteStatus: assign({
      order: ({ context }) =>
        ({ kind: 'writeStatus', optime: context.status?.currentLsn ?? 0 }) as LeaderOrder,
    }),
    noteStatusWritten: assign({ statusOptime: ({ context }) => context.status?.currentLsn ?? 0 }),
    orderGiveSlots: assign({
      order: ({ context }) =>
        ({
          kind: 'giveSlots',
          slots: slotsOn(context.view, context.me, context.leading, context.useSlots).plan,
        }) as LeaderOrder,
    }),
    /**
     * The slots given are noted, so the same are not given again — unless an unwanted one was
     * still in use: then nothing is noted, and the next publication gives them again.
     */
    noteSlotsGiven: assign({
      slotsGiven: ({ context, event }) =>
        event.type === 'DONE' && event.slotsBusy
          ? SLOTS_BUSY
          : slotsOn(context.view, context.me, context.leading, context.useSlots).key,
    }),
    orderSyncStep: assign({
      order: ({ context }) =>
        ({
          kind: 'sync',
          step: syncStepNow(context),
          syncIndex: context.view?.sync?.index,
        }) as LeaderOrder,
    }),
  },
}).createMachine({
  id: 'leaderDuties',
  description:
    "The leader's duties at each publication: /status, replication slots, synchronous replication.",
  context: ({ input }) => ({
    me: input.me,
    statusOptime: -1,
    slotsGiven: '',
    leading: false,
    status: null,
    force: false,
    useSlots: true,
    sync: { synchronous_mode: false, synchronous_mode_strict: false, synchronous_node_count: 1 },
    view: null,
    synchronous: { names: '', inEffect: null, shown: undefined },
    order: NO_ORDER,
  }),
  initial: 'idle',
  // Flat on purpose: most publications are the leader's with nothing new, answered by one
  // targetless transition (no state entered or left).
  states: {
    idle: {
      description: 'Between publications, and a publication with only its synchronous step to take.',
      on: {
        PUBLISH: [
          {
            guard: and(['writableLeader', 'statusMoved']),
            target: 'writingStatus',
            actions: ['startLoop', 'orderWriteStatus'],
            description:
              'The writable leader whose WAL position moved: /status first, for the replicas racing.',
          },
          {
            guard: and(['writableLeader', 'slotsToGive']),
            target: 'givingSlots',
            actions: ['startLoop', 'orderGiveSlots'],
            description:
              'Members came or went, /config changed its slots (or a forced publication): PostgreSQL gets them; with use_slots off, only the permanent physical ones, the members’ dropped.',
          },
          {
            guard: 'writableLeader',
            actions: ['startLoop', 'orderSyncStep'],
            description:
              'Nothing else new: the synchronous step (/sync written or deleted, synchronous_standby_names set or reloaded again, or nothing).',
          },
          {
            guard: 'standbySlotsDue',
            target: 'givingSlots',
            actions: ['startLoop', 'orderGiveSlots'],
            description:
              'A running standby: the members that replicate from it came or went (or its slots as leader are left): PostgreSQL gets their slots.',
          },
          {
            guard: 'standbysToLetGo',
            actions: 'orderDropStandbys',
            description:
              'Not the leader, still naming synchronous standbys: they go, once PostgreSQL is not writable (the server parameters machine decides when).',
          },
          {
            actions: 'orderNothing',
            description:
              'The leader with PostgreSQL not (yet) writable, or another node naming nobody: nothing beyond the member key.',
          },
        ],
      },
    },
    writingStatus: {
      description: '/status is being written; the rest is judged on the facts as they are once it is.',
      on: {
        DONE: [
          {
            guard: 'slotsToGive',
            target: 'givingSlots',
            actions: ['noteStatusWritten', 'storeFresh', 'orderGiveSlots'],
            description: 'Written; the members (or the slots in /config) changed: the slots next.',
          },
          {
            target: 'idle',
            actions: ['noteStatusWritten', 'storeFresh', 'orderSyncStep'],
            description: 'Written; then the synchronous step, the last duty.',
          },
        ],
        FAILED: {
          target: 'idle',
          actions: 'orderNothing',
          description: 'Logged; the next publication tries again.',
        },
      },
    },
    givingSlots: {
      description: "PostgreSQL's replication slots are being made or dropped.",
      on: {
        DONE: [
          {
            guard: 'leadingWritable',
            target: 'idle',
            actions: ['noteSlotsGiven', 'storeFresh', 'orderSyncStep'],
            description:
              'Given (noted on the view they were computed from); then the synchronous step, the last duty.',
          },
          {
            target: 'idle',
            actions: ['noteSlotsGiven', 'storeFresh', 'orderNothing'],
            description:
              "A standby's slots given (a standby leader's too): a standby has no synchronous step.",
          },
        ],
        FAILED: {
          target: 'idle',
          actions: 'orderNothing',
          description: 'Logged; the next publication tries again.',
        },
      },
    },
  },
});
