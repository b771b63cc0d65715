/**
 * PostgreSQL's server parameters as this node gives them: which value of
 * synchronous_standby_names PostgreSQL should run with, when a change is only written for the
 * next start and when it is reloaded now, and where a value took effect and who has caught up
 * under it. Which standbys should be synchronous is the leader's decision (the leaderDuties
 * machine, src/machines/leader-duties.ts); this machine holds the value and gives it.
 *
 * Two rules carry the safety of synchronous mode, and both are transitions here:
 *   - until the first status sample, a change is written but not reloaded (`unsampled`,
 *     `reloadHeld`): a restarted agent must not empty the list of a synchronous primary it finds
 *     running, releasing commits that wait for a standby; the first sample adopts that value;
 *   - a node that is not the leader drops its synchronous standbys only once PostgreSQL no longer
 *     runs as a primary (`standbysToDrop`): emptying the list of a writable primary would
 *     acknowledge writes the new leader never received.
 *
 * The machine decides; the runtime (src/runtime/server-parameters.ts) carries out the one I/O
 * operation each decision names (`order`: write the configuration file, reload PostgreSQL, write
 * or delete /sync) and reports back (RELOADED, RELOAD_RETURNED). Every event is handled
 * synchronously, so a caller reads the order from the snapshot right after sending.
 */
import { assign, setup } from 'xstate';
import type { PostgresStatus } from '../cluster/postgres-state.ts';
import { intendSyncNames, noteSyncNamesInEffect, type SyncNamesInEffect } from '../cluster/sync.ts';

export type ServerParameterValues = Record<string, string | number | boolean>;

/** The one I/O operation the last event asks for. */
export type ParametersOrder =
  | { kind: 'none' }
  /** Into the configuration file only (read at the next start). */
  | { kind: 'write'; params: ServerParameterValues }
  /** Into the configuration file and a reload now; RELOADED{text} once it succeeded. */
  | { kind: 'reload'; params: ServerParameterValues; text: string };

export interface ServerParametersContext {
  /** The dynamic (/config) parameters merged with the local ones, but synchronous_standby_names. */
  dynamic: ServerParameterValues;
  /** synchronous_standby_names as this node sets it ('' unless it is the synchronous leader). */
  names: string;
  /** The parameters PostgreSQL was last given, as JSON (null: never; '': the next change reloads). */
  applied: string | null;
  /** Where `names` took effect and who has caught up under it (see cluster/sync.ts). */
  inEffect: SyncNamesInEffect | null;
  /**
   * Bumped when synchronous_standby_names is set and again when its reload has returned: only a
   * status sample begun after both shows what PostgreSQL does with the value (an older one, still
   * in flight, may show the same text from before an intermediate value).
   */
  epoch: number;
  /** The value PostgreSQL showed in the last sample begun after the last reload (undefined: none yet). */
  shown: string | undefined;
  order: ParametersOrder;
}

export type ServerParametersEvent =
  /** New dynamic parameters (/config changed, or the local file reloaded). */
  | { type: 'DYNAMIC'; parameters: ServerParameterValues }
  /** Give PostgreSQL the parameters: written, or reloaded when they changed since. */
  | { type: 'APPLY' }
  /** A reload carried out for `text` succeeded. */
  | { type: 'RELOADED'; text: string }
  /** A reload has returned (succeeded or not): samples begun before it are stale. */
  | { type: 'RELOAD_RETURNED' }
  /** A status sample's answer; `token` is the epoch when it began. */
  | { type: 'SAMPLED'; status: PostgresStatus; token: number }
  /** synchronous_standby_names becomes `value`, naming `names` (a promotion's '' or '*'). */
  | { type: 'SET_NAMES'; value: string; names: readonly string[] }
  /** A SIGHUP reload gives PostgreSQL the parameters as they are now. */
  | { type: 'SIGHUP' }
  /** PostgreSQL does not show the value set (a reload that did not take): the next APPLY reloads. */
  | { type: 'RELOAD_AGAIN' }
  /** Not the leader (any more): the synchronous standbys go once PostgreSQL is not writable. */
  | { type: 'NOT_LEADER'; status: PostgresStatus | null };

