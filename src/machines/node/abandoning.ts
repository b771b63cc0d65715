/** How a failed bootstrap ends (see bootstrap in starting.ts): PostgreSQL stopped, /initialize given back. */
import { stopInput } from './facts.ts';
import { nodeSetup } from './setup.ts';

export const abandoning = nodeSetup.createStateConfig({
  description:
    'A failed bootstrap: PostgreSQL stopped (a primary nobody holds a lock for must not run on), then /initialize given back so another node may try.',
  initial: 'stoppingPostgres',
  states: {
    stoppingPostgres: {
      // The data directory stays (nothing is removed unasked): a restarted agent adopts it,
      // or refuses it if another node has bootstrapped the cluster meanwhile.
      invoke: {
        src: 'stopPostgres',
        input: stopInput('immediate'),
        onDone: {
          target: 'cancellingInitialization',
          description: 'Stopped (or never started): now /initialize may go back.',
        },
        onError: {
          target: 'cancellingInitialization',
          description:
            'Could not stop it: /initialize goes back all the same, and the agent exits saying why.',
        },
      },
    },
    cancellingInitialization: {
      invoke: {
        src: 'cancelInitialization',
        onDone: {
          target: '#node.failed',
          description: '/initialize is free again: exit, saying why the bootstrap failed.',
        },
        onError: {
          target: '#node.failed',
          description: '/initialize could not be given back either: exit all the same, with the first error.',
        },
      },
    },
  },
});
