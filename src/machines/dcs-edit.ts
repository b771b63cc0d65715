/**
 * One plain edit of the DCS asked through the REST API (PATCH or PUT /config, DELETE
 * /switchover): a fresh read of the cluster, the plan Patroni's rules make of it (planEdit,
 * src/cluster/dcs-edits.ts), at most one write, and the answer the route sends as this machine's
 * output. The read and the write are invoked actors doing just that; the node's HA loop is woken
 * (an emitted `wake`) where Patroni's API runs it at once.
 */
import { assign, emit, setup } from 'xstate';
import {
  type DcsEdit,
  type EditAnswer,
  type EditPlan,
  planEdit,
  unreadableAnswer,
} from '../cluster/dcs-edits.ts';
import type { ClusterView } from '../cluster/view.ts';
import { doneOutput } from './done-output.ts';
import { notProvided } from './not-provided.ts';

export interface DcsEditInput {
  edit: DcsEdit;
}

export interface DcsEditContext extends DcsEditInput {
  plan: EditPlan | null;
  answer: EditAnswer | null;
}

/** The node should run its HA decisions now rather than at its next loop. */
export type DcsEditEmitted = { type: 'wake' };

export interface KeyWrite {
  key: 'config' | 'failover';
  value: Record<string, unknown>;
  index?: string;
}

const written = (c: DcsEditContext) => (c.plan?.kind === 'write' ? c.plan : null);

export const dcsEditMachine = setup({
  types: {
    context: {} as DcsEditContext,
    input: {} as DcsEditInput,
    emitted: {} as DcsEditEmitted,
    output: {} as EditAnswer,
  },
  // Provided by src/runtime/dcs-edits.ts (a test gives its own); each does one I/O step.
  actors: {
    /** A fresh read of the whole cluster (not the watch's cache). */
    readCluster: notProvided<ClusterView, void>(),
    /** One key written (compare-and-set when an index is given): false when etcd refused it. */
    writeKey: notProvided<boolean, KeyWrite | null>(),
  },
  guards: {
    /** The plan answers without writing anything, and wakes the HA loop. */
    answerAndWake: ({ context }) => context.plan?.kind === 'answer' && context.plan.wake,
    /** The plan answers without writing anything. */
    answerOnly: ({ context }) => context.plan?.kind === 'answer',
    /** etcd refused the write (another revision for a compare-and-set). */
    notWritten: ({ event }) => doneOutput<boolean>(event) !== true,
    /** The plan wakes the HA loop once written. */
    wakeWhenWritten: ({ context }) => written(context)?.wake === true,
  },
  actions: {
    storePlan: assign({
      plan: ({ context, event }) => planEdit(doneOutput<ClusterView>(event), context.edit),
    }),
    answerUnreadable: assign({ answer: ({ context }) => unreadableAnswer(context.edit) }),
    answerPlanned: assign({
      answer: ({ context }) => (context.plan?.kind === 'answer' ? context.plan.answer : null),
    }),
    answerWritten: assign({ answer: ({ context }) => written(context)?.written ?? null }),
    answerRefused: assign({ answer: ({ context }) => written(context)?.refused ?? null }),
    answerFailed: assign({ answer: ({ context }) => written(context)?.failed ?? null }),
    wakeNode: emit({ type: 'wake' } as const),
  },
}).createMachine({
  id: 'dcsEdit',
  description: 'One REST edit of /config or /failover, from a fresh read to its answer.',
  context: ({ input }) => ({ ...input, plan: null, answer: null }),
  initial: 'readingCluster',
  states: {
    readingCluster: {
      description: 'A fresh read: the edit is judged (and compared-and-set) against what etcd holds now.',
      invoke: {
        src: 'readCluster',
        onDone: {
          target: 'planned',
          actions: 'storePlan',
          description: 'Make the plan from what etcd holds.',
        },
        onError: {
          target: 'answered',
          actions: 'answerUnreadable',
          description: 'Without a view of the cluster nothing can be judged or written: 503.',
        },
      },
    },
    planned: {
      always: [
        {
          guard: 'answerAndWake',
          target: 'answered',
          actions: ['answerPlanned', 'wakeNode'],
          description: 'PATCH changed nothing: answer the configuration, and still run the loop (Patroni).',
        },
        {
          guard: 'answerOnly',
          target: 'answered',
          actions: 'answerPlanned',
          description: 'Nothing to write (no /config, unchanged, no scheduled switchover): answer now.',
        },
        { target: 'writing', description: 'One key to write.' },
      ],
    },
    writing: {
      description: 'The one write of the plan, compare-and-set where Patroni does it.',
      invoke: {
        src: 'writeKey',
        // Only a write plan leads here; null would make the actor fail, never write.
        input: ({ context }) => {
          const plan = written(context);
          return plan && { key: plan.key, value: plan.value, index: plan.index };
        },
        onDone: [
          {
            guard: 'notWritten',
            target: 'answered',
            actions: 'answerRefused',
            description: 'etcd refused it (someone wrote first): nothing changed, say so.',
          },
          {
            guard: 'wakeWhenWritten',
            target: 'answered',
            actions: ['answerWritten', 'wakeNode'],
            description: 'Written: the nodes apply it; this one runs its loop now.',
          },
          { target: 'answered', actions: 'answerWritten', description: 'Written: answer.' },
        ],
        onError: {
          target: 'answered',
          actions: 'answerFailed',
          description: 'The write failed (etcd unreachable): nothing is known to have changed.',
        },
      },
    },
    answered: { type: 'final' },
  },
  output: ({ context }) => context.answer ?? { status: 503, text: 'no answer' },
});