/** Everything PostgreSQL should run with. */
export function parametersOf(c: ServerParametersContext): ServerParameterValues {
  return { ...c.dynamic, synchronous_standby_names: c.names };
}

const NO_ORDER: ParametersOrder = { kind: 'none' };

/** The changes of a new synchronous_standby_names (see SyncNamesInEffect). */
function withNames(c: ServerParametersContext, value: string, names: readonly string[]) {
  return {
    names: value,
    inEffect: intendSyncNames(c.inEffect, value, names),
    epoch: c.epoch + 1,
    shown: undefined,
  };
}

/** What a sample begun in the current epoch notes (noteSample's changes; see sampleMatters). */
function noted(c: ServerParametersContext, status: PostgresStatus) {
  return {
    inEffect: noteSyncNamesInEffect(c.inEffect, status, c.names),
    shown: isWritable(status) ? (status.synchronousStandbyNames ?? '') : c.shown,
  };
}

/**
 * Whether a status sample can change anything (the runtime sends only those): before the first
 * sample every one does; after it, only one begun in the current epoch that notes something new.
 * A writable primary's samples are most of them, and once its value's effect is noted (and every
 * standby it can confirm has caught up) they note the same again.
 */
export function sampleMatters(
  snapshot: { context: ServerParametersContext; matches(state: 'sampled'): boolean },
  status: PostgresStatus,
  token: number,
): boolean {
  if (!snapshot.matches('sampled')) return true;
  const c = snapshot.context;
  if (token !== c.epoch) return false;
  const n = noted(c, status);
  return n.inEffect !== c.inEffect || n.shown !== c.shown;
}

/** Whether a NOT_LEADER can change anything: only while some standby is named. */
export function namesSomeone(c: ServerParametersContext): boolean {
  return c.names !== '';
}

const isWritable = (s: PostgresStatus | null): boolean => s?.running === true && !s.inRecovery;

