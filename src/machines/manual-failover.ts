/**
 * One POST /switchover or /failover, from the checks to the answer: the REST route validates the
 * request and starts this machine; the machine asks (a fresh read of the cluster, the members
 * that could take over), judges with Patroni's is_failover_possible (src/cluster/manual-failover.ts),
 * writes the request to /failover, and then watches the cluster views the node receives until
 * one shows the outcome or the deadline passes. Its output is the answer the route sends.
 *
 * Every I/O step is an invoked actor that does exactly that step (readCluster, probeMembers,
 * writeFailoverRequest); the clock only through `after`. The node's HA loop carries the request
 * out: this machine never changes a role, it only writes what the operator asked for and says
 * what became of it.
 */
import { assign, emit, setup } from 'xstate';
import type { PeerStatus } from '../cluster/eligibility.ts';
import {
  FIRST_LOOK_MS,
  failoverImpossible,
  lookAtOutcome,
  type ManualOutcome,
  type ManualRequest,
  membersToAsk,
  outcomeDeadlineMs,
  outcomeUnknown,
  title,
} from '../cluster/manual-failover.ts';
import type { ClusterView, Member } from '../cluster/view.ts';
import { doneOutput } from './done-output.ts';
import { notProvided } from './not-provided.ts';

/** What the REST route answers: Patroni's status code and text. */
export interface ManualAnswer {
  status: number;
  text: string;
}

export interface ManualFailoverInput {
  request: ManualRequest;
  /** When the operator asked for it to happen (ISO 8601, validated by the route), or null: now. */
  scheduledAt: string | null;
  /** The node's view when the request arrived (the leader it names as the old one). */
  view: ClusterView | null;
  /** loop_wait in seconds: the wait for the outcome is two loops, at least 20 s. */
  loopWait: number;
}

export interface ManualFailoverContext extends ManualFailoverInput {
  /** The leader when the request was made: a new one running writable is the outcome. */
  oldLeader: string | undefined;
  /** The fresh read of the cluster the checks judge (null until read). */
  fresh: ClusterView | null;
  /** Whether a view has shown the request in /failover yet (see lookAtOutcome). */
  requestSeen: boolean;
  /** FIRST_LOOK_MS have passed since the write: an absent request now means "cleared". */
  firstLookPassed: boolean;
  answer: ManualAnswer | null;
}

export type ManualFailoverEvent =
  /** Every cluster view the node receives (the DCS watch), in order. */
  { type: 'CLUSTER'; view: ClusterView };

/** The node should run its HA decisions now rather than at its next loop. */
export type ManualFailoverEmitted = { type: 'wake' };

const refusal = (c: ManualFailoverContext) => (c.fresh ? membersToAsk(c.fresh, c.request) : null);

/** The outcome the latest view shows, if any. */
function outcomeInView(c: ManualFailoverContext): ManualOutcome | null {
  if (!c.view) return null;
  return lookAtOutcome(c.view, awaiting(c), c.firstLookPassed ? FIRST_LOOK_MS : 0).outcome;
}

function awaiting(c: ManualFailoverContext) {
  return {
    action: c.request.action,
    oldLeader: c.oldLeader,
    candidate: c.request.candidate,
    requestSeen: c.requestSeen,
  };
}

/** /failover's value: Patroni's keys, only those the operator gave. */
export function failoverValue(
  c: Pick<ManualFailoverContext, 'request' | 'scheduledAt'>,
): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  if (c.request.leader) value['leader'] = c.request.leader;
  if (c.request.candidate) value['member'] = c.request.candidate;
  if (c.scheduledAt) value['scheduled_at'] = c.scheduledAt;
  return value;
}

