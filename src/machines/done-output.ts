/**
 * What an invoked actor's done event carries. XState types a guard's or action's event as the
 * machine's own events only, so a guard on `onDone` reads the output through this one cast.
 */
export function doneOutput<T>(event: unknown): T {
  return (event as { output: T }).output;
}
