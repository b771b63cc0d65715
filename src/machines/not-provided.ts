/**
 * The stand-in a machine declares for each I/O actor in its setup(): the runtime (src/runtime/)
 * provides the real one, a test its own. Invoked without being provided, it fails loudly.
 */
import { fromPromise } from 'xstate';

export const notProvided = <T, I>() =>
  fromPromise<T, I>(async () => {
    throw new Error('actor not provided');
  });
