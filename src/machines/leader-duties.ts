/**
 * What the leader does each time it publishes, beyond its member key: /status (the WAL position
 * replicas compare against when they race), its replication slots for the members, and the next
 * step of synchronous replication management (`nextSyncStep`, src/cluster/sync.ts) — in that
 * order, one I/O operation at a time, each decided on the cluster view as it is when the one
 * before has finished. A node that is not the leader has one duty: to let its synchronous
 * standbys go (the server parameters machine decides when: never while PostgreSQL is writable).
 *
 * Only the writable leader enters `leading`; synchronous replication is managed nowhere else.
 * The machine decides; the runtime (src/runtime/publisher.ts) carries out the `order` each
 * decision names and reports DONE (with the facts as they are then) or FAILED; the synchronous
 * step is the last duty, after which the machine is idle again. Every event is handled
 * synchronously, so the runtime reads the order right after sending.
 */
import { and, assign, setup } from 'xstate';
import type { PostgresStatus } from '../cluster/postgres-state.ts';
import { nextSyncStep, type SyncNamesInEffect, type SyncSettings, type SyncStep } from '../cluster/sync.ts';
import { desiredSlots } from '../cluster/topology.ts';
import type { ClusterView } from '../cluster/view.ts';

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
  | { kind: 'giveSlots'; slots: string[] }
  /** A synchronous replication step (perhaps none); `syncIndex`: /sync's index in the view it was decided on. */
  | { kind: 'sync'; step: SyncStep; syncIndex: string | undefined }
  /** Not the leader: the server parameters machine drops the synchronous standbys once it may. */
  | { kind: 'dropStandbys' };

export interface LeaderDutiesContext {
  /** This member's name. */
  me: string;
  /** The optime last written to /status (-1: none yet). */
  statusOptime: number;
  /** The slots last given to PostgreSQL, joined with ',' (none at first). */
  slotsGiven: string;
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
  | ({ type: 'DONE' } & LeaderFacts)
  /** The order failed: the rest waits for the next publication. */
  | { type: 'FAILED' };

const NO_ORDER: LeaderOrder = { kind: 'none' };

type PublishEvent = Extract<LeaderDutiesEvent, { type: 'PUBLISH' }>;

const isWritable = (s: PostgresStatus | null): boolean => s?.running === true && !s.inRecovery;

type PublishFacts = Pick<PublishEvent, 'isLeader' | 'status' | 'view' | 'synchronous'>;

/** The leader, PostgreSQL writable, a view to work from: the leader's duties are due. */
const writableLeader = (e: PublishFacts): boolean => e.isLeader && isWritable(e.status) && e.view !== null;

/** Not the leader, and synchronous standbys still named: they are to go (once it may). */
const standbysToLetGo = (e: PublishFacts): boolean => !e.isLeader && e.synchronous.names !== '';

/**
 * Whether a publication can give an order (the runtime sends only those; most are a replica's):
 * the writable leader's always can; another node's only while it still names synchronous standbys
 * (dropping them is its one duty); a leader not yet writable's never. Idle in between: a
 * publication left out changes nothing.
 */
export function publicationMatters(e: PublishFacts): boolean {
  return writableLeader(e) || standbysToLetGo(e);
}

/** The slots the members need from us, on the view as it is now. */
const slotsWanted = (c: LeaderDutiesContext): string[] => (c.view ? desiredSlots(c.view, c.me) : []);

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
    writableLeader: ({ event }) => event.type === 'PUBLISH' && writableLeader(event),
    /** Not the leader, still naming synchronous standbys (a leader not yet writable has no duty). */
    standbysToLetGo: ({ event }) => event.type === 'PUBLISH' && standbysToLetGo(event),
    /** The WAL position moved since /status was last written. */
    statusMoved: ({ context }) => (context.status?.currentLsn ?? 0) !== context.statusOptime,
    /** The members' slots changed (or this is a forced publication). */
    slotsToGive: ({ context }) => context.force || slotsWanted(context).join(',') !== context.slotsGiven,
    useSlots: ({ context }) => context.useSlots,
  },
  actions: {
    startLoop: assign(({ event }) => {
      const e = event as PublishEvent;
      return {
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
      order: ({ context }) => ({ kind: 'giveSlots', slots: slotsWanted(context) }) as LeaderOrder,
    }),
    noteSlotsGiven: assign({ slotsGiven: ({ context }) => slotsWanted(context).join(',') }),
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
    status: null,
    force: false,
    useSlots: true,
    sync: { synchronous_mode: false, synchronous_mode_strict: false, synchronous_node_count: 1 },
    view: null,
    synchronous: { names: '', inEffect: null, shown: undefined },
    order: NO_ORDER,
  }),
  initial: 'idle',
  states: {
    idle: {
      description: 'Between publications.',
      on: {
        PUBLISH: [
          {
            guard: 'writableLeader',
            target: 'leading',
            actions: 'startLoop',
            description: 'The writable leader: /status, slots and synchronous replication, in turn.',
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
              'The leader, but PostgreSQL not (yet) writable: nothing to publish beyond the member key.',
          },
        ],
      },
    },
    leading: {
      description: 'One duty at a time; a failed write leaves the rest to the next publication.',
      on: {
        FAILED: {
          target: 'idle',
          actions: 'orderNothing',
          description: 'Logged; the next publication tries again.',
        },
      },
      initial: 'status',
      states: {
        status: {
          always: [
            {
              guard: 'statusMoved',
              target: 'writingStatus',
              actions: 'orderWriteStatus',
              description: 'The WAL position moved: /status tells the replicas how far the leader is.',
            },
            { target: 'slots', description: '/status is current.' },
          ],
        },
        writingStatus: {
          on: {
            DONE: {
              target: 'slots',
              actions: ['noteStatusWritten', 'storeFresh'],
              description: 'Written; the slots are judged on the view as it is now.',
            },
          },
        },
        slots: {
          always: [
            {
              guard: and(['slotsToGive', 'useSlots']),
              target: 'givingSlots',
              actions: 'orderGiveSlots',
              description: 'Members came or went (or a forced publication): PostgreSQL gets their slots.',
            },
            {
              guard: 'slotsToGive',
              target: 'synchronous',
              actions: 'noteSlotsGiven',
              description: 'use_slots off: no slot is made; the members are only noted.',
            },
            { target: 'synchronous', description: 'The slots are as the members need them.' },
          ],
        },
        givingSlots: {
          on: {
            DONE: {
              target: 'synchronous',
              actions: ['noteSlotsGiven', 'storeFresh'],
              description: 'Given; synchronous replication is judged on the view as it is now.',
            },
          },
        },
        synchronous: {
          // The last duty: ordered even when it is none, and the publication ends with it (the
          // runtime carries it out and sends nothing back; the next publication judges its effect).
          always: {
            target: '#leaderDuties.idle',
            actions: 'orderSyncStep',
            description:
              'The next synchronous step, the last duty: /sync written or deleted, synchronous_standby_names set or reloaded again, or nothing.',
          },
        },
      },
    },
  },
});