export const serverParametersMachine = setup({
  types: {
    context: {} as ServerParametersContext,
    events: {} as ServerParametersEvent,
  },
  guards: {
    /** The parameters differ from what PostgreSQL was last given (and it was given some). */
    changedSinceGiven: ({ context }) =>
      context.applied !== null && JSON.stringify(parametersOf(context)) !== context.applied,
    /** The first sample shows a running postmaster: the held reload can be done. */
    postgresRunning: ({ event }) => event.type === 'SAMPLED' && event.status.running,
    /** Not the leader, still naming standbys, and PostgreSQL no longer writable. */
    standbysToDrop: ({ context, event }) =>
      event.type === 'NOT_LEADER' && namesSomeone(context) && !isWritable(event.status),
  },
  actions: {
    storeDynamic: assign({
      dynamic: ({ event }) => (event as { parameters: ServerParameterValues }).parameters,
    }),
    orderNothing: assign({ order: NO_ORDER }),
    /** Written for the next start; what PostgreSQL runs with is unchanged. */
    orderWrite: assign({ order: ({ context }) => ({ kind: 'write', params: parametersOf(context) }) }),
    /** Given as they are (first time, or unchanged): counted as applied at once. */
    giveAsTheyAre: assign(({ context }) => {
      const params = parametersOf(context);
      return { applied: JSON.stringify(params), order: { kind: 'write', params } as ParametersOrder };
    }),
    /** Reloadable parameters apply now; the rest show up as pending_restart. */
    orderReload: assign({
      order: ({ context }) => {
        const params = parametersOf(context);
        return { kind: 'reload', params, text: JSON.stringify(params) } as ParametersOrder;
      },
    }),
    /** Counted as applied only once the reload succeeded, so that the next change reloads again. */
    noteReloaded: assign({ applied: ({ event }) => (event as { text: string }).text }),
    /** The next APPLY reloads whatever the parameters are. */
    forgetApplied: assign({ applied: '' }),
    staleSamples: assign({ epoch: ({ context }) => context.epoch + 1, shown: undefined }),
    setNames: assign(({ context, event }) => {
      const e = event as { value: string; names: readonly string[] };
      return withNames(context, e.value, e.names);
    }),
    /** The first sample: a running primary keeps the synchronous standbys it has until we decide. */
    adoptRunning: assign(({ context, event }) => {
      const { status } = event as { status: PostgresStatus };
      return isWritable(status) ? withNames(context, status.synchronousStandbyNames ?? '', []) : {};
    }),
    /** A sample begun after the last change shows where the value took effect. */
    noteSample: assign(({ context, event }) => {
      const { status, token } = event as { status: PostgresStatus; token: number };
      return token === context.epoch ? noted(context, status) : {};
    }),
    giveSighup: assign({ applied: ({ context }) => JSON.stringify(parametersOf(context)) }),
    dropNames: assign(({ context }) => withNames(context, '', [])),
  },
}).createMachine({
  id: 'serverParameters',
  context: {
    dynamic: {},
    names: '',
    applied: null,
    inEffect: null,
    epoch: 0,
    shown: undefined,
    order: NO_ORDER,
  },
  on: {
    DYNAMIC: { actions: 'storeDynamic', description: 'Kept; given to PostgreSQL at the next APPLY.' },
    RELOADED: {
      actions: 'noteReloaded',
      description: 'Counted as given only now, so that a failed reload is tried again at the next change.',
    },
    RELOAD_RETURNED: {
      actions: 'staleSamples',
      description: 'Samples begun before the reload returned may show the value from before it.',
    },
    SET_NAMES: {
      actions: 'setNames',
      description: "A promotion's '' or '*' (or the leader's step): who has caught up is learnt again.",
    },
    SIGHUP: {
      actions: 'giveSighup',
      description: 'The SIGHUP reload gives PostgreSQL everything as it is now.',
    },
    RELOAD_AGAIN: {
      actions: 'forgetApplied',
      description:
        'PostgreSQL does not show the value set (a reload that did not take): the next APPLY reloads.',
    },
    NOT_LEADER: {
      guard: 'standbysToDrop',
      actions: 'dropNames',
      description: 'No longer the leader nor writable: nobody is waited for any more (never while writable).',
    },
  },
  initial: 'unsampled',
  states: {
    unsampled: {
      description:
        "No status sample yet: what the running postmaster has is unknown, so a change is written for the next start but not reloaded (a restarted agent must not empty a synchronous primary's list).",
      initial: 'nothingHeld',
      states: {
        nothingHeld: {
          on: {
            APPLY: [
              {
                guard: 'changedSinceGiven',
                target: 'reloadHeld',
                actions: 'orderWrite',
                description:
                  'Changed before anything is known of the running postmaster: written, reload held.',
              },
              { actions: 'giveAsTheyAre', description: 'The first parameters, or unchanged ones: written.' },
            ],
            SAMPLED: {
              target: '#serverParameters.sampled',
              actions: ['orderNothing', 'adoptRunning', 'noteSample'],
              description: "The first sample: a running primary's synchronous standbys are adopted.",
            },
          },
        },
        reloadHeld: {
          description:
            'A change was written before the first sample: reloaded once a sample shows PostgreSQL running.',
          on: {
            APPLY: [
              {
                guard: 'changedSinceGiven',
                actions: 'orderWrite',
                description: 'Still unsampled: written only.',
              },
              { actions: 'giveAsTheyAre', description: 'Unchanged: written.' },
            ],
            SAMPLED: [
              {
                guard: 'postgresRunning',
                target: '#serverParameters.sampled',
                actions: ['adoptRunning', 'forgetApplied', 'orderReload', 'noteSample'],
                description:
                  'Running: its synchronous standbys adopted first, then the held reload (with them).',
              },
              {
                target: '#serverParameters.sampled',
                actions: ['orderNothing', 'adoptRunning', 'noteSample'],
                description: 'Stopped: its next start reads the file; nothing to reload.',
              },
            ],
          },
        },
      },
    },
    sampled: {
      description: 'PostgreSQL has been seen: a change of the parameters is reloaded at once.',
      on: {
        APPLY: [
          {
            guard: 'changedSinceGiven',
            actions: 'orderReload',
            description: 'Reloadable parameters apply now; the rest show as pending_restart.',
          },
          { actions: 'giveAsTheyAre', description: 'Unchanged: written, nothing to reload.' },
        ],
        SAMPLED: {
          actions: ['orderNothing', 'noteSample'],
          description: 'A sample begun after the last change shows where the value took effect.',
        },
      },
    },
  },
});