export const manualFailoverMachine = setup({
  types: {
    context: {} as ManualFailoverContext,
    input: {} as ManualFailoverInput,
    events: {} as ManualFailoverEvent,
    emitted: {} as ManualFailoverEmitted,
    output: {} as ManualAnswer,
  },
  // Provided by src/runtime/manual-failovers.ts (a test gives its own); each does one I/O step.
  actors: {
    /** A fresh read of the whole cluster (not the watch's cache), as Patroni's API does. */
    readCluster: notProvided<ClusterView, void>(),
    /** GET /patroni of each member (2 s, no retries); an unreachable one answers reachable: false. */
    probeMembers: notProvided<PeerStatus[], { members: Member[] }>(),
    /** Writes /failover; false when it failed (it never rejects; nor does a probe). */
    writeFailoverRequest: notProvided<boolean, { value: Record<string, unknown> }>(),
  },
  delays: {
    firstLook: FIRST_LOOK_MS,
    outcomeDeadline: ({ context }) => outcomeDeadlineMs(context.loopWait),
  },
  guards: {
    /** A scheduled request is only written: the checks run when it is due, on the leader. */
    scheduled: ({ context }) => context.scheduledAt !== null,
    /** The fresh view alone refuses it: the leader named is not the leader, no such candidate, ... */
    refusedOutright: ({ context }) => {
      const r = refusal(context);
      return r !== null && 'refused' in r;
    },
    /** No asked member could take over (is_failover_possible says no). */
    noneCanTakeOver: ({ context, event }) =>
      context.fresh !== null &&
      failoverImpossible(context.fresh, context.request, doneOutput<PeerStatus[]>(event)) !== null,
    /** etcd did not take the /failover write. */
    notWritten: ({ event }) => doneOutput<boolean>(event) !== true,
    /** The latest view shows what became of the request. */
    outcomeSeen: ({ context }) => outcomeInView(context) !== null,
  },
  actions: {
    storeView: assign({ view: ({ event }) => event.view }),
    storeFresh: assign({ fresh: ({ event }) => doneOutput<ClusterView>(event) }),
    noteRequestSeen: assign({
      requestSeen: ({ context }) =>
        context.view ? lookAtOutcome(context.view, awaiting(context), 0).requestSeen : context.requestSeen,
    }),
    noteFirstLook: assign({ firstLookPassed: true }),
    answerDcsUnreadable: assign({ answer: { status: 503, text: 'DCS is not accessible' } }),
    answerRefusal: assign({
      answer: ({ context }) => {
        const r = refusal(context);
        return { status: 412, text: r && 'refused' in r ? r.refused : '' };
      },
    }),
    answerImpossible: assign({
      answer: ({ context, event }) => ({
        status: 412,
        text:
          failoverImpossible(
            context.fresh as ClusterView,
            context.request,
            doneOutput<PeerStatus[]>(event),
          ) ?? '',
      }),
    }),
    answerNotWritten: assign({
      answer: ({ context }) => ({
        status: 503,
        text: `failed to write ${context.request.action} key into DCS`,
      }),
    }),
    answerScheduled: assign({
      answer: ({ context }) => ({ status: 202, text: `${title(context.request.action)} scheduled` }),
    }),
    answerOutcome: assign({ answer: ({ context }) => outcomeInView(context) }),
    answerUnknown: assign({ answer: ({ context }) => outcomeUnknown(context.request.action) }),
    wakeNode: emit({ type: 'wake' } as const),
  },
}).createMachine({
  id: 'manualFailover',
  description: 'One operator switchover or failover request, from its checks to its answer.',
  context: ({ input }) => ({
    ...input,
    oldLeader: input.view?.leader?.name ?? input.request.leader,
    fresh: null,
    requestSeen: false,
    firstLookPassed: false,
    answer: null,
  }),
  // Views arrive all along: the outcome is judged against the latest one.
  on: {
    CLUSTER: { actions: 'storeView', description: 'Keep the latest view: the outcome is read from it.' },
  },
  initial: 'received',
  states: {
    received: {
      always: [
        {
          guard: 'scheduled',
          target: 'writing',
          description: 'Scheduled: nothing to check now, the leader checks when it is due (as Patroni).',
        },
        { target: 'readingCluster', description: 'Now: first see whether anyone could take over.' },
      ],
    },
    readingCluster: {
      description: 'A fresh read of the cluster: the watch may lag what the checks must see.',
      invoke: {
        src: 'readCluster',
        onDone: {
          target: 'checking',
          actions: 'storeFresh',
          description: 'Judge the request against what etcd holds now.',
        },
        onError: {
          target: 'answered',
          actions: 'answerDcsUnreadable',
          description: 'Without a view of the cluster nothing can be judged: 503.',
        },
      },
    },
    checking: {
      always: [
        {
          guard: 'refusedOutright',
          target: 'answered',
          actions: 'answerRefusal',
          description: 'The view alone refuses it (leader, candidate or /sync do not match): 412.',
        },
        { target: 'probing', description: 'Ask the members that could take over how they are.' },
      ],
    },
    probing: {
      description: 'GET /patroni of the candidate, the synchronous standbys, or every replica.',
      invoke: {
        src: 'probeMembers',
        input: ({ context }) => {
          const r = refusal(context);
          return { members: r && 'members' in r ? r.members : [] };
        },
        onDone: [
          {
            guard: 'noneCanTakeOver',
            target: 'answered',
            actions: 'answerImpossible',
            description: 'Nobody asked is fit to take over (or the candidate is behind the timeline): 412.',
          },
          { target: 'writing', description: 'Someone can take over: write the request.' },
        ],
      },
    },
    writing: {
      description: 'The request goes to /failover; the leader (or the candidate) carries it out.',
      invoke: {
        src: 'writeFailoverRequest',
        input: ({ context }) => ({ value: failoverValue(context) }),
        onDone: [
          {
            guard: 'notWritten',
            target: 'answered',
            actions: 'answerNotWritten',
            description: 'etcd did not take it: nothing will happen, say so (503).',
          },
          {
            guard: 'scheduled',
            target: 'answered',
            actions: 'answerScheduled',
            description: 'Scheduled: written is all that is asked now (202).',
          },
          {
            target: 'awaitingOutcome',
            actions: 'wakeNode',
            description: 'Written: run the HA decisions now, then watch for the outcome.',
          },
        ],
      },
    },
    awaitingOutcome: {
      description:
        'Watching the views until a new leader runs writable, the request is dropped, or time is up.',
      // The view as it stands may show the request already (the watch was quick).
      entry: 'noteRequestSeen',
      always: {
        guard: 'outcomeSeen',
        target: 'answered',
        actions: 'answerOutcome',
        description:
          'The latest view shows the new leader writable, or the request gone with the old leader.',
      },
      on: {
        CLUSTER: {
          actions: ['storeView', 'noteRequestSeen'],
          description: 'A new view: note whether it shows the request, then look at it.',
        },
      },
      after: {
        firstLook: {
          actions: 'noteFirstLook',
          description: 'A second after the write, a request absent from /failover counts as cleared.',
        },
        outcomeDeadline: {
          target: 'answered',
          actions: 'answerUnknown',
          description: 'Two loops passed without an outcome: the status is unknown (503), as in Patroni.',
        },
      },
    },
    answered: { type: 'final' },
  },
  output: ({ context }) => context.answer ?? { status: 503, text: 'no answer' },
});
