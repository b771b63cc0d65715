/**
 * A REST request run as an actor of its own (a switchover, an edit of /config): started on the
 * node's clock and journal, resolved with the machine's output when it reaches its final state.
 */
import type { Actor, AnyStateMachine, OutputFrom } from 'xstate';

/**
 * Starts `actor` and resolves with its output, or `fallback` if it stopped or failed without one;
 * `ended` runs first, as the actor ends.
 */
export function answerOf<M extends AnyStateMachine>(
  actor: Actor<M>,
  fallback: (reason: string) => OutputFrom<M>,
  ended: () => void = () => {},
): Promise<OutputFrom<M>> {
  return new Promise((resolve) => {
    const finish = (answer: OutputFrom<M>) => {
      ended();
      resolve(answer);
    };
    actor.subscribe({
      complete: () =>
        finish((actor.getSnapshot() as { output?: OutputFrom<M> }).output ?? fallback('stopped')),
      error: (err) => finish(fallback(String(err))),
    });
    actor.start();
  });
}
