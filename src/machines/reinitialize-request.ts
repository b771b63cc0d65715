/**
 * One POST /reinitialize, from Patroni's preconditions to the answer: a fresh read of the cluster
 * (never the watch's cache: a node cut off from etcd still sees the leader it last knew, and a
 * wiped data directory cannot be undone), Patroni's checks (src/cluster/reinitialize.ts), then the
 * request handed to the node machine, which starts the rebuild or says what keeps it busy. Its
 * output is the answer the route sends.
 *
 * Each I/O step is an invoked actor that does exactly that step (readCluster, askNode); the wait
 * for the node's answer is bounded here, with `after`. This machine never touches the data
 * directory: the node machine does, after its own checks.
 */
import { assign, setup } from 'xstate';
import { reinitializeRefusal } from '../cluster/reinitialize.ts';
import type { ClusterView } from '../cluster/view.ts';
import { doneOutput } from './done-output.ts';
import type { ManualAnswer } from './manual-failover.ts';
import { notProvided } from './not-provided.ts';

export interface ReinitializeRequestInput {
  /** This member's name. */
  me: string;
  /** Whether this node held the leader lock when the request arrived. */
  iHoldTheLock: boolean;
  /** POST /reinitialize's `force`: served even while a start, clone or rewind runs. */
  force: boolean;
}

/** The node machine's answer: the rebuild started (or queued), or what keeps it busy. */
export type NodeReinitializeAnswer = { started: true } | { started: false; action: string };

export interface ReinitializeRequestContext extends ReinitializeRequestInput {
  /** The fresh read the checks judge (null until read). */
  fresh: ClusterView | null;
  answer: ManualAnswer | null;
}

/** How long the node machine has to answer: it answers at once unless it is not running. */
export const NODE_ANSWER_MS = 5000;

const refusalOf = (c: ReinitializeRequestContext) =>
  c.fresh ? reinitializeRefusal(c.fresh, c.me, c.iHoldTheLock) : null;

export const reinitializeRequestMachine = setup({
  types: {
    context: {} as ReinitializeRequestContext,
    input: {} as ReinitializeRequestInput,
    output: {} as ManualAnswer,
  },
  // Provided by src/runtime/reinitialize-requests.ts (a test gives its own).
  actors: {
    /** A fresh read of the whole cluster (not the watch's cache), as Patroni's API does. */
    readCluster: notProvided<ClusterView, void>(),
    /** REINITIALIZE sent to the node machine; resolves with the answer it emits for it. */
    askNode: notProvided<NodeReinitializeAnswer, { force: boolean }>(),
  },
  delays: { nodeAnswer: NODE_ANSWER_MS },
  guards: {
    /** No leader to clone from, or this node is the leader (Patroni's two refusals). */
    refused: ({ context }) => refusalOf(context) !== null,
    nodeStarted: ({ event }) => doneOutput<NodeReinitializeAnswer>(event).started,
  },
  actions: {
    storeFresh: assign({ fresh: ({ event }) => doneOutput<ClusterView>(event) }),
    answerDcsUnreadable: assign({
      answer: ({ event }) => ({
        status: 503,
        text: `DCS is not accessible: ${(event as { error?: { message?: string } }).error?.message ?? 'unknown error'}`,
      }),
    }),
    answerRefusal: assign({ answer: ({ context }) => ({ status: 503, text: refusalOf(context) ?? '' }) }),
    answerStarted: assign({ answer: { status: 200, text: 'reinitialize started' } }),
    answerBusy: assign({
      answer: ({ event }) => {
        const a = doneOutput<NodeReinitializeAnswer>(event);
        return { status: 503, text: `${'action' in a ? a.action : 'reinitialize'} already in progress` };
      },
    }),
    // Patroni's text when nothing can be started: the node machine is not taking requests.
    answerNoAnswer: assign({ answer: { status: 503, text: 'reinitialize already in progress' } }),
  },
}).createMachine({
  id: 'reinitializeRequest',
  description: "One operator POST /reinitialize, from Patroni's preconditions to its answer.",
  context: ({ input }) => ({ ...input, fresh: null, answer: null }),
  initial: 'readingCluster',
  states: {
    readingCluster: {
      description: 'A fresh read of the cluster: the watch may still show a leader that is gone.',
      invoke: {
        src: 'readCluster',
        onDone: {
          target: 'checking',
          actions: 'storeFresh',
          description: 'Judge it on what etcd holds now.',
        },
        onError: {
          target: 'answered',
          actions: 'answerDcsUnreadable',
          description: 'Without a view nobody can be cloned from safely: 503, nothing removed.',
        },
      },
    },
    checking: {
      always: [
        {
          guard: 'refused',
          target: 'answered',
          actions: 'answerRefusal',
          description: "No leader to clone from, or this node is the leader: 503 with Patroni's text.",
        },
        {
          target: 'askingNode',
          description: 'A leader to clone from that is not us: the node decides the rest.',
        },
      ],
    },
    askingNode: {
      description: 'The node machine starts the rebuild, queues a forced one, or says what it is busy with.',
      invoke: {
        src: 'askNode',
        input: ({ context }) => ({ force: context.force }),
        onDone: [
          {
            guard: 'nodeStarted',
            target: 'answered',
            actions: 'answerStarted',
            description: 'Started (or queued behind what runs, when forced): 200.',
          },
          {
            target: 'answered',
            actions: 'answerBusy',
            description: 'Something else runs and it was not forced: 503, as Patroni.',
          },
        ],
      },
      after: {
        nodeAnswer: {
          target: 'answered',
          actions: 'answerNoAnswer',
          description: 'The node machine did not answer (it is stopping): nothing was started, 503.',
        },
      },
    },
    answered: { type: 'final' },
  },
  output: ({ context }) => context.answer ?? { status: 503, text: 'no answer' },
});
